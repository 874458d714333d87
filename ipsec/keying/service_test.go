package keying

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// fibRecorder stands in for the reconciler: it keeps what it was given.
type fibRecorder struct {
	mu     sync.Mutex
	pushes int
	last   fib.Config
}

func (f *fibRecorder) SetConfig(c fib.Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes++
	f.last = c
}

func (f *fibRecorder) config() (fib.Config, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.pushes
}

// start runs a Service until the test ends.
func start(t *testing.T, opts Options) *Service {
	t.Helper()
	s := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func testChild(peer string, remote netip.Addr, in, out uint32, created time.Time) ike.ChildSA {
	return ike.ChildSA{Peer: peer, InSPI: in, OutSPI: out, Cipher: esp.AES128GCM16,
		InKey: ike.NewKeyMaterial(make([]byte, 20)), OutKey: ike.NewKeyMaterial(make([]byte, 20)), UDPEncap: true,
		Remote: netip.AddrPortFrom(remote, 4500), Created: created}
}

// TestTunnelsMakeBeforeBreak follows a child SA through a rekey and
// deletes: the newest child seals and opens, older ones only open until
// their delete and the retire grace after it, and static tunnels are kept
// alongside. It reads what the FIB was given.
func TestTunnelsMakeBeforeBreak(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	static := fib.Tunnel{Remote: netip.MustParseAddr("192.0.2.9"), Out: &fib.SAParams{SPI: 0x900}, In: &fib.SAParams{SPI: 0x901}}
	rec := &fibRecorder{}
	s := start(t, Options{FIB: rec, ReplayWindow: 1024, RetireGrace: 50 * time.Millisecond,
		Remotes: map[string]netip.Addr{"pe2": pe2}})
	s.SetStatic(fib.Config{Tunnels: []fib.Tunnel{static}})
	t0 := time.Unix(1e9, 0)
	ikeTunnel := func() *fib.Tunnel {
		t.Helper()
		fc, _ := rec.config()
		var found *fib.Tunnel
		for i, tn := range fc.Tunnels {
			switch tn.Remote {
			case static.Remote:
				if tn.Out.SPI != 0x900 {
					t.Errorf("static tunnel changed: %+v", tn)
				}
			case pe2:
				found = &fc.Tunnels[i]
			default:
				t.Errorf("unexpected tunnel %+v", tn)
			}
		}
		if len(fc.Tunnels) != 1 && found == nil {
			t.Errorf("static tunnel lost: %+v", fc.Tunnels)
		}
		return found
	}
	retiring := func(tn *fib.Tunnel) []uint32 {
		var spis []uint32
		for _, p := range tn.RetiringIn {
			spis = append(spis, p.SPI)
		}
		return spis
	}

	c1 := testChild("pe2", pe2, 0xa1, 0xb1, t0)
	s.ChildUp(c1)
	if tn := ikeTunnel(); tn == nil || tn.Out.SPI != 0xb1 || tn.In.SPI != 0xa1 || !tn.UDP || len(tn.RetiringIn) != 0 || tn.In.ReplayWindow != 1024 {
		t.Fatalf("first child: %+v", tn)
	}
	c2 := testChild("pe2", pe2, 0xa2, 0xb2, t0.Add(time.Second))
	c2.Replaces = c1.InSPI
	s.ChildUp(c2)
	if tn := ikeTunnel(); tn.Out.SPI != 0xb2 || tn.In.SPI != 0xa2 || len(tn.RetiringIn) != 1 || tn.RetiringIn[0].SPI != 0xa1 {
		t.Fatalf("after the rekey: out %v in %v retiring %x", tn.Out, tn.In, retiring(tn))
	}
	s.ChildDown(c1)
	if tn := ikeTunnel(); tn.Out.SPI != 0xb2 || tn.In.SPI != 0xa2 || len(tn.RetiringIn) != 1 || tn.RetiringIn[0].SPI != 0xa1 {
		t.Fatalf("right after the old child's delete (its packets may still be on the way): out %v in %v retiring %x", tn.Out, tn.In, retiring(tn))
	}
	time.Sleep(200 * time.Millisecond)
	tn := ikeTunnel()
	if tn.Out.SPI != 0xb2 || tn.In.SPI != 0xa2 || len(tn.RetiringIn) != 0 {
		t.Fatalf("after the grace: out %v in %v retiring %x", tn.Out, tn.In, retiring(tn))
	}
	s.ChildDown(c2)
	if tn := ikeTunnel(); tn != nil {
		t.Fatalf("tunnel left after every child was deleted: %+v", tn)
	}
}

// TestOutSwitchDelay: a rekeyed child opens at once but seals only after
// OutSwitchDelay, and the FIB is given the switch then, with no other
// event to trigger it.
func TestOutSwitchDelay(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	rec := &fibRecorder{}
	s := start(t, Options{FIB: rec, OutSwitchDelay: 100 * time.Millisecond, Remotes: map[string]netip.Addr{"pe2": pe2}})
	now := time.Now()
	s.ChildUp(testChild("pe2", pe2, 0xa1, 0xb1, now.Add(-time.Minute)))
	s.ChildUp(testChild("pe2", pe2, 0xa2, 0xb2, now))
	fc, _ := rec.config()
	if tn := fc.Tunnels[0]; tn.Out.SPI != 0xb1 || tn.In.SPI != 0xa2 {
		t.Fatalf("right after the rekey: out %x in %x, want out b1 (the peer may not have a2's twin yet) in a2", tn.Out.SPI, tn.In.SPI)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fc, _ := rec.config()
		if fc.Tunnels[0].Out.SPI == 0xb2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbound SA never switched to b2: %+v", fc.Tunnels[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStaticOnly: without IKE the Service pushes the static config at
// each SetStatic, and nothing before the first.
func TestStaticOnly(t *testing.T) {
	rec := &fibRecorder{}
	s := start(t, Options{FIB: rec})
	if _, n := rec.config(); n != 0 {
		t.Fatalf("%d pushes before SetStatic", n)
	}
	a := fib.Config{VRFs: []fib.VRFConfig{{Name: "red"}}}
	s.SetStatic(a)
	s.SetStatic(fib.Config{VRFs: []fib.VRFConfig{{Name: "blue"}}})
	fc, n := rec.config()
	if n != 2 || len(fc.VRFs) != 1 || fc.VRFs[0].Name != "blue" {
		t.Fatalf("after two SetStatic: %d pushes, last %+v", n, fc)
	}
}

// TestStoppedService: once Run has ended, the methods return instead of
// waiting for it (the engine's callbacks at shutdown).
func TestStoppedService(t *testing.T) {
	s := New(Options{FIB: &fibRecorder{}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Run(ctx)
	done := make(chan struct{})
	go func() {
		s.ChildUp(testChild("pe2", netip.MustParseAddr("192.0.2.2"), 1, 2, time.Now()))
		s.SetStatic(fib.Config{})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a method blocked after Run ended")
	}
}
