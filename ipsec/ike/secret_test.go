package ike

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// verbs are every fmt verb a caller could aim at a secret, with flags.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%o", "%O", "%b", "%c", "%U", "%e", "%t", "%p", "%T", "%10.3v", "%-8s", "%08x"}

// leaks reports how out shows secret, if it does: the bytes themselves,
// or the secret formatted by verb (as a byte slice or string, brackets
// and quotes stripped), which is how %d or %x would spell it.
func leaks(out string, secret []byte, verb string) string {
	if bytes.Contains([]byte(out), secret) {
		return "raw"
	}
	if verb == "%p" {
		verb = "%v" // %p of a byte slice is its address, no secret
	}
	for _, f := range []string{fmt.Sprintf(verb, secret), fmt.Sprintf(verb, string(secret)), fmt.Sprintf("% x", secret), fmt.Sprintf("%x", secret)} {
		f = strings.Trim(f, `[]"' `)
		if len(f) >= 8 && strings.Contains(out, f[:len(f)/2]) {
			return "as " + f
		}
	}
	return ""
}

func TestSecretsRedactedEveryVerb(t *testing.T) {
	secret := []byte("super secret value")
	in, out := []byte("child key inbound 1234"), []byte("child key outbound 567")
	k := NewPSK(secret)
	pc := PeerConfig{Name: "x", PSK: k}
	c := childWithKeys(in, out)
	values := map[string]any{"PSK": k, "*PSK": &k, "PeerConfig": pc, "*PeerConfig": &pc, "ChildSA": c, "*ChildSA": &c, "Event": Event{Child: c}}
	for name, v := range values {
		for _, verb := range verbs {
			s := fmt.Sprintf(verb, v)
			for _, sec := range [][]byte{secret, in, out} {
				if how := leaks(s, sec, verb); how != "" {
					t.Errorf("%s with %s leaks %q (%s): %s", name, verb, sec, how, s)
				}
			}
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Errorf("%s: json: %v", name, err)
		}
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "v", v)
		for _, sec := range [][]byte{secret, in, out} {
			for what, s := range map[string]string{"json": string(j), "slog": logs.String()} {
				if how := leaks(s, sec, "%v"); how != "" || strings.Contains(s, b64(sec)[:12]) {
					t.Errorf("%s in %s leaks %q (%s): %s", name, what, sec, how, s)
				}
			}
		}
	}
	if string(k.Bytes()) != string(secret) {
		t.Fatal("PSK.Bytes")
	}
}

func b64(b []byte) string { j, _ := json.Marshal(b); return strings.Trim(string(j), `"`) }

func childWithKeys(in, out []byte) ChildSA {
	return ChildSA{Peer: "p", Cipher: esp.AES128GCM16, InKey: NewKeyMaterial(in), OutKey: NewKeyMaterial(out)}
}

func allZero(bs ...[]byte) bool {
	for _, b := range bs {
		for _, x := range b {
			if x != 0 {
				return false
			}
		}
	}
	return true
}

// Deleting a child SA wipes its keys in the engine; deleting the IKE SA
// wipes SK_d, SK_e and SK_p. The events' copies are the caller's and
// stay intact.
func TestKeysWipedWhenSAsGo(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	a, _ := p.up()
	sa := p.a.sas[p.a.SAs()[0].SPIi]
	c := sa.children[0]
	in, out := c.inKey, c.outKey
	k := sa.keys
	if allZero(in) || allZero(out) || allZero(k.d, k.ei, k.er, k.pi, k.pr) {
		t.Fatal("keys are zero while the SAs live")
	}
	if err := p.a.DeleteChild(a.InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	if !allZero(in, out) {
		t.Fatalf("child keys not wiped after the child SA was deleted")
	}
	if allZero(a.InKey.Bytes()) || allZero(lastChild(t, p.evA, ChildDown).OutKey.Bytes()) {
		t.Fatal("the events' copies of the keys were wiped too")
	}
	if err := p.a.Delete("b"); err != nil {
		t.Fatal(err)
	}
	p.run()
	if len(p.a.SAs()) != 0 || len(p.b.SAs()) != 0 {
		t.Fatal("IKE SA not deleted")
	}
	for name, b := range map[string][]byte{"SK_d": k.d, "SK_ei": k.ei, "SK_er": k.er, "SK_pi": k.pi, "SK_pr": k.pr} {
		if !allZero(b) {
			t.Errorf("%s not wiped after the IKE SA was deleted", name)
		}
	}
}
