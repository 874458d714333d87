package interop_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
)

// coreDoc is GET /v1/dataplane as the test reads it (the JSON names are
// the oracle, not the daemon's Go types).
type coreDoc struct {
	Core *struct {
		Drops      map[string]uint64 `json:"drops"`
		UnknownSPI uint64            `json:"unknown-spi"`
		Keepalives uint64            `json:"keepalives"`
	} `json:"core"`
}

// TestE2ECoreDropsCounted: a core host (pe2's namespace, outside its
// peregrined) sprays pe1's UDP port 4500 with ESP under an SPI no SA has
// and with NAT-keepalives; pe1's running daemon counts them where an
// operator looks, GET /v1/dataplane (show dataplane, the metrics), and
// the VPN keeps forwarding.
func TestE2ECoreDropsCounted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := buildE2E(t, ctx)
	pelab.WaitPing(t, ctx, e.CE["ce-red-1"], "10.2.0.2")
	before := dataplaneDoc(t, ctx, e.PE1)
	junk := make([]byte, 64)
	binary.BigEndian.PutUint32(junk, 0x7e57dead)
	const sprayed, keepalives = 3, 2
	for i := range sprayed {
		binary.BigEndian.PutUint32(junk[4:], uint32(i+1))
		sendESP(t, e.PE2.Node, junk)
	}
	for range keepalives {
		sendESP(t, e.PE2.Node, []byte{0xff})
	}
	var after coreDoc
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = dataplaneDoc(t, ctx, e.PE1)
		if after.Core.UnknownSPI-before.Core.UnknownSPI >= sprayed && after.Core.Keepalives-before.Core.Keepalives >= keepalives ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := after.Core.UnknownSPI - before.Core.UnknownSPI; d != sprayed {
		t.Errorf("unknown-spi grew by %d, want %d", d, sprayed)
	}
	if d := after.Core.Drops["open-failed"] - before.Core.Drops["open-failed"]; d != sprayed {
		t.Errorf("drops open-failed grew by %d, want %d", d, sprayed)
	}
	if d := after.Core.Keepalives - before.Core.Keepalives; d < keepalives {
		t.Errorf("keepalives grew by %d, want at least %d", d, keepalives)
	}
	pelab.PingAcross(t, ctx, e.CE, 2)
}

func dataplaneDoc(t *testing.T, ctx context.Context, p *pelab.PE) coreDoc {
	t.Helper()
	var d coreDoc
	must(t, p.Get(ctx, "/v1/dataplane", &d))
	if d.Core == nil {
		t.Fatalf("%s: GET /v1/dataplane has no core counters: the userspace backend counts them", p.Name)
	}
	return d
}
