package interop

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// swan is a charon-systemd in its own namespace (peers.Charon), driven
// with swanctl over its vici socket (docs/LABS.md says how it starts and
// what its conf needs).
type swan struct {
	*peers.Charon
	node *netns.Node
	dir  string
	uri  string
}

func requireStrongSwan(t *testing.T) {
	t.Helper()
	if missing := peers.CharonMissing(); missing != "" {
		t.Skipf("strongSwan interop needs %s", missing)
	}
}

// setup builds the topology and starts charon in sw.
func setup(t *testing.T) (*netns.Lab, *swan, *netns.Node) {
	return setupWith(t, "")
}

// setupWith is setup with extra lines for strongswan.conf's charon
// section (one setting per line ending in a newline).
func setupWith(t *testing.T, charonExtra string) (*netns.Lab, *swan, *netns.Node) {
	return setupCharon(t, peers.CharonConfig{Extra: charonExtra})
}

// setupCharon is setup with charon configured by cfg (its Dir is set
// here).
func setupCharon(t *testing.T, cfg peers.CharonConfig) (*netns.Lab, *swan, *netns.Node) {
	requireStrongSwan(t)
	lab := netns.NewLab(t)
	sw, err := lab.AddNode("sw")
	if err != nil {
		t.Fatal(err)
	}
	pe, err := lab.AddNode("pe")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(sw, "sw0", pe, "pe0"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		n   *netns.Node
		dev string
		p   string
	}{{sw, "sw0", "192.0.2.1/24"}, {pe, "pe0", "192.0.2.2/24"}, {sw, "lo", "10.1.0.1/32"}} {
		if err := a.n.AddAddr(a.dev, netip.MustParsePrefix(a.p)); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(lab.Dir(), "sw")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "charon.log"))
			t.Logf("--- charon.log ---\n%s", b)
		}
	})
	cfg.Dir = dir
	c, err := peers.StartCharon(context.Background(), sw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lab, &swan{Charon: c, node: sw, dir: dir, uri: c.URI}, pe
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *swan) swanctl(args ...string) (string, error) { return s.Swanctl(args...) }

// load writes swanctl.conf with psk and loads it, replacing what was
// loaded before.
func (s *swan) load(t *testing.T, psk string) {
	t.Helper()
	s.loadWith(t, psk, "aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519")
}

// loadWith is load with other IKE and ESP proposals (swanctl syntax).
func (s *swan) loadWith(t *testing.T, psk, ikeProp, espProp string) {
	t.Helper()
	s.loadExtra(t, psk, ikeProp, espProp, "", "")
}

// loadExtra is loadWith with extra lines for the connection and for its
// child (swanctl.conf syntax, one setting per line ending in a newline,
// e.g. "rekey_time = 0\n").
func (s *swan) loadExtra(t *testing.T, psk, ikeProp, espProp, connExtra, childExtra string) {
	t.Helper()
	if err := s.Load(swanConf(psk, ikeProp, "esp_proposals = "+espProp, connExtra, childExtra)); err != nil {
		t.Fatal(err)
	}
}

// swanConf is loadExtra's swanctl.conf with the child's proposal line
// given whole ("esp_proposals = ..." or "ah_proposals = ...").
func swanConf(psk, ikeProp, childProps, connExtra, childExtra string) string {
	conf := fmt.Sprintf(`connections {
  pe {
    version = 2
    local_addrs = %s
    remote_addrs = %s
    proposals = %s
@CONN@
    local {
      auth = psk
      id = %s
    }
    remote {
      auth = psk
      id = %s
    }
    children {
      net {
        local_ts = 10.1.0.0/24
        remote_ts = 10.2.0.0/24
        %s
        start_action = none
@CHILD@
      }
    }
  }
}
secrets {
  ike-pe {
    id-1 = %s
    id-2 = %s
    secret = "%s"
  }
}
`, swAddr, peAddr, ikeProp, swAddr, peAddr, childProps, swAddr, peAddr, psk)
	return strings.NewReplacer("@CONN@\n", connExtra, "@CHILD@\n", childExtra).Replace(conf)
}

func (s *swan) log() string { return s.Log() }

func eventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
