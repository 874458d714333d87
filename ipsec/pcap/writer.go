package pcap

import (
	"encoding/binary"
	"io"
	"time"
)

// Writer appends packets to a pcap file. It buffers nothing: each
// WritePacket is two writes to the underlying io.Writer (wrap it in a
// bufio.Writer for many packets).
type Writer struct {
	w   io.Writer
	hdr [recordHeaderLen]byte
}

// NewWriter writes a pcap file header for linkType (LinkTypeRaw or
// LinkTypeEthernet) with snapshot length MaxSnapLen, microsecond
// timestamps and little-endian fields.
func NewWriter(w io.Writer, linkType uint32) (*Writer, error) {
	if linkType != LinkTypeRaw && linkType != LinkTypeEthernet {
		return nil, ErrLinkType
	}
	var h [fileHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magicMicro)
	le.PutUint16(h[4:], versionMajor)
	le.PutUint16(h[6:], versionMinor)
	// h[8:16]: thiszone and sigfigs, always zero in practice.
	le.PutUint32(h[16:], MaxSnapLen)
	le.PutUint32(h[20:], linkType)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// WritePacket appends one record: ts, truncated to the microsecond, and
// data, which is captured whole (the captured and original lengths are
// equal).
func (w *Writer) WritePacket(ts time.Time, data []byte) error {
	if len(data) > MaxSnapLen {
		return ErrRecordTooLarge
	}
	secs := ts.Unix()
	if secs < 0 || secs > maxTimestampSecs {
		return ErrTimestamp
	}
	le := binary.LittleEndian
	le.PutUint32(w.hdr[0:], uint32(secs))
	le.PutUint32(w.hdr[4:], uint32(ts.Nanosecond()/1000))
	le.PutUint32(w.hdr[8:], uint32(len(data)))
	le.PutUint32(w.hdr[12:], uint32(len(data)))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return err
	}
	_, err := w.w.Write(data)
	return err
}
