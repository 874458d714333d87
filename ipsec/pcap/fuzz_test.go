package pcap

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// FuzzReader: any bytes either fail cleanly or give packets that survive a
// write and a second read unchanged (timestamps to the microsecond).
func FuzzReader(f *testing.F) {
	f.Add(oneRecord)
	f.Add(bigEndianNano)
	f.Add(oneRecord[:30])
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			return
		}
		type pkt struct {
			ts   time.Time
			data []byte
		}
		var pkts []pkt
		for {
			ts, data, err := r.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *RecordError
				if !errors.As(err, &re) {
					t.Fatalf("unwrapped error %v", err)
				}
				return
			}
			if len(data) > MaxSnapLen || (r.SnapLen() != 0 && len(data) > int(r.SnapLen())) {
				t.Fatalf("record of %d bytes, snaplen %d", len(data), r.SnapLen())
			}
			pkts = append(pkts, pkt{ts, data})
		}
		lt := r.LinkType()
		if lt != LinkTypeRaw && lt != LinkTypeEthernet {
			return
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, lt)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if err := w.WritePacket(p.ts, p.data); err != nil {
				t.Fatal(err)
			}
		}
		r2, err := NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pkts {
			ts, data, err := r2.ReadPacket()
			if err != nil {
				t.Fatalf("re-read %d: %v", i, err)
			}
			if !ts.Equal(p.ts.Truncate(time.Microsecond)) || !bytes.Equal(data, p.data) {
				t.Fatalf("re-read %d: ts %v want %v", i, ts, p.ts)
			}
		}
	})
}
