package mpls

// Fuzz targets for everything that reads untrusted bytes or text. Failing
// inputs found by `go test -fuzz` are kept in testdata/fuzz/<Target>/ and
// run as regression tests by a plain `go test`.

import (
	"bytes"
	"testing"
)

func FuzzParseStack(f *testing.F) {
	for _, v := range entryVectors {
		f.Add(v.wire)
	}
	f.Add([]byte{})
	f.Add(stackOf(3, 20))
	f.Add(stackOf(MaxStackDepth, 0))
	f.Add(stackOf(MaxStackDepth+1, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		s, err := ParseStack(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("ParseStack modified its input")
		}
		// Oracle: find the first S bit entry by entry through StackEntry.
		depth := 0
		for i := 0; i+EntrySize <= len(data) && i < MaxStackDepth*EntrySize; i += EntrySize {
			if StackEntry(data[i:]).BottomOfStack() {
				depth = i/EntrySize + 1
				break
			}
		}
		switch {
		case depth > 0:
			if err != nil {
				t.Fatalf("ParseStack(% x) = %v, but entry %d has S set", data, err, depth-1)
			}
		case len(data) >= MaxStackDepth*EntrySize:
			if err != ErrTooDeep {
				t.Fatalf("ParseStack(% x) err = %v, want ErrTooDeep", data, err)
			}
		default:
			if err != ErrTruncated {
				t.Fatalf("ParseStack(% x) err = %v, want ErrTruncated", data, err)
			}
		}
		if err != nil {
			if s != nil {
				t.Fatal("non-nil Stack with error")
			}
			return
		}
		if s.Depth() != depth || len(s) != depth*EntrySize || s.Validate() != nil {
			t.Fatalf("stack depth %d len %d, oracle depth %d; Validate %v", s.Depth(), len(s), depth, s.Validate())
		}
		// Round trip: decode every entry to a value and encode it again.
		re := make([]byte, len(s))
		for i := range s.Depth() {
			s.Entry(i).Entry().Encode(re[i*EntrySize:])
		}
		if !bytes.Equal(re, s) {
			t.Fatalf("re-encoded % x, parsed % x", re, []byte(s))
		}
		if verr := Stack(data).Validate(); (verr == nil) != (len(data) == len(s)) {
			t.Fatalf("Validate of whole input = %v, stack is %d of %d bytes", verr, len(s), len(data))
		}
	})
}

// FuzzLabelOps throws arbitrary buffers, offsets and labels at Push, Pop
// and Swap: none may panic, failures leave the buffer alone, and a Push
// must Pop back to what was pushed.
func FuzzLabelOps(f *testing.F) {
	f.Add([]byte{0xee, 0xee, 0xee, 0xee, 0x00, 0x06, 0x41, 0x40}, 4, 4, uint32(100), uint8(0), uint8(64), true)
	f.Add([]byte{0x05, 0xdc, 0x00, 0x01}, 0, 4, uint32(24000), uint8(7), uint8(1), false)
	f.Add([]byte{}, -1, 0, uint32(1<<20), uint8(8), uint8(0), false)
	f.Add(make([]byte, 12), 12, 0, uint32(3), uint8(0), uint8(255), true)
	f.Fuzz(func(t *testing.T, buf []byte, off, n int, label uint32, tc, ttl uint8, bottom bool) {
		l := Label(label)

		// Pop
		orig := bytes.Clone(buf)
		e, off2, n2, err := Pop(buf, off, n)
		if !bytes.Equal(buf, orig) {
			t.Fatal("Pop modified the buffer")
		}
		if err != nil {
			if off2 != off || n2 != n {
				t.Fatal("failed Pop moved the window")
			}
		} else if e != StackEntry(buf[off:]).Entry() || off2 != off+EntrySize || n2 != n-EntrySize {
			t.Fatalf("Pop = %+v, %d, %d", e, off2, n2)
		}

		// Swap on the window, if it is one.
		if off >= 0 && n >= 0 && off <= len(buf) && n <= len(buf)-off {
			pkt := buf[off : off+n]
			before := bytes.Clone(pkt)
			if err := Swap(pkt, l); err != nil {
				if !bytes.Equal(pkt, before) {
					t.Fatalf("failed Swap (%v) modified the packet", err)
				}
			} else {
				old, now := StackEntry(before).Entry(), StackEntry(pkt).Entry()
				want := Entry{Label: l, TC: old.TC, Bottom: old.Bottom, TTL: old.TTL - 1}
				if now != want || old.TTL < 2 || !bytes.Equal(pkt[EntrySize:], before[EntrySize:]) {
					t.Fatalf("Swap(% x, %d) gave %+v, want %+v", before, l, now, want)
				}
			}
		}

		// Push, then Pop what was pushed.
		orig = bytes.Clone(buf)
		newOff, err := Push(buf, off, l, tc, ttl, bottom)
		if err != nil {
			if newOff != off || !bytes.Equal(buf, orig) {
				t.Fatalf("failed Push (%v) modified the buffer", err)
			}
			return
		}
		if !l.IsValid() || l == ImplicitNull || tc > 7 || newOff != off-EntrySize {
			t.Fatalf("Push accepted label %d tc %d off %d -> %d", label, tc, off, newOff)
		}
		e, off3, _, err := Pop(buf, newOff, EntrySize)
		if err != nil || off3 != off || e != (Entry{Label: l, TC: tc, Bottom: bottom, TTL: ttl}) {
			t.Fatalf("Pop after Push = %+v, %v", e, err)
		}
	})
}

// FuzzTTL runs IngressTTL and EgressTTL on arbitrary packets: no panics,
// failures leave the packet alone, successes take exactly the documented
// number of hops off the IP TTL and keep the IPv4 checksum exactly as a
// full recomputation would (or exactly as wrong as it was).
func FuzzTTL(f *testing.F) {
	f.Add(ipv4Header(), uint8(0), uint8(50))
	f.Add(ipv6Header(), uint8(1), uint8(1))
	f.Add(withTTL(ipv4Header(), 1), uint8(1), uint8(255))
	f.Add([]byte{0x46, 0, 0, 0}, uint8(0), uint8(64))
	f.Fuzz(func(t *testing.T, pkt []byte, mode, labelTTL uint8) {
		m := TTLMode(mode % 3) // include one invalid mode
		ipBefore, ipErr := ipTTL(pkt)
		isV4 := ipErr == nil && pkt[0]>>4 == 4
		sumOK := isV4 && ipv4ChecksumOK(pkt)

		check := func(name string, before []byte, err error, wantTTL uint8) {
			t.Helper()
			if err != nil {
				if !bytes.Equal(pkt, before) {
					t.Fatalf("failed %s (%v) modified the packet", name, err)
				}
				return
			}
			if got, _ := ipTTL(pkt); got != wantTTL {
				t.Fatalf("%s: IP TTL %d -> %d, want %d", name, ipBefore, got, wantTTL)
			}
			if isV4 {
				if ipv4ChecksumOK(pkt) != sumOK {
					t.Fatalf("%s: checksum validity changed from %v", name, sumOK)
				}
				if got := uint16(pkt[10])<<8 | uint16(pkt[11]); sumOK && got != ipv4Checksum(pkt) {
					t.Fatalf("%s: checksum %#04x, recomputed %#04x", name, got, ipv4Checksum(pkt))
				}
			}
			diff := 0
			for i := range pkt {
				if pkt[i] != before[i] {
					diff++
				}
			}
			if diff > 3 { // TTL and the two checksum bytes at most
				t.Fatalf("%s changed %d bytes", name, diff)
			}
		}

		before := bytes.Clone(pkt)
		want := ipBefore - 1
		if m == Uniform {
			want = min(ipBefore, labelTTL) - 1
		}
		err := EgressTTL(m, labelTTL, pkt)
		if (err == nil) != (m.IsValid() && ipErr == nil && ipBefore > 1 && labelTTL > 1) {
			t.Fatalf("EgressTTL(%v, %d, ip TTL %d / %v) = %v", m, labelTTL, ipBefore, ipErr, err)
		}
		check("EgressTTL", before, err, want)

		pkt = bytes.Clone(before)
		lt, err := IngressTTL(m, pkt)
		if (err == nil) != (m.IsValid() && ipErr == nil && ipBefore > 1) {
			t.Fatalf("IngressTTL(%v, ip TTL %d / %v) = %v", m, ipBefore, ipErr, err)
		}
		check("IngressTTL", before, err, ipBefore-1)
		if err == nil && ((m == Pipe && lt != PipeTTL) || (m == Uniform && lt != ipBefore-1)) {
			t.Fatalf("IngressTTL(%v) label TTL %d from IP TTL %d", m, lt, ipBefore)
		}
	})
}

// FuzzParseLabel checks that ParseLabel and ParseRange accept only
// canonical text: whatever they accept prints back to the same string.
func FuzzParseLabel(f *testing.F) {
	for _, s := range []string{"0", "3", "16", "1048575", "1048576", "016", "", "+1", "16-1048575", "1000-999", "0-15"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if l, err := ParseLabel(s); err == nil {
			if !l.IsValid() || l.String() != s {
				t.Fatalf("ParseLabel(%q) = %d, prints %q", s, l, l.String())
			}
		}
		if r, err := ParseRange(s); err == nil {
			if r.Validate() != nil || r.String() != s {
				t.Fatalf("ParseRange(%q) = %v, prints %q", s, r, r.String())
			}
		}
	})
}
