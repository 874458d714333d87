package wire

import (
	"bytes"
	"testing"
)

// ikeInit is the start of an IKE_SA_INIT request as it travels on port
// 4500 after a NAT was detected (RFC 3948 section 2.2, RFC 7296 section
// 2.23): non-ESP marker, then the 28-byte IKE header.
var ikeInit = []byte{
	0x00, 0x00, 0x00, 0x00, // non-ESP marker
	0x01, 0x02, 0x03, 0x04, // IKE SA initiator's SPI
	0x05, 0x06, 0x07, 0x08,
	0x00, 0x00, 0x00, 0x00, // IKE SA responder's SPI (zero in IKE_SA_INIT)
	0x00, 0x00, 0x00, 0x00,
	0x21, 0x20, 0x22, 0x08, // next payload SA, version 2.0, exchange IKE_SA_INIT, flags initiator
	0x00, 0x00, 0x00, 0x00, // message ID 0
	0x00, 0x00, 0x00, 0x1c, // length 28
}

func TestClassify(t *testing.T) {
	esp := []byte{
		0x00, 0x00, 0x12, 0x34, // SPI 0x1234: non-zero, so ESP
		0x00, 0x00, 0x00, 0x01, // sequence number
	}
	for _, c := range []struct {
		name string
		p    []byte
		kind Kind
		body []byte
	}{
		{"RFC 3948 2.3 NAT-keepalive 0xFF", []byte{0xff}, KindKeepalive, []byte{0xff}},
		{"RFC 3948 2.2 non-ESP marker + IKE header", ikeInit, KindIKE, ikeInit[4:]},
		{"RFC 3948 2.1 ESP header (non-zero SPI)", esp, KindESP, esp},
		{"SPI with only the low byte set", []byte{0, 0, 0, 1, 0, 0, 0, 0}, KindESP, []byte{0, 0, 0, 1, 0, 0, 0, 0}},
		{"SPI 0xffffffff", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, KindESP, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
		{"empty", nil, KindMalformed, nil},
		{"one byte, not 0xFF", []byte{0x00}, KindMalformed, nil},
		{"0xFF followed by data", []byte{0xff, 0xff}, KindMalformed, nil},
		{"three bytes", []byte{1, 2, 3}, KindMalformed, nil},
		{"ESP shorter than SPI+sequence", esp[:7], KindMalformed, nil},
		{"bare non-ESP marker", ikeInit[:4], KindMalformed, nil},
		{"marker + 27 bytes of IKE", ikeInit[:31], KindMalformed, nil},
	} {
		kind, body := Classify(c.p)
		if kind != c.kind || !bytes.Equal(body, c.body) || (body == nil) != (c.body == nil) {
			t.Errorf("%s: Classify = %v % x, want %v % x", c.name, kind, body, c.kind, c.body)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindMalformed: "malformed", KindESP: "ESP", KindIKE: "IKE",
		KindKeepalive: "NAT-keepalive", Kind(200): "malformed",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d) = %q, want %q", k, got, want)
		}
	}
}

func TestPutNonESPMarker(t *testing.T) {
	buf := []byte{0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01, 0x02}
	off, err := PutNonESPMarker(buf, 5)
	if err != nil || off != 1 {
		t.Fatalf("off %d err %v", off, err)
	}
	if want := []byte{0xaa, 0, 0, 0, 0, 0x01, 0x02}; !bytes.Equal(buf, want) {
		t.Fatalf("buf % x, want % x", buf, want)
	}
	if _, err := PutNonESPMarker(buf, 3); err != ErrHeadroom {
		t.Errorf("off 3: %v", err)
	}
	if _, err := PutNonESPMarker(buf, 8); err != ErrBounds {
		t.Errorf("off 8: %v", err)
	}
	if _, err := PutNonESPMarker(buf, -1); err != ErrBounds {
		t.Errorf("off -1: %v", err)
	}
}

func TestErrorText(t *testing.T) {
	for e := ErrTruncated; e <= ErrBounds; e++ {
		if s := e.Error(); s == "" || s == "wire: unknown error" {
			t.Errorf("Error(%d) has no text", e)
		}
	}
	if s := Error(0).Error(); s != "wire: unknown error" {
		t.Errorf("Error(0) = %q", s)
	}
}
