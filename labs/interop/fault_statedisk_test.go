package interop_test

// Fault: pe1's state directory is a full disk. In the manual-key E2E lab
// (labs/internal/pelab), pe1's state directory is a 64 KiB tmpfs: the daemon
// starts with room to write its label and sequence files, then a dummy
// file fills the disk, and a reload adds a VRF (a new label to persist)
// and a manually keyed tunnel (a sequence block to reserve):
//
//	ce-red-1 ─ce1┐ pe1 ══ core ══ pe2 ┌ce3─ ce-red-2
//	ce-blue-1 ─ce2┘ │                 └ce4─ ce-blue-2
//	             state: tmpfs, full
//
// The daemon must say which file it could not write, keep forwarding the
// VRFs it had, and advertise no route whose label is not on disk.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// mountTinyStateDir mounts a 64 KiB tmpfs on node's peregrined state
// directory (peers.StartPeregrined's) and returns its path; the mount
// goes when the test ends.
func mountTinyStateDir(t *testing.T, node *netns.Node) string {
	t.Helper()
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-peregrined", "state")
	must(t, os.MkdirAll(dir, 0o700))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		t.Skipf("mount tmpfs on %s: %v (needs CAP_SYS_ADMIN)", dir, err)
	}
	// Lazy: the daemon may still hold its files when this runs.
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes a file in dir until the file system has no room left.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "fill"))
	must(t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return
		}
	}
}

// Added by the reload on the full disk: a VRF whose route pe2's red
// would import (RT 65000:1), and a tunnel with its own manual keys.
const greenVRF = `
  - {name: green, rd: '65000:13', import-targets: ['65000:3'], export-targets: ['65000:1'], static-routes: [{prefix: 10.3.0.0/24}]}
`

const thirdTunnel = `
    - remote: 192.168.0.3
      out: {spi: 0x1003, cipher: aes128gcm16, key-file: out3.key}
      in: {spi: 0x3001, cipher: aes128gcm16, key-file: in3.key}
`

func TestFaultFullStateDisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var state string
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		state = mountTinyStateDir(t, pe1)
		return pelab.ManualKeyConfigs(t, pe1, pe2)
	})
	red1, blue1 := e.CE["ce-red-1"], e.CE["ce-blue-1"]
	pelab.WaitPing(t, ctx, red1, "10.2.0.2")
	pelab.WaitPing(t, ctx, blue1, "10.2.0.2")
	files, _ := os.ReadDir(state)
	t.Logf("state directory before the fault: %v", files)

	// CE traffic in both VRFs at 10/s through the whole fault.
	pRed := pelab.StartPing(red1, "10.2.0.2", 100, 100*time.Millisecond)
	pBlue := pelab.StartPing(blue1, "10.2.0.2", 100, 100*time.Millisecond)
	fillDisk(t, state)
	dir := filepath.Join(e.Lab.Dir(), "pe1-peregrined")
	must(t, os.WriteFile(filepath.Join(dir, "out3.key"), []byte(strings.Repeat("3c", 20)+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "in3.key"), []byte(strings.Repeat("4d", 20)+"\n"), 0o600))

	// A new manual tunnel: its first sequence block cannot be reserved.
	withTunnel := strings.Replace(e.Cfg1, "  tunnels:\n", "  tunnels:"+thirdTunnel, 1)
	e.PE1.WriteConfig(t, withTunnel)
	must(t, signalHUP(e.PE1.Proc.Pid()))
	waitLog(t, ctx, e.PE1, "cannot write ESP sequence state", filepath.Join(state, "esp-sequences"))

	// A new VRF: its label cannot be persisted, so its route must not
	// be advertised (bgp/labelbook.go flushes before advertising).
	withGreen := strings.Replace(e.Cfg1, "vrfs:\n", "vrfs:"+greenVRF, 1)
	e.PE1.WriteConfig(t, withGreen)
	must(t, signalHUP(e.PE1.Proc.Pid()))
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, r := range e.PE2.VRFTable(t, ctx, "red") {
			if strings.HasPrefix(r, "10.3.0.0/24 ") {
				t.Fatalf("pe2 imported green's route, whose label pe1 could not persist: %s", r)
			}
		}
	}
	waitLog(t, ctx, e.PE1, "labels not persisted", filepath.Join(state, "labels"))
	// The refused reload's label must not stay bound: a reload that binds
	// nothing new applies while the disk is still full.
	e.PE1.Reload(t, e.Cfg1)

	for what, p := range map[string]*pelab.PingRun{"red1 -> red2": pRed, "blue1 -> blue2": pBlue} {
		if lost := p.Lost(t); len(lost) > 0 {
			t.Errorf("ping %s on the full disk: echoes sent at %v lost, want none", what, lost)
		}
	}

	// With room again, the same reload takes and green's route arrives:
	// what the check above waited for can be seen.
	must(t, os.Remove(filepath.Join(state, "fill")))
	e.PE1.Reload(t, withGreen)
	e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", "10.3.0.0/24 via 192.168.0.1 label * rd 65000:13",
		"fd00:1::/64 via 192.168.0.1 label * rd 65000:11")
	must(t, pelab.Ping(red1, "10.2.0.2", 3))
}

// waitLog waits until p's log has a line with every one of words.
func waitLog(t *testing.T, ctx context.Context, p *pe, words ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := peers.Eventually(ctx, func(context.Context) error {
		for _, line := range strings.Split(p.Proc.LogTail(200), "\n") {
			has := true
			for _, w := range words {
				has = has && strings.Contains(line, w)
			}
			if has {
				t.Logf("%s logged: %s", p.Name, line)
				return nil
			}
		}
		return fmt.Errorf("%s logged no line with %q", p.Name, words)
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Proc.LogTail(30))
	}
}
