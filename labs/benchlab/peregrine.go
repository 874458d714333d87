package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// Variant (c), Peregrine, once per cipher: "peregrine" with AES-128-GCM
// and "peregrine-chacha20" with ChaCha20-Poly1305. It reports "not
// available yet" instead of a figure unless a CE reaches the other CE
// through the daemons, so that a broken tree still lets the other variants
// be measured.

const (
	peregrineASN = 65000
	peregrineRT  = "65000:100" // the red VRF's import and export target
	// The SPIs of the two directions; each is one PE's out and the
	// other's in.
	spiPE1toPE2 = 0x1001
	spiPE2toPE1 = 0x1002
	// peregrineLogLines is how much of each daemon's log is shown when
	// the variant is unavailable.
	peregrineLogLines = 15
)

// unavailableError says a variant cannot be measured yet, and why. The
// benchmark prints it in place of the figure and goes on.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string {
	return "dataplane not available yet (" + strings.TrimSpace(e.reason) + ")"
}

// isPeregrine reports whether a variant runs peregrined.
func isPeregrine(variant string) bool { return strings.HasPrefix(variant, "peregrine") }

// setupPeregrine returns variant (c) with ESP cipher c: startPeregrine,
// then a wait for CE-to-CE reachability. Any failure, including a config
// the daemon rejects, is reported as "not available" so that (a) and (b)
// are still measured.
func setupPeregrine(c esp.Cipher) setupFunc {
	return func(ctx context.Context, env *environment, t *topology) (string, error) {
		return setupPeregrineCipher(ctx, env, t, c)
	}
}

func setupPeregrineCipher(ctx context.Context, env *environment, t *topology, c esp.Cipher) (string, error) {
	if env.peregrinedErr != nil {
		return "", &unavailableError{env.peregrinedErr.Error()}
	}
	procs, err := startPeregrine(ctx, env.peregrined, t.pe1, t.pe2, c)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		return "", &unavailableError{err.Error()}
	}
	wctx, cancel := context.WithTimeout(ctx, env.peregrineWait)
	defer cancel()
	err = peers.Eventually(wctx, func(ctx context.Context) error {
		for _, p := range procs {
			if exited, err := p.Exited(); exited {
				cancel() // a dead daemon will not start forwarding
				return fmt.Errorf("%s exited: %v", p.Name(), err)
			}
		}
		return t.ping(ctx)
	})
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		// The lab's directory, logs included, goes with the lab: show
		// the ends of the logs now.
		for _, p := range procs {
			fmt.Fprintf(env.out, "benchlab: --- end of %s's log ---\n%s\n", p.Name(), p.LogTail(peregrineLogLines))
		}
		reason := fmt.Sprintf("no ping from ce1 to ce2 through peregrined within %v", env.peregrineWait)
		for _, p := range procs {
			if exited, xerr := p.Exited(); exited {
				reason = fmt.Sprintf("%s exited (%v) before ce1 reached ce2", p.Name(), xerr)
			}
		}
		if tuns, err := tunDevices(ctx, t.pe1.node); err == nil {
			reason += "; TUN in pe1: " + describeTuns(tuns)
		}
		return "", &unavailableError{reason}
	}
	tuns, err := tunDevices(ctx, t.pe1.node)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("peregrined, ESP %s in UDP 4500; TUN %s", c, describeTuns(tuns)), nil
}

// startPeregrine is THE HOOK for variant (c): given the two PEs (each with
// its node, CE interface, CE subnet and core address) it starts
// `peregrined -c FILE` in each PE's namespace and returns the processes.
// Each config has one VRF, red, with the CE interface and a static route
// for the local CE subnet; the remote CE subnet arrives as a VPNv4 route
// over iBGP directly between the PEs' core addresses, and traffic between
// the PEs is ESP with cipher c and manual keys, one SA per direction.
//
// It returns once both daemons have started; the caller waits for
// CE-to-CE reachability. The lab's Close stops the daemons.
func startPeregrine(ctx context.Context, bin string, pe1, pe2 pe, c esp.Cipher) ([]*netns.Process, error) {
	// One key (the cipher's key and 4-byte salt) per direction.
	keyPE1toPE2, keyPE2toPE1 := make([]byte, c.KeyLen()), make([]byte, c.KeyLen())
	_, _ = rand.Read(keyPE1toPE2) // never fails (Go 1.24+)
	_, _ = rand.Read(keyPE2toPE1)
	sides := []struct {
		local, remote pe
		out, in       sa
	}{
		{pe1, pe2, sa{spiPE1toPE2, keyPE1toPE2}, sa{spiPE2toPE1, keyPE2toPE1}},
		{pe2, pe1, sa{spiPE2toPE1, keyPE2toPE1}, sa{spiPE1toPE2, keyPE1toPE2}},
	}
	var procs []*netns.Process
	for i, s := range sides {
		// peers.StartPeregrined keeps its config in this directory.
		dir := filepath.Join(s.local.node.Lab().Dir(), s.local.node.Name()+"-peregrined")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		outKey, inKey := filepath.Join(dir, "out.key"), filepath.Join(dir, "in.key")
		for _, k := range []struct {
			path string
			key  []byte
		}{{outKey, s.out.key}, {inKey, s.in.key}} {
			if err := os.WriteFile(k.path, []byte(hex.EncodeToString(k.key)+"\n"), 0o600); err != nil {
				return nil, err
			}
		}
		conf := peregrineConfig(s.local, s.remote, i+1, filepath.Join(dir, "peregrined.sock"),
			c, s.out.spi, outKey, s.in.spi, inKey)
		p, err := peers.StartPeregrined(s.local.node, bin, conf)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	return procs, ctx.Err()
}

// sa is one direction's SPI and key material.
type sa struct {
	spi uint32
	key []byte
}

// peregrineConfig is one PE's peregrined.yml (schema: config/config.go and
// config/ipsec.go). rdIndex makes each PE's route distinguisher its own;
// both SAs use cipher c.
// The control socket is in the lab's directory because the default
// (/run/peregrine) is one path for every namespace on the host; the gRPC
// API is off for the same reason.
func peregrineConfig(local, remote pe, rdIndex int, sock string, c esp.Cipher, outSPI uint32, outKey string, inSPI uint32, inKey string) string {
	return fmt.Sprintf(`router: {id: %[1]s, asn: %[3]d}
log: {level: info}
control: {socket: %[4]s}
bgp:
  listen-address: %[1]s
  listen-port: 179
  api: ''
  neighbors:
    - {address: %[2]s, asn: %[3]d, families: [vpnv4], local-address: %[1]s, connect-retry: 1s, hold-time: 9s}
vrfs:
  - name: red
    rd: '%[3]d:%[5]d'
    import-targets: ['%[6]s']
    export-targets: ['%[6]s']
    interfaces: [%[7]s]
    static-routes: [{prefix: %[8]s}]
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[2]s
      out: {spi: %[9]d, cipher: %[11]s, key-file: %[10]s}
      in: {spi: %[12]d, cipher: %[11]s, key-file: %[13]s}
`, local.core, remote.core, peregrineASN, sock, rdIndex, peregrineRT, local.ceIf, local.ceNet,
		outSPI, outKey, c, inSPI, inKey)
}

// buildPeregrined builds ./cmd/peregrined of the module at root into dir.
// A failed build (the tree is being edited) makes variant (c) unavailable,
// not the benchmark fail.
func buildPeregrined(ctx context.Context, root, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := goBuild(ctx, root, dir, "./cmd/peregrined")
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/peregrined: %v: %s", err, lastLines(out, 5))
	}
	return filepath.Join(dir, "peregrined"), nil
}
