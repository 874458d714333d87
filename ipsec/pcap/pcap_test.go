package pcap

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// oneRecord is a whole little-endian pcap file, annotated field by field:
// the file header and one record holding a 20-byte IPv4 header.
var oneRecord = []byte{
	// file header
	0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4, little-endian, microseconds
	0x02, 0x00, 0x04, 0x00, // version 2.4
	0x00, 0x00, 0x00, 0x00, // thiszone 0
	0x00, 0x00, 0x00, 0x00, // sigfigs 0
	0x00, 0x00, 0x04, 0x00, // snaplen 262144
	0x65, 0x00, 0x00, 0x00, // link type 101 (LINKTYPE_RAW)
	// record header
	0x00, 0xf1, 0x53, 0x65, // ts_sec 1700000000 (2023-11-14T22:13:20Z)
	0x40, 0xe2, 0x01, 0x00, // ts_usec 123456
	0x14, 0x00, 0x00, 0x00, // incl_len 20
	0x14, 0x00, 0x00, 0x00, // orig_len 20
	// packet
	0x45, 0x00, 0x00, 0x14, // IPv4, IHL 5, total length 20
	0x00, 0x00, 0x40, 0x00, // ID 0, DF
	0x40, 0x32, 0x00, 0x00, // TTL 64, ESP, checksum (not checked here)
	0xc0, 0x00, 0x02, 0x01, // 192.0.2.1
	0xc6, 0x33, 0x64, 0x02, // 198.51.100.2
}

var oneRecordTime = time.Date(2023, 11, 14, 22, 13, 20, 123456000, time.UTC)

func TestWriterVector(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	// Nanoseconds beyond the microsecond are dropped.
	if err := w.WritePacket(oneRecordTime.Add(789), oneRecord[40:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), oneRecord) {
		t.Fatalf("file\n got % x\nwant % x", buf.Bytes(), oneRecord)
	}
}

func TestReaderVector(t *testing.T) {
	r, err := NewReader(bytes.NewReader(oneRecord))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != LinkTypeRaw || r.SnapLen() != MaxSnapLen || r.Nanosecond() {
		t.Errorf("link %d snaplen %d nano %v", r.LinkType(), r.SnapLen(), r.Nanosecond())
	}
	ts, data, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Equal(oneRecordTime) || !bytes.Equal(data, oneRecord[40:]) {
		t.Errorf("ts %v data % x", ts, data)
	}
	if _, _, err := r.ReadPacket(); err != io.EOF {
		t.Errorf("after last record: %v, want io.EOF", err)
	}
}

// bigEndianNano is oneRecord's packet in a big-endian, nanosecond file
// with FCS bits set above the link type, as some capture cards write.
var bigEndianNano = []byte{
	0xa1, 0xb2, 0x3c, 0x4d, // magic 0xa1b23c4d, big-endian, nanoseconds
	0x00, 0x02, 0x00, 0x04, // version 2.4
	0x00, 0x00, 0x00, 0x00, // thiszone
	0x00, 0x00, 0x00, 0x00, // sigfigs
	0x00, 0x00, 0x00, 0x40, // snaplen 64
	0x14, 0x00, 0x00, 0x01, // FCS length 2 (bits 28-31: 0001, F bit set), link type 1 (Ethernet)
	0x65, 0x53, 0xf1, 0x00, // ts_sec 1700000000
	0x07, 0x5b, 0xd1, 0x15, // ts_nsec 123457813
	0x00, 0x00, 0x00, 0x02, // incl_len 2
	0x00, 0x00, 0x05, 0xdc, // orig_len 1500 (snapped)
	0xab, 0xcd,
}

func TestReaderBigEndianNano(t *testing.T) {
	r, err := NewReader(bytes.NewReader(bigEndianNano))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != LinkTypeEthernet || r.SnapLen() != 64 || !r.Nanosecond() {
		t.Errorf("link %d snaplen %d nano %v", r.LinkType(), r.SnapLen(), r.Nanosecond())
	}
	ts, data, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2023, 11, 14, 22, 13, 20, 123457813, time.UTC); !ts.Equal(want) {
		t.Errorf("ts %v, want %v", ts, want)
	}
	if !bytes.Equal(data, []byte{0xab, 0xcd}) {
		t.Errorf("data % x", data)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, lt := range []uint32{LinkTypeRaw, LinkTypeEthernet} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, lt)
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
		var want [][]byte
		for i := 0; i < 50; i++ {
			p := bytes.Repeat([]byte{byte(i)}, i*37)
			want = append(want, p)
			if err := w.WritePacket(base.Add(time.Duration(i)*time.Millisecond+time.Microsecond), p); err != nil {
				t.Fatal(err)
			}
		}
		big := make([]byte, MaxSnapLen)
		want = append(want, big)
		if err := w.WritePacket(base, big); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if r.LinkType() != lt {
			t.Errorf("link type %d, want %d", r.LinkType(), lt)
		}
		for i, p := range want {
			ts, data, err := r.ReadPacket()
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			wantTS := base.Add(time.Duration(i)*time.Millisecond + time.Microsecond)
			if i == len(want)-1 {
				wantTS = base
			}
			if !ts.Equal(wantTS) || !bytes.Equal(data, p) {
				t.Fatalf("record %d: ts %v len %d", i, ts, len(data))
			}
		}
		if _, _, err := r.ReadPacket(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}
}

func TestNewReaderErrors(t *testing.T) {
	mut := func(i int, v byte) []byte {
		f := append([]byte(nil), oneRecord...)
		f[i] = v
		return f
	}
	for _, c := range []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"23-byte header", oneRecord[:23], ErrTruncated},
		{"pcapng section header", []byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrBadMagic},
		{"magic off by one", mut(0, 0xd5), ErrBadMagic},
		{"version 3.4", mut(4, 3), ErrVersion},
	} {
		if _, err := NewReader(bytes.NewReader(c.file)); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestReadPacketErrors(t *testing.T) {
	withRecord := func(f func(b []byte)) []byte {
		b := append([]byte(nil), oneRecord...)
		f(b)
		return b
	}
	for _, c := range []struct {
		name string
		file []byte
		want error
	}{
		{"record header cut", oneRecord[:30], ErrTruncated},
		{"packet cut", oneRecord[:50], ErrTruncated},
		{"incl_len > snaplen", withRecord(func(b []byte) { b[16], b[17], b[18] = 0x10, 0, 0 }), ErrRecordTooLarge},
		{"incl_len 4 GiB with snaplen 0", withRecord(func(b []byte) {
			b[16], b[17], b[18], b[19] = 0, 0, 0, 0
			b[32], b[33], b[34], b[35] = 0xff, 0xff, 0xff, 0xff
		}), ErrRecordTooLarge},
		{"incl_len MaxSnapLen+1 with snaplen 0", withRecord(func(b []byte) {
			b[16], b[17], b[18], b[19] = 0, 0, 0, 0
			b[32], b[33], b[34], b[35] = 0x01, 0x00, 0x04, 0x00
		}), ErrRecordTooLarge},
		{"usec 1000000", withRecord(func(b []byte) { b[28], b[29], b[30], b[31] = 0x40, 0x42, 0x0f, 0x00 }), ErrTimestamp},
	} {
		r, err := NewReader(bytes.NewReader(c.file))
		if err != nil {
			t.Fatalf("%s: NewReader: %v", c.name, err)
		}
		_, data, err := r.ReadPacket()
		var re *RecordError
		if !errors.Is(err, c.want) || !errors.As(err, &re) || re.Index != 0 || re.Offset != 24 || data != nil {
			t.Errorf("%s: %v, want record 0 at 24: %v", c.name, err, c.want)
		}
		if _, _, again := r.ReadPacket(); again != err {
			t.Errorf("%s: error not sticky: %v", c.name, again)
		}
	}
	// The second record's error names the second record.
	two := append(append([]byte(nil), oneRecord...), oneRecord[24:50]...)
	r, _ := NewReader(bytes.NewReader(two))
	r.ReadPacket()
	_, _, err := r.ReadPacket()
	var re *RecordError
	if !errors.As(err, &re) || re.Index != 1 || re.Offset != 60 || !errors.Is(err, ErrTruncated) {
		t.Errorf("second record: %v", err)
	}
	if got := err.Error(); got != "pcap: record 1 at offset 60: pcap: truncated file" {
		t.Errorf("message %q", got)
	}
}

type failWriter struct{ after int }

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errDisk
	}
	f.after--
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(io.Discard, 228); err != ErrLinkType {
		t.Errorf("link type 228: %v", err)
	}
	if _, err := NewWriter(&failWriter{}, LinkTypeRaw); err != errDisk {
		t.Errorf("header write: %v", err)
	}
	w, _ := NewWriter(io.Discard, LinkTypeRaw)
	if err := w.WritePacket(time.Unix(0, 0), make([]byte, MaxSnapLen+1)); err != ErrRecordTooLarge {
		t.Errorf("too large: %v", err)
	}
	if err := w.WritePacket(time.Unix(-1, 0), nil); err != ErrTimestamp {
		t.Errorf("1969: %v", err)
	}
	if err := w.WritePacket(time.Unix(1<<32, 0), nil); err != ErrTimestamp {
		t.Errorf("2106: %v", err)
	}
	for after := 1; after <= 2; after++ {
		w, _ := NewWriter(&failWriter{after: after}, LinkTypeRaw)
		if err := w.WritePacket(time.Unix(0, 0), []byte{1}); err != errDisk {
			t.Errorf("record write %d: %v", after, err)
		}
	}
}
