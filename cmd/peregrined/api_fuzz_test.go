package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/bgpconfig"
	"github.com/peregrine-net/peregrine/config"
)

const fuzzSecret = "Fuzz-Md5-Secret-77"

// FuzzLocalAPIRequest feeds raw HTTP requests, as a client could write them
// on the control socket, through net/http's request parser and the API's
// handlers over a live speaker (a VRF, a neighbor with an MD5 password, no
// dataplane). Whatever the request: no panic, a status the API documents,
// a JSON body where the API wrote one, and never the password.
func FuzzLocalAPIRequest(f *testing.F) {
	for _, target := range []string{
		"/v1/bgp/neighbors", "/v1/vrfs", "/v1/vrfs/red/routes", "/v1/vrfs/nope/routes",
		"/v1/vrfs/%72ed/routes", "/v1/vrfs/../vrfs", "/v1/bgp/vpnv4", "/v1/bgp/vpnv6?vrf=red",
		"/v1/bgp/vpnv4?vrf=%00", "/v1/bgp/ipv9", "/v1/mpls", "/v1/ipsec/sa", "/v1/interfaces", "/v1/dataplane", "//v1/vrfs", "*",
		"/v1/bgp/vrfs/red/neighbors", "/v1/bgp/vrfs/nope/neighbors", "/v1/bgp/vrfs/red/paths?family=ipv6",
		"/v1/bgp/vrfs/red/paths?family=%00", "/v1/bgp/vrfs/%2F/paths",
	} {
		f.Add([]byte("GET " + target + " HTTP/1.1\r\nHost: peregrined\r\n\r\n"))
	}
	f.Add([]byte("POST /v1/vrfs HTTP/1.1\r\nHost: peregrined\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("GET /v1/vrfs HTTP/1.1\r\nHost: peregrined\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))

	f.Setenv("PG_FUZZ_MD5", fuzzSecret)
	cfg, err := config.Parse([]byte(`
router: {id: 192.0.2.1, asn: 65000}
dataplane: {backend: none}
state: {directory: ` + f.TempDir() + `}
bgp:
  listen-port: 0
  neighbors: [{address: 127.0.0.9, asn: 65000, password-env: PG_FUZZ_MD5, connect-retry: 60s}]
vrfs:
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}]}
`))
	if err != nil {
		f.Fatal(err)
	}
	events := make(chan bgp.Event, 64)
	go func() {
		for range events {
		}
	}()
	sp, err := bgp.Start(context.Background(), bgpconfig.Translate(cfg), slog.New(slog.DiscardHandler), events)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(sp.Stop)
	h := (&apiServer{speaker: sp, ce: sp, log: slog.New(slog.DiscardHandler)}).handler()

	documented := map[int]bool{http.StatusOK: true, http.StatusMovedPermanently: true, http.StatusTemporaryRedirect: true,
		http.StatusPermanentRedirect: true, http.StatusBadRequest: true, http.StatusNotFound: true,
		http.StatusMethodNotAllowed: true, http.StatusServiceUnavailable: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http refuses it before any handler runs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !documented[rec.Code] {
			t.Fatalf("%q: status %d\n%s", raw, rec.Code, body)
		}
		if strings.Contains(body, fuzzSecret) || strings.Contains(rec.Header().Get("Location"), fuzzSecret) {
			t.Fatalf("%q: the answer shows the password", raw)
		}
		if rec.Header().Get("Content-Type") == "application/json" && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q: status %d with a body that is not JSON:\n%s", raw, rec.Code, body)
		}
	})
}
