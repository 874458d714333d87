package interop_test

// Graceful restart (RFC 4724) with FRR as the route reflector, in the
// lab of bgp_test.go (buildLab):
//
//	pe1 --iBGP-- rr (FRR 8, graceful-restart helper by default) --iBGP-- pe2
//
// pe1 is killed (-9) and started again on the same node, so on the same
// state directory: through its restart the reflector keeps pe1's routes
// as stale and pe2 keeps importing them; after it, pe1 advertises every
// VRF and prefix with the label it had.

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

func TestGracefulRestartFRRKeepsRestartedPERoutes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	lb := buildLab(t, ctx)
	pe1, pe2 := lb.pe1, lb.pe2
	red, blue := pe1.LocalLabel(ctx, "red", "10.1.0.0/24"), pe1.LocalLabel(ctx, "blue", "10.1.0.0/24")
	if red == 0 || blue == 0 || red == blue {
		t.Fatalf("pe1 labels red %d blue %d: want two distinct labels", red, blue)
	}
	redRoutes := []string{
		fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:1", red),
		fmt.Sprintf("10.11.0.0/24 via 10.0.1.2 label %d rd 65000:1", red),
		fmt.Sprintf("fd00:1::/64 via 10.0.1.2 label %d rd 65000:1", red),
	}
	pe2.WaitImported(t, ctx, "red", redRoutes...)
	pe2.WaitImported(t, ctx, "blue", fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:2", blue))

	must(t, syscall.Kill(pe1.Proc.Pid(), syscall.SIGKILL))
	<-pe1.Proc.Done()
	// pe1 is down: its routes stay at pe2, through the reflector, for
	// longer than a withdrawal would take to arrive.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		rs, err := pe2.Routes(ctx, "blue")
		must(t, err)
		found := false
		for _, r := range rs {
			found = found || (!r.Local && r.Prefix.String() == "10.1.0.0/24" && r.Label == blue)
		}
		if !found {
			t.Fatalf("pe2 lost pe1's blue route while pe1 was down: %+v\nrr:\n%s", rs, lb.rr.Process().LogTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}

	lb.pe1 = startPE(t, pe1.Node, pe1Base+pe1VRFs) // same node: same state directory
	if r2, b2 := lb.pe1.LocalLabel(ctx, "red", "10.1.0.0/24"), lb.pe1.LocalLabel(ctx, "blue", "10.1.0.0/24"); r2 != red || b2 != blue {
		t.Errorf("labels after the restart: red %d blue %d, want red %d blue %d", r2, b2, red, blue)
	}
	pe2.WaitImported(t, ctx, "red", redRoutes...)
	pe2.WaitImported(t, ctx, "blue", fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:2", blue))
	lb.pe1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 10.0.2.2 label 2000 rd 65000:11", "10.8.0.0/24 via 10.0.4.2 label 800 rd 65000:8")
}
