package esptransport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// ErrDuplicateSPI is returned by InboundTable.Add for an SPI already in the
// table: remove the old SA first, or pick another SPI.
var ErrDuplicateSPI = errors.New("esptransport: duplicate SPI")

// InboundTable maps SPIs to inbound SAs and dispatches received packets:
// the step after Demux, which found an ESP packet, and before the SA,
// which opens it. It lives here, not in package esp, because it is
// demultiplexing (by SPI, as Demux is by port and marker) and uses only
// esp.SA's exported API; esp stays one SA at a time.
//
// The packet path (Lookup, Open) reads an immutable map published through
// an atomic pointer and takes no lock; Add and Remove copy the map under
// a mutex and publish the copy. The zero value is an empty table ready to
// use.
type InboundTable struct {
	m atomic.Pointer[map[uint32]*esp.SA]

	writer sync.Mutex // serializes Add and Remove

	unknownSPI atomic.Uint64
	truncated  atomic.Uint64
}

// TableCounters is a snapshot of drops the table counts itself, before a
// packet reaches an SA.
type TableCounters struct {
	UnknownSPI uint64 // esp.ErrUnknownSPI: no SA with the packet's SPI
	Truncated  uint64 // esp.ErrTruncated: shorter than an SPI, or outside the buffer
}

// Add installs sa under its SPI.
func (t *InboundTable) Add(sa *esp.SA) error {
	if sa == nil {
		return errors.New("esptransport: InboundTable.Add: nil SA")
	}
	t.writer.Lock()
	defer t.writer.Unlock()
	old := t.load()
	spi := sa.SPI()
	if _, dup := old[spi]; dup {
		return fmt.Errorf("%w: 0x%08x", ErrDuplicateSPI, spi)
	}
	m := make(map[uint32]*esp.SA, len(old)+1)
	maps.Copy(m, old)
	m[spi] = sa
	t.m.Store(&m)
	return nil
}

// Remove deletes the SA with the given SPI and returns it, or nil if there
// was none. Packets already inside that SA's Open finish normally.
func (t *InboundTable) Remove(spi uint32) *esp.SA {
	t.writer.Lock()
	defer t.writer.Unlock()
	old := t.load()
	sa, ok := old[spi]
	if !ok {
		return nil
	}
	m := maps.Clone(old)
	delete(m, spi)
	t.m.Store(&m)
	return sa
}

// Lookup returns the SA with the given SPI, or nil.
func (t *InboundTable) Lookup(spi uint32) *esp.SA {
	return t.load()[spi]
}

// Len returns the number of SAs in the table.
func (t *InboundTable) Len() int {
	return len(t.load())
}

// Counters returns a snapshot of the table's own drop counters.
func (t *InboundTable) Counters() TableCounters {
	return TableCounters{UnknownSPI: t.unknownSPI.Load(), Truncated: t.truncated.Load()}
}

func (t *InboundTable) load() map[uint32]*esp.SA {
	if p := t.m.Load(); p != nil {
		return *p
	}
	return nil
}

// Open finds the SA for the packet buf[off:off+n] by its SPI and opens it
// with esp.SA.Open (same buffer rules). It returns the SA too, so that the
// caller can check the payload against the SA's policy. Besides the SA's
// errors it returns esp.ErrUnknownSPI and, for fewer than 4 bytes or
// offsets outside buf, esp.ErrTruncated; both are counted on the table,
// not on an SA. It allocates nothing.
func (t *InboundTable) Open(buf []byte, off, n int) (payload []byte, nextHeader uint8, sa *esp.SA, err error) {
	if off < 0 || n < 4 || off > len(buf) || n > len(buf)-off {
		t.truncated.Add(1)
		return nil, 0, nil, esp.ErrTruncated
	}
	sa = t.Lookup(binary.BigEndian.Uint32(buf[off:]))
	if sa == nil {
		t.unknownSPI.Add(1)
		return nil, 0, nil, esp.ErrUnknownSPI
	}
	payload, nextHeader, err = sa.Open(buf, off, n)
	return payload, nextHeader, sa, err
}
