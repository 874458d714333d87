package mpls

// This file is the wire format: views over label stack bytes in the shape of
// gVisor's header.IPv4, so the packet path reads and writes fields where
// they lie instead of decoding into structs and back.

import "strconv"

const (
	// EntrySize is the size of one label stack entry in bytes.
	EntrySize = 4

	// MaxStackDepth is the deepest label stack ParseStack walks. RFC 3032
	// sets no limit; 16 entries is far more than a PE needs (VPN label +
	// transport + entropy pair + a segment-routing list of ~10) and bounds
	// the work an attacker can make us do per packet.
	MaxStackDepth = 16

	tcShift = 1 // TC occupies bits 1-3 of byte 2 (bits 20-22 of the entry)
	maxTC   = 7
)

// StackEntry is a view over one 4-byte label stack entry, laid out as in
// RFC 3032 section 2.1 (RFC 5462 renamed the "Exp" field Traffic Class):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ Label
//	|                Label                  | TC  |S|       TTL     | Stack
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ Entry
//
//	Label: label value, 20 bits
//	TC:    traffic class, 3 bits
//	S:     bottom of stack, 1 bit (set on the last entry only)
//	TTL:   time to live, 8 bits
//
// Worked example: label 100, TC 0, S=1, TTL 64 is 100<<12 | 0<<9 | 1<<8 | 64
// = 0x00064140, sent as 0x00 0x06 0x41 0x40.
//
// Like gVisor's header views, accessors and setters index the bytes of
// their field and panic if the slice is too short: check IsValid, or get
// the entry from ParseStack, Stack.Entry or a length-checked slice.
type StackEntry []byte

// IsValid reports whether e is long enough to hold an entry.
func (e StackEntry) IsValid() bool { return len(e) >= EntrySize }

// Label returns the 20-bit label value.
func (e StackEntry) Label() Label {
	_ = e[2] // one bounds check for the three loads below
	return Label(uint32(e[0])<<12 | uint32(e[1])<<4 | uint32(e[2])>>4)
}

// TC returns the 3-bit traffic class.
func (e StackEntry) TC() uint8 { return e[2] >> tcShift & maxTC }

// BottomOfStack reports whether the S bit is set.
func (e StackEntry) BottomOfStack() bool { return e[2]&1 != 0 }

// TTL returns the time-to-live field.
func (e StackEntry) TTL() uint8 { return e[3] }

// SetLabel sets the label value, keeping TC, S and TTL. Only the low 20
// bits of l are written; pass a valid Label.
func (e StackEntry) SetLabel(l Label) {
	_ = e[2]
	e[0] = byte(l >> 12)
	e[1] = byte(l >> 4)
	e[2] = byte(l<<4) | e[2]&0x0f
}

// SetTC sets the traffic class, keeping the other fields. Only the low 3
// bits of tc are written.
func (e StackEntry) SetTC(tc uint8) {
	e[2] = e[2]&^(maxTC<<tcShift) | (tc&maxTC)<<tcShift
}

// SetBottomOfStack sets or clears the S bit.
func (e StackEntry) SetBottomOfStack(s bool) {
	if s {
		e[2] |= 1
	} else {
		e[2] &^= 1
	}
}

// SetTTL sets the time-to-live field.
func (e StackEntry) SetTTL(ttl uint8) { e[3] = ttl }

// Entry decodes e into a value.
func (e StackEntry) Entry() Entry {
	return Entry{Label: e.Label(), TC: e.TC(), Bottom: e.BottomOfStack(), TTL: e.TTL()}
}

// EncodeEntry writes one label stack entry into b[0:EntrySize]. It is the
// unchecked building block under Push: only the low 20 bits of l and the
// low 3 bits of tc are written, and it panics if len(b) < EntrySize.
func EncodeEntry(b []byte, l Label, tc uint8, s bool, ttl uint8) {
	_ = b[3]
	var bos byte
	if s {
		bos = 1
	}
	b[0] = byte(l >> 12)
	b[1] = byte(l >> 4)
	b[2] = byte(l<<4) | (tc&maxTC)<<tcShift | bos
	b[3] = ttl
}

// Entry is a decoded label stack entry.
type Entry struct {
	Label  Label
	TC     uint8 // traffic class, 0-7
	Bottom bool  // the S bit
	TTL    uint8
}

// Encode writes e into b[0:EntrySize] with EncodeEntry.
func (e Entry) Encode(b []byte) { EncodeEntry(b, e.Label, e.TC, e.Bottom, e.TTL) }

// String formats e the way tcpdump prints an MPLS header, with the name
// of a special-purpose label after its number:
// "label 3 (implicit-null), tc 0, [S], ttl 64".
func (e Entry) String() string {
	b := make([]byte, 0, 64)
	b = append(b, "label "...)
	b = strconv.AppendUint(b, uint64(e.Label), 10)
	if n := e.Label.Name(); n != "" {
		b = append(b, " ("...)
		b = append(b, n...)
		b = append(b, ')')
	}
	b = append(b, ", tc "...)
	b = strconv.AppendUint(b, uint64(e.TC), 10)
	if e.Bottom {
		b = append(b, ", [S]"...)
	}
	b = append(b, ", ttl "...)
	b = strconv.AppendUint(b, uint64(e.TTL), 10)
	return string(b)
}

// Stack is a view over a whole label stack: one or more entries, only the
// last of which has the S bit set. Get one from ParseStack; the payload
// (usually an IP packet) starts at len(stack) in the parsed buffer.
type Stack []byte

// ParseStack walks b from its first entry to the first entry with the S
// bit set and returns that prefix of b as a Stack (its capacity is clipped
// so appending to it cannot overwrite the payload). It returns
// ErrTruncated if b ends before an entry with S set, and ErrTooDeep if
// MaxStackDepth entries pass without one. It never panics and never
// allocates, whatever b holds.
func ParseStack(b []byte) (Stack, error) {
	for end := EntrySize; end <= MaxStackDepth*EntrySize; end += EntrySize {
		if len(b) < end {
			return nil, ErrTruncated
		}
		if b[end-2]&1 != 0 { // S bit of the entry ending at end
			return Stack(b[:end:end]), nil
		}
	}
	return nil, ErrTooDeep
}

// Validate reports whether s is exactly one well-formed label stack: a
// whole number of entries, at most MaxStackDepth, with S set on the last
// entry and on no other. It returns ParseStack's errors, or
// ErrTrailingBytes if an entry before the last has S set or the length is
// not a multiple of EntrySize after it. It is for stacks built or edited
// by hand; a Stack fresh from ParseStack is always valid. It never panics.
func (s Stack) Validate() error {
	p, err := ParseStack(s)
	if err != nil {
		return err
	}
	if len(p) != len(s) {
		return ErrTrailingBytes
	}
	return nil
}

// Depth returns the number of entries in s.
func (s Stack) Depth() int { return len(s) / EntrySize }

// Entry returns a view of the i'th entry, 0 being the top (outermost). It
// panics if i is out of range, like indexing a slice.
func (s Stack) Entry(i int) StackEntry {
	return StackEntry(s[i*EntrySize : (i+1)*EntrySize : (i+1)*EntrySize])
}

// Top returns a view of the top entry, the one a router looks up.
func (s Stack) Top() StackEntry { return s.Entry(0) }

// Bottom returns a view of the bottom entry, the one with S set: on a PE,
// the VPN label.
func (s Stack) Bottom() StackEntry { return s.Entry(s.Depth() - 1) }
