package replay

import (
	"encoding/binary"
	"testing"
)

// FuzzWindow feeds the window and the map model the same operations and
// fails on any disagreement. The input is a window size selector followed by
// 9-byte records: an opcode byte (low bit: absolute number or delta from the
// current top; the other 7 bits: bytes to count, in units of 517) and 8
// bytes of number. Top and Accepted must match too.
func FuzzWindow(f *testing.F) {
	rec := func(op byte, v uint64) []byte {
		b := []byte{op}
		return binary.BigEndian.AppendUint64(b, v)
	}
	seed := []byte{0}
	for _, r := range [][]byte{rec(0, 1), rec(0, 1), rec(0, 70), rec(0, 3), rec(1, 9000), rec(0, 0), rec(254, 200), rec(0, 1<<32+5), rec(1, 1<<13+1)} {
		seed = append(seed, r...)
	}
	f.Add(seed)
	f.Add(append([]byte{255}, rec(0, ^uint64(0))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		size := MinSize + int(data[0])*(MaxSize-MinSize)/255
		var w Window
		if err := w.Init(size); err != nil {
			t.Fatal(err)
		}
		m := newModel(size)
		var packets, bytes uint64
		for data = data[1:]; len(data) >= 9; data = data[9:] {
			v := binary.BigEndian.Uint64(data[1:9])
			seq := v
			if data[0]&1 == 1 {
				// Relative: top + small signed delta, to stay near the window.
				seq = m.top + uint64(int64(int16(v)))
			}
			if got, want := w.Check(seq), m.check(seq); got != want {
				t.Fatalf("Check(%d) = %v, model %v (top %d size %d)", seq, got, want, m.top, size)
			}
			// The opcode's high bits pick a byte count; 127 x 517 is
			// more than a slot holds, which the window tallies apart.
			n := uint64(data[0]>>1) * 517
			if got, want := w.UpdateCounted(seq, n), m.update(seq); got != want {
				t.Fatalf("UpdateCounted(%d) = %v, model %v (top %d size %d)", seq, got, want, m.top, size)
			} else if got == nil {
				packets, bytes = packets+1, bytes+n
			}
			if w.Top() != m.top {
				t.Fatalf("Top = %d, model %d", w.Top(), m.top)
			}
		}
		if p, b := w.Accepted(); p != packets || b != bytes {
			t.Fatalf("Accepted() = %d, %d; want %d, %d", p, b, packets, bytes)
		}
	})
}
