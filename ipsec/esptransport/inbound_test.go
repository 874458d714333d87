package esptransport

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// testSA returns an SA with deterministic key material; two calls with the
// same arguments give a sender and its receiver.
func testSA(t testing.TB, spi uint32, c esp.Cipher, seed byte) *esp.SA {
	t.Helper()
	key := make([]byte, c.KeyLen())
	for i := range key {
		key[i] = seed + byte(i)*7
	}
	sa, err := esp.NewSA(esp.Config{SPI: spi, Cipher: c, Key: key, ESN: c == esp.ChaCha20Poly1305})
	if err != nil {
		t.Fatalf("NewSA: %v", err)
	}
	return sa
}

// sealed seals a copy of payload and returns the ESP packet in a buffer of
// its own.
func sealed(t testing.TB, sa *esp.SA, payload []byte, nh uint8) []byte {
	t.Helper()
	buf := make([]byte, esp.Headroom+len(payload)+esp.MaxTrailer)
	copy(buf[esp.Headroom:], payload)
	pkt, err := sa.Seal(buf, esp.Headroom, len(payload), nh)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return append([]byte(nil), pkt...)
}

// tableOpen opens a copy of pkt through tab, so the caller's copy survives.
func tableOpen(tab *InboundTable, pkt []byte) ([]byte, uint8, *esp.SA, error) {
	buf := make([]byte, esp.ScratchLen+len(pkt))
	copy(buf[esp.ScratchLen:], pkt)
	return tab.Open(buf, esp.ScratchLen, len(pkt))
}

func TestInboundTable(t *testing.T) {
	var tab InboundTable
	if tab.Lookup(0x1000) != nil || tab.Len() != 0 {
		t.Fatal("zero table is not empty")
	}
	red := testSA(t, 0x1000, esp.AES128GCM16, 1)
	blue := testSA(t, 0x2000, esp.ChaCha20Poly1305, 2)
	for _, sa := range []*esp.SA{red, blue} {
		if err := tab.Add(sa); err != nil {
			t.Fatal(err)
		}
	}
	dup := testSA(t, 0x1000, esp.AES256GCM16, 3)
	if err := tab.Add(dup); !errors.Is(err, ErrDuplicateSPI) {
		t.Fatalf("Add duplicate: %v", err)
	}
	if err := tab.Add(nil); err == nil {
		t.Fatal("Add(nil) succeeded")
	}
	if tab.Lookup(0x1000) != red || tab.Lookup(0x2000) != blue || tab.Len() != 2 {
		t.Fatal("Lookup after Add")
	}

	// Dispatch: each packet reaches the SA of its SPI.
	redTx := testSA(t, 0x1000, esp.AES128GCM16, 1)
	blueTx := testSA(t, 0x2000, esp.ChaCha20Poly1305, 2)
	for i := range 3 {
		for _, tc := range []struct {
			tx, rx *esp.SA
			nh     uint8
		}{{redTx, red, esp.NextHeaderIPv4}, {blueTx, blue, esp.NextHeaderMPLS}} {
			payload := bytes.Repeat([]byte{byte(i), tc.nh}, 50+i)
			got, nh, sa, err := tableOpen(&tab, sealed(t, tc.tx, payload, tc.nh))
			if err != nil || sa != tc.rx || nh != tc.nh || !bytes.Equal(got, payload) {
				t.Fatalf("dispatch to %v: sa %v nh %d err %v", tc.rx, sa, nh, err)
			}
		}
	}

	if got := tab.Remove(0x1000); got != red {
		t.Fatalf("Remove returned %v", got)
	}
	if tab.Remove(0x1000) != nil {
		t.Fatal("second Remove found something")
	}
	if _, _, sa, err := tableOpen(&tab, sealed(t, redTx, nil, esp.NoNextHeader)); !errors.Is(err, esp.ErrUnknownSPI) || sa != nil {
		t.Fatalf("after Remove: %v, sa %v", err, sa)
	}
	if got := tab.Counters(); got != (TableCounters{UnknownSPI: 1}) {
		t.Fatalf("table counters %+v", got)
	}
	if err := tab.Add(dup); err != nil {
		t.Fatalf("re-Add after Remove: %v", err)
	}
}

// TestInboundTableDrops checks the table's own drop paths and that the
// SA's pass through: the typed error, the SA returned (only when one was
// found), the one counter bumped per packet, and no allocation.
func TestInboundTableDrops(t *testing.T) {
	const spi = 0x1000
	tx, rx := testSA(t, spi, esp.AES128GCM16, 7), testSA(t, spi, esp.AES128GCM16, 7)
	var tab InboundTable
	if err := tab.Add(rx); err != nil {
		t.Fatal(err)
	}
	good := sealed(t, tx, bytes.Repeat([]byte{0x45}, 60), esp.NextHeaderIPv4)
	badICV := append([]byte(nil), good...)
	badICV[len(badICV)-1] ^= 0x80
	otherSPI := sealed(t, testSA(t, spi+1, esp.AES128GCM16, 7), nil, esp.NoNextHeader)

	table := func(_ esp.Counters, c TableCounters) uint64 { return c.Truncated }
	unknown := func(_ esp.Counters, c TableCounters) uint64 { return c.UnknownSPI }
	malformed := func(c esp.Counters, _ TableCounters) uint64 { return c.Malformed }
	authFailed := func(c esp.Counters, _ TableCounters) uint64 { return c.AuthFailed }
	for _, tc := range []struct {
		name    string
		pkt     []byte
		off, n  int // overrides: off when not 0, n when not 0
		want    error
		found   bool // the error comes from the SA, which Open returns
		counter func(esp.Counters, TableCounters) uint64
	}{
		{name: "empty", pkt: []byte{}, want: esp.ErrTruncated, counter: table},
		{name: "shorter than an SPI", pkt: good[:3], want: esp.ErrTruncated, counter: table},
		{name: "negative offset", pkt: good, off: -1, want: esp.ErrTruncated, counter: table},
		{name: "offset beyond buffer", pkt: good, off: 1 << 30, want: esp.ErrTruncated, counter: table},
		{name: "length beyond buffer", pkt: good, n: len(good) + 1, want: esp.ErrTruncated, counter: table},
		{name: "negative length", pkt: good, n: -5, want: esp.ErrTruncated, counter: table},
		{name: "unknown SPI", pkt: otherSPI, want: esp.ErrUnknownSPI, counter: unknown},
		{name: "SA: SPI only", pkt: good[:4], want: esp.ErrTruncated, found: true, counter: malformed},
		{name: "SA: no headroom", pkt: good, off: 2, want: esp.ErrNoHeadroom, found: true, counter: malformed},
		{name: "SA: bad ICV", pkt: badICV, want: esp.ErrAuthFailed, found: true, counter: authFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The packet sits at off when off is a usable index
			// short of ScratchLen, else at ScratchLen.
			pos := esp.ScratchLen
			if tc.off > 0 && tc.off < esp.ScratchLen {
				pos = tc.off
			}
			buf := make([]byte, pos+len(tc.pkt))
			off, n := pos, len(tc.pkt)
			if tc.off != 0 {
				off = tc.off
			}
			if tc.n != 0 {
				n = tc.n
			}
			var (
				payload []byte
				sa      *esp.SA
				err     error
			)
			attempt := func() {
				copy(buf[pos:], tc.pkt)
				payload, _, sa, err = tab.Open(buf, off, n)
			}
			before := tc.counter(rx.Counters(), tab.Counters())
			attempt()
			if !errors.Is(err, tc.want) || payload != nil || (sa == rx) != tc.found || (sa == nil) == tc.found {
				t.Fatalf("Open = %x, sa %v, %v; want %v (SA returned: %v)", payload, sa, err, tc.want, tc.found)
			}
			const runs = 50
			if allocs := testing.AllocsPerRun(runs, attempt); allocs != 0 {
				t.Errorf("%v allocations per drop, want 0", allocs)
			}
			if got := tc.counter(rx.Counters(), tab.Counters()) - before; got != runs+2 {
				t.Errorf("counter moved by %d for %d drops", got, runs+2)
			}
		})
	}
}

// TestInboundTableZeroAllocs: sealing and opening through the table
// allocates nothing on the success path.
func TestInboundTableZeroAllocs(t *testing.T) {
	for _, c := range []esp.Cipher{esp.AES128GCM16, esp.AES256GCM16, esp.ChaCha20Poly1305} {
		tx, rx := testSA(t, 0x1000, c, 1), testSA(t, 0x1000, c, 1)
		var tab InboundTable
		if err := tab.Add(rx); err != nil {
			t.Fatal(err)
		}
		const n = 1400
		buf := make([]byte, esp.Headroom+n+esp.MaxTrailer)
		allocs := testing.AllocsPerRun(100, func() {
			pkt, err := tx.Seal(buf, esp.Headroom, n, esp.NextHeaderMPLS)
			if err != nil {
				t.Fatal(err)
			}
			off := esp.Headroom - esp.HeaderLen - c.IVLen()
			if _, nh, sa, err := tab.Open(buf, off, len(pkt)); err != nil || sa != rx || nh != esp.NextHeaderMPLS {
				t.Fatalf("Open: %v (sa %v, nh %d)", err, sa, nh)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per seal and open, want 0", c, allocs)
		}
	}
}

// TestInboundTableConcurrentUpdates opens through the table while SAs come
// and go. Run with -race.
func TestInboundTableConcurrentUpdates(t *testing.T) {
	tx, rx := testSA(t, 0x1000, esp.ChaCha20Poly1305, 1), testSA(t, 0x1000, esp.ChaCha20Poly1305, 1)
	var tab InboundTable
	if err := tab.Add(rx); err != nil {
		t.Fatal(err)
	}
	pkts := make([][]byte, 2000)
	for i := range pkts {
		pkts[i] = sealed(t, tx, bytes.Repeat([]byte{0, 0x64, 0x11, 0x40}, 16), esp.NextHeaderMPLS)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint32(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			other := testSA(t, 0x10000+i%16, esp.AES128GCM16, 1)
			tab.Remove(other.SPI())
			if err := tab.Add(other); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for _, p := range pkts {
		if _, _, sa, err := tableOpen(&tab, p); err != nil || sa != rx {
			t.Fatalf("Open during updates: %v (sa %v)", err, sa)
		}
	}
	close(stop)
	wg.Wait()
}
