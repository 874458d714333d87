package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestOutboundSAs: the outbound SAs of a /v1/ipsec/sa document served on
// a unix socket, sorted by SPI, inbound ones left out.
func TestOutboundSAs(t *testing.T) {
	doc, err := os.ReadFile("testdata/ipsec-sa-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "p.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/ipsec/sa" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(doc)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	sas, err := outboundSAs(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describeSAs(sas), "0x1100=120000 0x1101=170000"; got != want {
		t.Errorf("describeSAs = %q, want %q", got, want)
	}
	if _, err := outboundSAs(context.Background(), filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Error("no error without a daemon")
	}
}

// TestParseOutboundSAsRejects: what is not the SA document is an error.
func TestParseOutboundSAsRejects(t *testing.T) {
	for _, bad := range []string{"", "{}", `[{"spi":"x"}]`, `[{"spi":-1}]`} {
		if sas, err := parseOutboundSAs([]byte(bad)); err == nil {
			t.Errorf("%q: %v, want an error", bad, sas)
		}
	}
}
