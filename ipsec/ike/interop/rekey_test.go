package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestRekeyAndDeleteWithStrongSwan rekeys the child SA and the IKE SA from
// both ends, checking after each step that traffic still passes (so the
// new keys agree), then deletes from both ends. Same topology as
// strongswan_test.go.
func TestRekeyAndDeleteWithStrongSwan(t *testing.T) {
	_, s, pe := setup(t)
	s.load(t, goodPSK)
	r, ech, events := peregrineDPD(t, pe, goodPSK, true, 2*time.Second)
	first := wait(t, events, ike.ChildUp).Child
	pingThrough(t, s, ech)
	ctx := context.Background()

	// strongSwan rekeys the child SA; Peregrine answers.
	if out, err := s.swanctl("--rekey", "--child", "net"); err != nil {
		t.Fatalf("swanctl --rekey --child: %v\n%s", err, out)
	}
	c2 := wait(t, events, ike.ChildUp).Child
	if c2.Replaces != first.InSPI {
		t.Fatalf("rekeyed child replaces 0x%08x, want 0x%08x", c2.Replaces, first.InSPI)
	}
	if gone := wait(t, events, ike.ChildDown).Child; gone.InSPI != first.InSPI {
		t.Fatalf("deleted 0x%08x, want the old 0x%08x", gone.InSPI, first.InSPI)
	}
	checkSAs(t, s, c2)
	pingThrough(t, s, ech)

	// Peregrine rekeys the child SA, with PFS (x25519 in both configs).
	if err := r.Do(ctx, func(e *ike.Engine) {
		if err := e.Rekey(c2.InSPI); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	c3 := wait(t, events, ike.ChildUp).Child
	if c3.Replaces != c2.InSPI {
		t.Fatalf("rekeyed child replaces 0x%08x, want 0x%08x", c3.Replaces, c2.InSPI)
	}
	wait(t, events, ike.ChildDown)
	checkSAs(t, s, c3)
	pingThrough(t, s, ech)

	// strongSwan rekeys the IKE SA; then a child rekey on the new IKE SA
	// proves its SK_d.
	if out, err := s.swanctl("--rekey", "--ike", "pe"); err != nil {
		t.Fatalf("swanctl --rekey --ike: %v\n%s", err, out)
	}
	newIKE := wait(t, events, ike.IKEUp)
	wait(t, events, ike.IKEDown)
	out := checkSAs(t, s, c3)
	if !strings.Contains(out, fmt.Sprintf("%016x", newIKE.SPIi)) {
		t.Fatalf("strongSwan does not show the new IKE SA %016x", newIKE.SPIi)
	}
	if out, err := s.swanctl("--rekey", "--child", "net"); err != nil {
		t.Fatalf("swanctl --rekey --child: %v\n%s", err, out)
	}
	c4 := wait(t, events, ike.ChildUp).Child
	wait(t, events, ike.ChildDown)
	pingThrough(t, s, ech)

	// Peregrine rekeys the IKE SA.
	if err := r.Do(ctx, func(e *ike.Engine) {
		if err := e.RekeyIKE("sw"); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	newIKE = wait(t, events, ike.IKEUp)
	wait(t, events, ike.IKEDown)
	out = checkSAs(t, s, c4)
	if !strings.Contains(out, fmt.Sprintf("%016x_i %016x_r*", newIKE.SPIi, newIKE.SPIr)) {
		t.Fatalf("strongSwan does not show the new IKE SA %016x", newIKE.SPIi)
	}

	// DPD: with a 2 s interval and an idle tunnel, Peregrine's empty
	// INFORMATIONAL requests reach strongSwan and are answered.
	time.Sleep(5 * time.Second)
	if n := strings.Count(s.log(), "parsed INFORMATIONAL request"); n < 1 {
		t.Fatalf("strongSwan saw no liveness check")
	}

	// strongSwan deletes the child SA, then Peregrine deletes the IKE SA.
	if out, err := s.swanctl("--terminate", "--child", "net"); err != nil {
		t.Fatalf("swanctl --terminate --child: %v\n%s", err, out)
	}
	if gone := wait(t, events, ike.ChildDown).Child; gone.InSPI != c4.InSPI {
		t.Fatalf("deleted 0x%08x, want 0x%08x", gone.InSPI, c4.InSPI)
	}
	if err := r.Do(ctx, func(e *ike.Engine) {
		if err := e.Delete("sw"); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	wait(t, events, ike.IKEDown)
	eventually(t, 5*time.Second, func() error {
		out, err := s.swanctl("--list-sas")
		if err != nil || strings.Contains(out, "pe: #") {
			return fmt.Errorf("strongSwan still lists an SA: %v\n%s", err, out)
		}
		return nil
	})
}
