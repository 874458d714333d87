package peers

// strongSwan's charon-systemd in a lab node, driven with swanctl over its
// vici socket: the IKEv2 peer the IKE interop tests and the attachment
// labs use (PEERS.md). It runs in the foreground under the lab's
// supervision, reads the strongswan.conf written here (STRONGSWAN_CONF),
// logs to charon.log in its directory, and uses kernel-libipsec, so its
// ESP always travels in UDP 4500 (a fake NAT) and no XFRM state is needed.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// CharonPlugins are the plugins charon loads unless CharonConfig says
// otherwise: enough for AEADs, AES-CBC with HMAC-SHA2, X25519, ECP and
// MODP groups, certificates (x509, pem, pkcs1, pubkey) and vici.
const CharonPlugins = "random nonce openssl aes sha1 sha2 hmac gcm chapoly gmp curve25519 kdf pem pkcs1 x509 pubkey " +
	"kernel-libipsec kernel-netlink socket-default vici updown"

// CharonNeeds are the files charon needs here, with their Debian
// packages: a test skips without them.
var CharonNeeds = []struct{ Path, Package string }{
	{"/usr/sbin/charon-systemd", "charon-systemd"},
	{"/usr/sbin/swanctl", "strongswan-swanctl"},
	{"/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-curve25519.so", "libstrongswan-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-chapoly.so", "libstrongswan-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-openssl.so", "libstrongswan-standard-plugins"},
}

// CharonMissing names the first of CharonNeeds that is missing and its
// package, or returns "".
func CharonMissing() string {
	for _, n := range CharonNeeds {
		if _, err := os.Stat(n.Path); err != nil {
			return fmt.Sprintf("%s (apt-get install %s)", n.Path, n.Package)
		}
	}
	return ""
}

// CharonConfig is how a Charon starts.
type CharonConfig struct {
	// Dir holds strongswan.conf, the vici socket, charon.log and
	// swanctl.conf; created if missing.
	Dir string
	// Plugins default to CharonPlugins.
	Plugins string
	// Extra are lines for strongswan.conf's charon section, one setting
	// per line ending in a newline.
	Extra string
	// ChildLogLevel is the chd log level; 4 logs child SAs' keys (a
	// test that seals with one needs it). Default 1.
	ChildLogLevel int
}

// Charon is a running charon-systemd.
type Charon struct {
	Node *netns.Node
	Dir  string
	// URI is the vici socket, for swanctl --uri.
	URI string
}

// StartCharon starts charon in node and waits until swanctl reaches it.
func StartCharon(ctx context.Context, node *netns.Node, cfg CharonConfig) (*Charon, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	c := &Charon{Node: node, Dir: cfg.Dir, URI: "unix://" + filepath.Join(cfg.Dir, "charon.vici")}
	if cfg.Plugins == "" {
		cfg.Plugins = CharonPlugins
	}
	if cfg.ChildLogLevel == 0 {
		cfg.ChildLogLevel = 1
	}
	conf := fmt.Sprintf(`charon {
  load = %s
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
      chd = %d
      flush_line = yes
    }
  }
}
charon-systemd {
  journal {
    default = -1
  }
}
`, cfg.Plugins, cfg.Extra, c.URI, c.LogPath(), cfg.ChildLogLevel)
	p := filepath.Join(cfg.Dir, "strongswan.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if _, err := node.StartCommand(netns.Command{Path: "/usr/sbin/charon-systemd",
		Env: []string{"STRONGSWAN_CONF=" + p}, LogName: "charon"}); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := Eventually(wctx, func(context.Context) error {
		_, err := c.Swanctl("--stats")
		return err
	}); err != nil {
		return nil, fmt.Errorf("charon in %s never answered on vici: %w", node.Name(), err)
	}
	return c, nil
}

// Swanctl runs swanctl against this charon and returns its output.
func (c *Charon) Swanctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.Node.Exec(ctx, append(append([]string{"/usr/sbin/swanctl"}, args...), "--uri", c.URI)...)
	return string(out), err
}

// Load writes conf as swanctl.conf and loads it, replacing what was
// loaded before. Credentials swanctl finds by directory (x509/,
// private/, ...) are under Dir/swanctl.
func (c *Charon) Load(conf string) error {
	p := filepath.Join(c.Dir, "swanctl.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return err
	}
	if out, err := c.Swanctl("--load-all", "--clear", "--noprompt", "--file", p); err != nil {
		return fmt.Errorf("swanctl --load-all: %w\n%s", err, out)
	}
	return nil
}

// LogPath is charon.log's path.
func (c *Charon) LogPath() string { return filepath.Join(c.Dir, "charon.log") }

// Log is charon.log as written so far.
func (c *Charon) Log() string {
	b, _ := os.ReadFile(c.LogPath())
	return string(b)
}

// LogTail is the last n bytes of charon.log.
func (c *Charon) LogTail(n int) string {
	s := c.Log()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimLeft(s, "\n")
}
