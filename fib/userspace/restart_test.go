package userspace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
)

// The restart test runs a sender in a child process (this test binary
// again, TestHelperSealer), kills it with SIGKILL while it seals, starts
// it again on the same state directory, and so on. The child writes each
// ESP packet it seals to its standard output, length first; the parent
// opens them all with a receiver that keeps anti-replay on.
//
//	parent ──exec──▶ child: dataplane, seqstore in DIR, PE1's manual SA 0x1001
//	       ◀─stdout── [len][ESP packet] [len][ESP packet] ...
//	       ──SIGKILL─▶ (mid-stream)    ... and again, three times
const sealerEnv = "PEREGRINE_SEALER_STATE_DIR"

// sealerBlock is the child's reservation block: small, so that each run
// extends its reservation many times.
const sealerBlock = 500

// manualState is PE1's State with its outbound SA keyed by hand.
func manualState() *fib.State {
	s := pe1State()
	s.Tunnels[pe2Addr].Out.PersistSequence = true
	return s
}

func TestHelperSealer(t *testing.T) {
	dir := os.Getenv(sealerEnv)
	if dir == "" {
		t.Skip("the restart test's helper process; runs only inside TestManualKeyRestartNeverReusesNonce")
	}
	d := newDataplane(mpls.Uniform, nil, 0)
	d.seqs = seqstore.Open(dir, nil, seqstore.Options{Block: sealerBlock})
	if _, _, err := d.update(manualState(), nil); err != nil {
		t.Fatal(err)
	}
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 100)
	buf := outBuf(inner)
	out := os.Stdout
	var hdr [2]byte
	for {
		copy(buf[outHeadroom:], inner)
		pkt, _, why := d.outbound(d.vrfs["red"], buf, outHeadroom, len(inner))
		if why != dropNone {
			continue // stopped at the reserved mark: the writer catches up
		}
		binary.BigEndian.PutUint16(hdr[:], uint16(len(pkt)))
		if _, err := out.Write(append(hdr[:], pkt...)); err != nil {
			return
		}
	}
}

// TestManualKeyRestartNeverReusesNonce: seal, kill -9, restart, seal: no
// (key, IV) pair repeats, and a receiver with anti-replay on accepts every
// packet the restarted sender seals.
func TestManualKeyRestartNeverReusesNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	dir := t.TempDir()
	p := manualState().Tunnels[pe2Addr].Out
	rx, err := esp.NewSA(esp.Config{SPI: p.SPI, Cipher: p.Cipher, Key: p.Key}) // anti-replay on, window 1024
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{} // IVs under the one key
	for run, want := range []int{3000, 1700, 2500, 10} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSealer$", "-test.count=1")
		cmd.Env = append(os.Environ(), sealerEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		first := true
		got := 0
		for {
			if got == want {
				cmd.Process.Signal(syscall.SIGKILL)
			}
			pkt, err := readPacket(r)
			if err != nil {
				break // killed: a torn last packet was never "sent"
			}
			got++
			iv := binary.BigEndian.Uint64(pkt[8:16])
			if seen[iv] {
				t.Fatalf("run %d: IV %d sealed again under the same key", run, iv)
			}
			seen[iv] = true
			work := append(make([]byte, esp.ScratchLen), pkt...)
			if _, _, err := rx.Open(work, esp.ScratchLen, len(pkt)); err != nil {
				t.Fatalf("run %d, packet %d (IV %d): the receiver refused it: %v", run, got, iv, err)
			}
			if first && run > 0 {
				t.Logf("run %d starts at sequence %d", run, iv)
			}
			first = false
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("run %d: the sealer exited by itself", run)
		}
		if got < want {
			t.Fatalf("run %d: %d packets before the sealer stopped, want %d", run, got, want)
		}
	}
}

func readPacket(r *bufio.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	pkt := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, pkt); err != nil {
		return nil, errors.New("torn packet")
	}
	return pkt, nil
}
