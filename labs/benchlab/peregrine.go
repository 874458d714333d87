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

// Variant (c), Peregrine: "peregrine" with AES-128-GCM and one SA per
// direction, "peregrine-chacha20" with ChaCha20-Poly1305,
// "peregrine-resources" with AES-128-GCM and one SA pair per CPU (RFC
// 9611 per-resource SAs, ipsec.tunnels[].resources), and
// "peregrine-before", the "peregrine" setup run by an older binary
// (-peregrined-before). It reports "not available yet" instead of a
// figure unless a CE reaches the other CE through the daemons, so that a
// broken tree still lets the other variants be measured.

const (
	peregrineASN = 65000
	peregrineRT  = "65000:100" // the red VRF's import and export target
	// The first SPI of each direction; each is one PE's out and the
	// other's in. SA pair k uses base+k: the receiver opens inbound SPI
	// s on its socket s mod receivers, so consecutive SPIs spread the
	// pairs over its cores.
	spiPE1toPE2 = 0x1100
	spiPE2toPE1 = 0x1200
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

// peregrineVariant is how one peregrine variant differs from another.
type peregrineVariant struct {
	cipher esp.Cipher
	// resources: one SA pair per CPU (environment.resources pairs),
	// else one.
	resources bool
	// before runs environment.peregrinedBefore, the binary to compare
	// against, instead of environment.peregrined.
	before bool
}

// setupPeregrine returns variant (c) as v says: startPeregrine, then a
// wait for CE-to-CE reachability. Any failure, including a config the
// daemon rejects, is reported as "not available" so that (a) and (b) are
// still measured.
func setupPeregrine(v peregrineVariant) setupFunc {
	return func(ctx context.Context, env *environment, t *topology) (string, error) {
		return setupPeregrineVariant(ctx, env, t, v)
	}
}

func setupPeregrineVariant(ctx context.Context, env *environment, t *topology, v peregrineVariant) (string, error) {
	bin, pairs := env.peregrined, 1
	if v.resources {
		pairs = env.resources
	}
	if v.before {
		bin = env.peregrinedBefore
	} else if env.peregrinedErr != nil {
		return "", &unavailableError{env.peregrinedErr.Error()}
	}
	c := v.cipher
	procs, err := startPeregrine(ctx, bin, t.pe1, t.pe2, c, pairs)
	t.daemons = procs
	t.saSocket = peregrineSocket(t.pe1)
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
	return fmt.Sprintf("%s, ESP %s in UDP 4500, %d SA pair(s); TUN %s", bin, c, pairs, describeTuns(tuns)), nil
}

// startPeregrine is THE HOOK for variant (c): given the two PEs (each with
// its node, CE interface, CE subnet and core address) it starts
// `BIN -c FILE` in each PE's namespace and returns the processes.
// Each config has one VRF, red, with the CE interface and a static route
// for the local CE subnet; the remote CE subnet arrives as a VPNv4 route
// over iBGP directly between the PEs' core addresses, and traffic between
// the PEs is ESP with cipher c and manual keys: pairs SA pairs, the
// first the tunnel's out and in, the others its resources, each SA with
// its own random key.
//
// It returns once both daemons have started; the caller waits for
// CE-to-CE reachability. The lab's Close stops the daemons.
func startPeregrine(ctx context.Context, bin string, pe1, pe2 pe, c esp.Cipher, pairs int) ([]*netns.Process, error) {
	// One key (the cipher's key and 4-byte salt) per SA.
	var toPE2, toPE1 []sa
	for k := range pairs {
		keyPE1toPE2, keyPE2toPE1 := make([]byte, c.KeyLen()), make([]byte, c.KeyLen())
		_, _ = rand.Read(keyPE1toPE2) // never fails (Go 1.24+)
		_, _ = rand.Read(keyPE2toPE1)
		toPE2 = append(toPE2, sa{spiPE1toPE2 + uint32(k), keyPE1toPE2})
		toPE1 = append(toPE1, sa{spiPE2toPE1 + uint32(k), keyPE2toPE1})
	}
	sides := []struct {
		local, remote pe
		out, in       []sa
	}{
		{pe1, pe2, toPE2, toPE1},
		{pe2, pe1, toPE1, toPE2},
	}
	var procs []*netns.Process
	for i, s := range sides {
		// peers.StartPeregrined keeps its config in this directory.
		dir := filepath.Join(s.local.node.Lab().Dir(), s.local.node.Name()+"-peregrined")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return procs, err
		}
		var files []saPairFiles
		for k := range s.out {
			f := saPairFiles{
				outSPI: s.out[k].spi, outKey: filepath.Join(dir, fmt.Sprintf("out%d.key", k)),
				inSPI: s.in[k].spi, inKey: filepath.Join(dir, fmt.Sprintf("in%d.key", k)),
			}
			for _, kf := range []struct {
				path string
				key  []byte
			}{{f.outKey, s.out[k].key}, {f.inKey, s.in[k].key}} {
				if err := os.WriteFile(kf.path, []byte(hex.EncodeToString(kf.key)+"\n"), 0o600); err != nil {
					return procs, err
				}
			}
			files = append(files, f)
		}
		conf := peregrineConfig(s.local, s.remote, i+1, peregrineSocket(s.local), c, files)
		p, err := peers.StartPeregrined(s.local.node, bin, conf)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	return procs, ctx.Err()
}

// peregrineSocket is the control socket of local's peregrined, in the
// directory peers.StartPeregrined uses.
func peregrineSocket(local pe) string {
	return filepath.Join(local.node.Lab().Dir(), local.node.Name()+"-peregrined", "peregrined.sock")
}

// sa is one direction's SPI and key material.
type sa struct {
	spi uint32
	key []byte
}

// saPairFiles is one SA pair of a PE's config: SPIs and key files.
type saPairFiles struct {
	outSPI uint32
	outKey string
	inSPI  uint32
	inKey  string
}

// peregrineConfig is one PE's peregrined.yml (schema: config/config.go and
// config/ipsec.go). rdIndex makes each PE's route distinguisher its own;
// every SA uses cipher c; pairs[0] is the tunnel's out and in, the others
// its resources.
// The control socket is in the lab's directory because the default
// (/run/peregrine) is one path for every namespace on the host; the gRPC
// API is off for the same reason.
func peregrineConfig(local, remote pe, rdIndex int, sock string, c esp.Cipher, pairs []saPairFiles) string {
	conf := fmt.Sprintf(`router: {id: %[1]s, asn: %[3]d}
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
`, local.core, remote.core, peregrineASN, sock, rdIndex, peregrineRT, local.ceIf, local.ceNet)
	pair := func(indent string, p saPairFiles) string {
		return fmt.Sprintf("%[1]sout: {spi: %[2]d, cipher: %[3]s, key-file: %[4]s}\n%[5]sin: {spi: %[6]d, cipher: %[3]s, key-file: %[7]s}\n",
			indent, p.outSPI, c, p.outKey, strings.Repeat(" ", len(indent)), p.inSPI, p.inKey)
	}
	conf += pair("      ", pairs[0])
	if len(pairs) > 1 {
		conf += "      resources:\n"
		for _, p := range pairs[1:] {
			conf += pair("        - ", p)
		}
	}
	return conf
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
