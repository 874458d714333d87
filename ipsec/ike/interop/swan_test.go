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
)

// swan is a charon-systemd in its own namespace, driven with swanctl over
// its vici socket (docs/LABS.md says how it starts and what its conf needs).
type swan struct {
	node *netns.Node
	dir  string
	uri  string
}

func requireStrongSwan(t *testing.T) {
	t.Helper()
	need := []struct{ path, pkg string }{
		{"/usr/sbin/charon-systemd", "charon-systemd"},
		{"/usr/sbin/swanctl", "strongswan-swanctl"},
		{"/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"},
		{"/usr/lib/ipsec/plugins/libstrongswan-curve25519.so", "libstrongswan-extra-plugins"},
		{"/usr/lib/ipsec/plugins/libstrongswan-chapoly.so", "libstrongswan-extra-plugins"},
		{"/usr/lib/ipsec/plugins/libstrongswan-openssl.so", "libstrongswan-standard-plugins"},
	}
	for _, n := range need {
		if _, err := os.Stat(n.path); err != nil {
			t.Skipf("strongSwan interop needs %s (apt-get install %s)", n.path, n.pkg)
		}
	}
}

// setup builds the topology and starts charon in sw.
func setup(t *testing.T) (*netns.Lab, *swan, *netns.Node) {
	return setupWith(t, "")
}

// setupWith is setup with extra lines for strongswan.conf's charon
// section (one setting per line ending in a newline).
func setupWith(t *testing.T, charonExtra string) (*netns.Lab, *swan, *netns.Node) {
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
	s := &swan{node: sw, dir: filepath.Join(lab.Dir(), "sw")}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.uri = "unix://" + filepath.Join(s.dir, "charon.vici")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- charon.log ---\n%s", s.log())
		}
	})
	conf := fmt.Sprintf(`charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly gmp curve25519 kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici updown
  retransmit_tries = 3
%s  plugins {
    vici {
      socket = %s
    }
  }
  filelog {
    swanlog {
      path = %s
      default = 1
      ike = 2
      cfg = 2
      flush_line = yes
    }
  }
}
charon-systemd {
  journal {
    default = -1
  }
}
`, charonExtra, s.uri, filepath.Join(s.dir, "charon.log"))
	writeFile(t, filepath.Join(s.dir, "strongswan.conf"), conf)
	if _, err := sw.StartCommand(netns.Command{Path: "/usr/sbin/charon-systemd",
		Env: []string{"STRONGSWAN_CONF=" + filepath.Join(s.dir, "strongswan.conf")}, LogName: "charon"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := s.swanctl("--stats")
		return err
	})
	return lab, s, pe
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *swan) swanctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := s.node.Exec(ctx, append(append([]string{"/usr/sbin/swanctl"}, args...), "--uri", s.uri)...)
	return string(out), err
}

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
        esp_proposals = %s
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
`, swAddr, peAddr, ikeProp, swAddr, peAddr, espProp, swAddr, peAddr, psk)
	conf = strings.NewReplacer("@CONN@\n", connExtra, "@CHILD@\n", childExtra).Replace(conf)
	p := filepath.Join(s.dir, "swanctl.conf")
	writeFile(t, p, conf)
	if out, err := s.swanctl("--load-all", "--clear", "--noprompt", "--file", p); err != nil {
		t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
}

func (s *swan) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "charon.log"))
	return string(b)
}

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
