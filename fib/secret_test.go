package fib_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
)

// keyForms are the ways testKey could leak: raw, hex either case, base64
// (what encoding/json does to []byte), fmt's decimal byte list, and a
// 4-byte run of each (a key printed in part is still a leak).
func keyForms() []string {
	forms := []string{string(testKey), string(testKey[:4])}
	for _, k := range [][]byte{testKey, testKey[:4], testKey[len(testKey)-4:]} {
		h := hex.EncodeToString(k)
		forms = append(forms, h, strings.ToUpper(h), fmt.Sprintf("% x", k))
		forms = append(forms, fmt.Sprint(k)[1:len(fmt.Sprint(k))-1])
	}
	forms = append(forms, base64.StdEncoding.EncodeToString(testKey), base64.RawURLEncoding.EncodeToString(testKey)[:8])
	return forms
}

func checkNoKey(t *testing.T, what, out string) {
	t.Helper()
	for _, f := range keyForms() {
		if strings.Contains(out, f) {
			t.Errorf("%s leaks the key (as %q):\n%s", what, f, out)
		}
	}
}

// TestSecrets prints everything that holds an SA every way the standard
// library can, and through the fake and the reconciler's logs, and looks
// for the key in the output.
func TestSecrets(t *testing.T) {
	s := twoVRFs()
	tun := s.Tunnels[addr("10.0.0.2")]
	p := tun.Out
	values := map[string]any{
		"*State": s, "State": *s, "*Tunnel": tun, "Tunnel": *tun,
		"*SAParams": p, "SAParams": *p, "[]SAParams": []fib.SAParams{*p},
		"map": map[string]*fib.SAParams{"out": p}, "Config": fib.Config{Tunnels: []fib.Tunnel{*tun}},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			checkNoKey(t, name+" "+verb, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json %s: %v", name, err)
		}
		checkNoKey(t, name+" json", string(b))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("x", "v", v)
		checkNoKey(t, name+" slog text", text.String())
		checkNoKey(t, name+" slog json", js.String())
	}
	if got := fmt.Sprint(*p); got != "aes128gcm16 spi 0x00001001" {
		t.Errorf("SAParams prints as %q", got)
	}

	// The fake's lines and diffs, and everything the reconciler logs
	// while building, applying and failing.
	checkNoKey(t, "fake.Lines", strings.Join(fake.Lines(s), "\n"))
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, fb := startReconciler(t, fib.Options{Logger: log})
	fb.FailAfter(2, fmt.Errorf("apply %v", p))
	r.SetConfig(pe1Config())
	_ = r.Flush(context.Background())
	r.SetConfig(fib.Config{})
	flush(t, r)
	checkNoKey(t, "fake diffs", fmt.Sprint(fb.Diffs()))
	checkNoKey(t, "reconciler logs", logs.String())
	checkNoKey(t, "reconciler State", fmt.Sprintf("%+v", r.State()))
	if !strings.Contains(logs.String(), "spi 0x00001001") {
		t.Errorf("the failing Apply was not logged:\n%s", logs.String())
	}
}
