package config

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// testSigner is a private key whose only field is the test key bytes, so
// leaks finds them if a PrivateKey ever prints what it holds.
type testSigner struct{ b []byte }

func (s testSigner) Public() crypto.PublicKey                                  { return nil }
func (s testSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return s.b, nil }

const (
	testSecret = "Tr0ub4dor-secret"
	testKeyHex = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// leaks reports whether out shows the secret or the key in any common
// encoding: as text, hex, decimal bytes, or quoted.
func leaks(out string, key []byte) bool {
	forms := []string{testSecret, fmt.Sprintf("%x", testSecret), fmt.Sprintf("%X", testSecret), fmt.Sprintf("%x", key), fmt.Sprintf("%X", key),
		fmt.Sprintf("%d", []byte(testSecret)[:4]), strings.Trim(fmt.Sprint(key[:4]), "[]"), "Tr0ub"}
	for _, f := range forms {
		if strings.Contains(out, strings.Trim(f, "[]")) {
			return true
		}
	}
	return false
}

// TestSecretsRedactEveryVerb prints a Secret and a Key with every fmt verb
// and flag, alone and inside structs (exported and unexported fields,
// values and pointers), and through JSON and slog.
func TestSecretsRedactEveryVerb(t *testing.T) {
	key := []byte{0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90}
	s, k := NewSecret(testSecret), NewKey(append([]byte(nil), key...))
	type exported struct {
		S Secret
		K Key
	}
	type unexported struct {
		s Secret
		k Key
	}
	values := map[string]any{
		"Secret": s, "*Secret": &s, "Key": k, "*Key": &k,
		"exported": exported{s, k}, "*exported": &exported{s, k},
		"unexported": unexported{s, k}, "[]Secret": []Secret{s}, "map": map[string]Key{"k": k},
		"SA": SA{SPI: 256, Key: k}, "Neighbor": Neighbor{Password: s},
		"IKEPeer": IKEPeer{PSK: s, Auth: AuthCert, Cert: &ikeparam.CertAuth{Key: ikeparam.NewPrivateKey(testSigner{key})}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%o", "%b", "%c", "%U", "%t", "%e", "%T", "%p", "%10.3s", "%-20v", "%08d"}
	for name, v := range values {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, v); leaks(out, key) {
				t.Errorf("%s with %s: %s", name, verb, out)
			}
		}
		if out := fmt.Sprint(v) + fmt.Sprintln(v); leaks(out, key) {
			t.Errorf("%s with Sprint: %s", name, out)
		}
		if b, err := json.Marshal(v); err == nil && leaks(string(b), key) {
			t.Errorf("%s as JSON: %s", name, b)
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v, slog.Any("a", v))
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v, slog.Any("a", v))
		if leaks(text.String()+js.String(), key) {
			t.Errorf("%s through slog: %s%s", name, text.String(), js.String())
		}
	}
	if s.Reveal() != testSecret || !bytes.Equal(k.Bytes(), key) {
		t.Errorf("Reveal/Bytes lost the value")
	}
	if got := fmt.Sprintf("%v %s %#v %q", s, k, s, k); got != `<redacted> <redacted> config.Secret{"<redacted>"} "<redacted>"` {
		t.Errorf("redacted forms: %s", got)
	}
	if b, _ := json.Marshal(exported{s, k}); string(b) != `{"S":"\u003credacted\u003e","K":"\u003credacted\u003e"}` {
		t.Errorf("JSON: %s", b)
	}
	if (Secret{}).IsSet() || NewSecret("").IsSet() || fmt.Sprint(Secret{}, Key{}) != " " {
		t.Errorf("unset secrets: IsSet %v, print %q", NewSecret("").IsSet(), fmt.Sprint(Secret{}, Key{}))
	}
}
