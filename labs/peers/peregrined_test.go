package peers_test

// One node running a stand-in for peregrined (a shell script that answers
// -check like the real one), so that StartPeregrined's contract is tested
// without depending on the daemon's evolving config schema:
//
//	+-------------------------+
//	| pe: fake peregrined     |
//	+-------------------------+

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const fakePeregrined = `#!/bin/sh
# -check -c FILE: reject a config that says "bad", naming the field.
if [ "$1" = "-check" ]; then
	if grep -q bad "$3"; then echo "$3: router.asn: bad: out of range" >&2; exit 1; fi
	echo "$3: configuration is valid"; exit 0
fi
echo "running with $2"
exec sleep 300
`

func TestStartPeregrined(t *testing.T) {
	lab := netns.NewLab(t)
	pe, err := lab.AddNode("pe")
	must(t, err)
	bin := filepath.Join(t.TempDir(), "peregrined")
	must(t, os.WriteFile(bin, []byte(fakePeregrined), 0o755))

	if _, err := peers.StartPeregrined(pe, bin, "router: {id: 192.0.2.1, asn: bad}\n"); err == nil || !strings.Contains(err.Error(), "router.asn") {
		t.Fatalf("bad config: err = %v, want the -check error naming router.asn", err)
	}
	if n := len(lab.Processes()); n != 0 {
		t.Fatalf("a rejected config started %d processes", n)
	}

	p, err := peers.StartPeregrined(pe, bin, "router: {id: 192.0.2.1, asn: 65000}\n")
	must(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.LogTail(5), "running with") {
		if exited, err := p.Exited(); exited || time.Now().After(deadline) {
			t.Fatalf("daemon not running (exited %v: %v); log:\n%s", exited, err, p.LogTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.LogTail(5), filepath.Join(lab.Dir(), "pe-peregrined", "peregrined.yml")) {
		t.Errorf("daemon not started with -c on the lab's copy of the config; log:\n%s", p.LogTail(5))
	}
	must(t, p.Stop())
	if exited, _ := p.Exited(); !exited {
		t.Error("daemon still running after Stop")
	}
}

// A daemon that dies during start-up fails its Start at once, quoting its
// exit, instead of being polled for until the deadline.
func TestStartFailsFastWhenTheDaemonExits(t *testing.T) {
	lab := netns.NewLab(t)
	n, err := lab.AddNode("dies")
	must(t, err)
	start := time.Now()
	_, err = peers.StartBIRD(ctxFor(t, 20*time.Second), n, peers.BIRDConfig{
		Config: peers.Config{RouterID: addr("10.0.0.9"), ASN: 65000},
		Bird:   "false", // exits 1 whatever its arguments
	})
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("StartBIRD with a daemon that exits: err = %v, want one saying it exited", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("StartBIRD took %v to notice the exit", d)
	}
}
