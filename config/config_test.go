package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const minimal = `
router:
  id: 192.0.2.1
  asn: 65000
`

func TestParseMinimalTakesDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Router = Router{ID: netip.MustParseAddr("192.0.2.1"), ASN: 65000}
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("got %+v\nwant %+v", *cfg, want)
	}
}

func TestParseFull(t *testing.T) {
	cfg, err := Parse([]byte(`
router: {id: 10.0.0.1, asn: 4200000000}
log: {level: debug, format: json}
mpls: {label-min: 16, label-max: 1048575, ttl-mode: pipe}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Router.ASN != 4200000000 || cfg.Log.Format != "json" || cfg.MPLS.LabelMax != 1048575 || cfg.MPLS.TTLMode != "pipe" {
		t.Errorf("got %+v", *cfg)
	}
}

// TestBadConfigs is the table of wrong files: each must fail with the
// field's path and the bad value in the message, and never panic.
func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error, path and value
	}{
		{"unknown top-level key", minimal + "bgpp: {asn: 1}\n", []string{"bgpp: unknown key"}},
		{"unknown key with no value", minimal + "bgpp:\n", []string{"bgpp: unknown key"}},
		{"unknown nested key", minimal + "log:\n  levle: debug\n", []string{"log.levle: unknown key", "known: format, level"}},
		{"asn too big", "router: {id: 192.0.2.1, asn: 99999999999}", []string{"router.asn: 99999999999: out of range"}},
		{"asn negative", "router: {id: 192.0.2.1, asn: -1}", []string{"router.asn: -1: must not be negative"}},
		{"asn zero", "router: {id: 192.0.2.1, asn: 0}", []string{"router.asn: required"}},
		{"asn text", "router: {id: 192.0.2.1, asn: sixty}", []string{`router.asn: "sixty": want a whole number`}},
		{"router id not an address", "router: {id: 192.0.2.x, asn: 1}", []string{`router.id: "192.0.2.x"`}},
		{"router id IPv6", "router: {id: '2001:db8::1', asn: 1}", []string{"router.id: 2001:db8::1: must be an IPv4 address"}},
		{"router id missing", "router: {asn: 1}", []string{"router.id: required"}},
		{"log level", minimal + "log: {level: loud}", []string{`log.level: "loud": want debug, info, warn or error`}},
		{"log not a mapping", minimal + "log: 3", []string{"log: 3: want a mapping"}},
		{"reserved label", minimal + "mpls: {label-min: 3}", []string{"mpls.label-min: 3: must be 16..1048575"}},
		{"label over 20 bits", minimal + "mpls: {label-max: 1048576}", []string{"mpls.label-max: 1048576: must be 16..1048575"}},
		{"label range inverted", minimal + "mpls: {label-min: 5000, label-max: 4000}", []string{"mpls.label-max: 4000: must not be below mpls.label-min (5000)"}},
		{"ttl mode", minimal + "mpls: {ttl-mode: short}", []string{`mpls.ttl-mode: "short": want uniform or pipe`}},
		{"metrics no port", minimal + "metrics: {listen: 127.0.0.1}", []string{`metrics.listen: "127.0.0.1": want HOST:PORT`}},
		{"metrics port zero", minimal + "metrics: {listen: '127.0.0.1:0'}", []string{`metrics.listen: "127.0.0.1:0": want HOST:PORT`}},
		{"kernel-esp", minimal + "dataplane: {kernel-esp: on}", []string{`dataplane.kernel-esp: "on": want auto or off`}},
		{"metrics host name", minimal + "metrics: {listen: 'localhost:9963'}", []string{`metrics.listen: "localhost:9963": the host must be an IP address`}},
		{"not yaml", "router: [", []string{"not valid YAML"}},
		{"several errors at once", "router: {id: x, asn: -1}\nfoo: 1", []string{"router.id", "router.asn", "foo: unknown key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestFieldErrorsAreReachable(t *testing.T) {
	_, err := Parse([]byte("router: {id: 192.0.2.1, asn: 70000000000}"))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As found no FieldError in %v", err)
	}
	if fe.Path != "router.asn" || fe.Value != "70000000000" {
		t.Errorf("got path %q value %q", fe.Path, fe.Value)
	}
}

func TestLoadMissingFileIsNotInvalid(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error that is not ErrInvalid", err)
	}
}

// TestExampleConfigs keeps the shipped examples loadable.
func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("../containerlab/*/*.yml")
	var n int
	for _, f := range files {
		if strings.HasSuffix(f, ".clab.yml") {
			continue
		}
		n++
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if n == 0 {
		t.Fatal("no example configs found under containerlab/")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("router: {id: 192.0.2.1, asn: 99999999999}\nmpls: {label-min: 3}"))
	f.Add([]byte("log: [1, 2]\nrouter: {id: [x]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err == nil {
			if errs := cfg.Validate(); len(errs) > 0 {
				t.Fatalf("Parse accepted a config that Validate rejects: %v", errs)
			}
		}
	})
}

func TestControlSocketGroup(t *testing.T) {
	base := "router: {id: 192.0.2.1, asn: 65000}\n"
	cfg, err := Parse([]byte(base))
	if err != nil || cfg.Control.SocketGID != -1 {
		t.Fatalf("no socket-group: gid %v, %v", cfg.Control.SocketGID, err)
	}
	for _, g := range []string{"root", "0"} {
		cfg, err := Parse([]byte(base + "control: {socket-group: '" + g + "'}\n"))
		if err != nil || cfg.Control.SocketGID != 0 {
			t.Errorf("socket-group %s: gid %v, %v", g, cfg, err)
		}
	}
	for _, g := range []string{"no-such-group-peregrine", "4242424"} {
		_, err := Parse([]byte(base + "control: {socket-group: '" + g + "'}\n"))
		if want := `control.socket-group: "` + g + `": no such group`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("socket-group %s: %v, want %q", g, err, want)
		}
	}
}
