package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const (
	wgPort = 51820
	// wgMTU is WireGuard's default: 1500 less 80 bytes of worst-case
	// overhead (IPv6 outer header, UDP, WireGuard header and tag).
	wgMTU = 1420
	// wgSocketDir is where wireguard-go puts its UAPI socket and where
	// wg looks for it. It is in the host's file system, shared by all
	// namespaces.
	wgSocketDir = "/var/run/wireguard"
)

// wgIfName names the WireGuard interface of one PE. It cannot simply be
// wg0: wireguard-go's control socket is wgSocketDir/NAME.sock, a path that
// all namespaces share, so two "wg0" in pe1 and pe2 (or in another lab
// running at the same time) would be one socket, and `wg set` would
// configure whichever daemon bound it last. The lab's ID keeps the name
// unique on the host: "wg" + 6 hex digits + "-pe1" is 12 bytes, within
// the kernel's 15.
func wgIfName(p pe) string {
	return "wg" + p.node.Lab().ID() + "-" + p.node.Name()
}

// setupWireGuard is variant (b): wireguard-go (userspace WireGuard,
// ChaCha20-Poly1305, its own TUN) in each PE, configured with Debian's wg
// exactly as an operator would, and the remote CE subnet routed into it.
func setupWireGuard(ctx context.Context, env *environment, t *topology) (string, error) {
	pes := []pe{t.pe1, t.pe2}
	keys := make([]string, len(pes)) // private key files
	pubs := make([]string, len(pes))
	for i, p := range pes {
		var err error
		if keys[i], pubs[i], err = wgKeyPair(ctx, p); err != nil {
			return "", err
		}
	}
	for i, p := range pes {
		if err := startWireGuardGo(ctx, env.wireguardGo, t, p); err != nil {
			return "", err
		}
		remote := pes[1-i]
		name := wgIfName(p)
		steps := [][]string{
			{"wg", "set", name, "private-key", keys[i], "listen-port", strconv.Itoa(wgPort),
				"peer", pubs[1-i], "allowed-ips", remote.ceNet.String(),
				"endpoint", fmt.Sprintf("%s:%d", remote.core, wgPort)},
			{"ip", "link", "set", "dev", name, "mtu", strconv.Itoa(wgMTU), "up"},
			{"ip", "route", "add", remote.ceNet.String(), "dev", name},
		}
		for _, s := range steps {
			if _, err := p.node.Exec(ctx, s...); err != nil {
				return "", err
			}
		}
	}
	tuns, err := tunDevices(ctx, t.pe1.node)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("wireguard-go, ChaCha20-Poly1305, UDP %d; TUN %s", wgPort, describeTuns(tuns)), nil
}

// wgKeyPair makes a key pair with `wg genkey` and `wg pubkey` in p's
// namespace and returns the private key's file (mode 0600, as wg wants)
// and the public key.
func wgKeyPair(ctx context.Context, p pe) (keyFile, pub string, err error) {
	priv, err := p.node.Exec(ctx, "wg", "genkey")
	if err != nil {
		return "", "", err
	}
	keyFile = filepath.Join(p.node.Lab().Dir(), p.node.Name()+"-wg.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		return "", "", err
	}
	out, err := p.node.Exec(ctx, "sh", "-c", `wg pubkey < "$1"`, "sh", keyFile)
	if err != nil {
		return "", "", err
	}
	return keyFile, strings.TrimSpace(string(out)), nil
}

// startWireGuardGo runs wireguard-go in the foreground under the lab's
// supervision (so Close stops it) and waits for its TUN and control socket.
func startWireGuardGo(ctx context.Context, bin string, t *topology, p pe) error {
	name := wgIfName(p)
	sock := filepath.Join(wgSocketDir, name+".sock")
	// wireguard-go removes its socket when it stops cleanly; this is for
	// a SIGKILL after the stop timeout.
	t.cleanups = append(t.cleanups, func() { _ = os.Remove(sock) })
	proc, err := p.node.StartCommand(netns.Command{
		Path:    bin,
		Args:    []string{name},
		Env:     []string{"WG_PROCESS_FOREGROUND=1"},
		LogName: "wireguard-go",
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = peers.Eventually(wctx, func(ctx context.Context) error {
		if exited, err := proc.Exited(); exited {
			return fmt.Errorf("wireguard-go exited (%v): %s", err, proc.LogTail(10))
		}
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		_, err := p.node.Exec(ctx, "ip", "link", "show", "dev", name)
		return err
	})
	if err != nil {
		return fmt.Errorf("wireguard-go in %s: %w", p.node.Name(), err)
	}
	return nil
}

func describeTuns(tuns []tunDevice) string {
	if len(tuns) == 0 {
		return "none found"
	}
	var s []string
	for _, d := range tuns {
		s = append(s, fmt.Sprintf("%s MTU %d", d.Name, d.MTU))
	}
	return strings.Join(s, ", ")
}
