package pcap

import (
	"encoding/binary"
	"errors"
	"io"
	"time"
)

// Reader reads packets from a pcap file.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	snapLen  uint32
	linkType uint32
	index    int   // of the next record
	offset   int64 // of the next record
	err      error // sticky: once a record fails, every later call fails alike
	hdr      [recordHeaderLen]byte
}

// NewReader reads and checks the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, ErrTruncated
		}
		return nil, err
	}
	rd := &Reader{r: r, offset: fileHeaderLen}
	switch {
	case binary.LittleEndian.Uint32(h[0:]) == magicMicro:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[0:]) == magicMicro:
		rd.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h[0:]) == magicNano:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[0:]) == magicNano:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, ErrBadMagic
	}
	if rd.order.Uint16(h[4:]) != versionMajor {
		return nil, ErrVersion
	}
	rd.snapLen = rd.order.Uint32(h[16:])
	rd.linkType = rd.order.Uint32(h[20:]) & linkTypeMask
	return rd, nil
}

// LinkType is the file's link type (LinkTypeRaw, LinkTypeEthernet, ...).
func (r *Reader) LinkType() uint32 { return r.linkType }

// SnapLen is the file's snapshot length as written (0 in some old files).
func (r *Reader) SnapLen() uint32 { return r.snapLen }

// Nanosecond reports whether the file has nanosecond timestamps.
func (r *Reader) Nanosecond() bool { return r.nano }

// ReadPacket returns the next packet, in a new slice the caller owns, with
// its timestamp in UTC. At the end of the file it returns io.EOF; a file
// that ends inside a record returns ErrTruncated. Record-level errors come
// wrapped in a *RecordError, and are sticky: the position in the stream is
// lost, so every later call returns the same error. The captured length is
// checked against the snapshot length and MaxSnapLen before anything is
// allocated.
func (r *Reader) ReadPacket() (ts time.Time, data []byte, err error) {
	if r.err != nil {
		return time.Time{}, nil, r.err
	}
	n, err := io.ReadFull(r.r, r.hdr[:])
	switch {
	case err == io.EOF:
		return time.Time{}, nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return time.Time{}, nil, r.fail(ErrTruncated)
	case err != nil:
		return time.Time{}, nil, r.fail(err)
	}
	secs := r.order.Uint32(r.hdr[0:])
	frac := r.order.Uint32(r.hdr[4:])
	incl := r.order.Uint32(r.hdr[8:])
	if incl > MaxSnapLen || (r.snapLen != 0 && incl > r.snapLen) {
		return time.Time{}, nil, r.fail(ErrRecordTooLarge)
	}
	nsec := int64(frac) * 1000
	if r.nano {
		nsec = int64(frac)
	}
	if nsec >= int64(time.Second) {
		return time.Time{}, nil, r.fail(ErrTimestamp)
	}
	data = make([]byte, incl)
	if _, err := io.ReadFull(r.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = ErrTruncated
		}
		return time.Time{}, nil, r.fail(err)
	}
	r.index++
	r.offset += int64(n) + int64(incl)
	return time.Unix(int64(secs), nsec).UTC(), data, nil
}

func (r *Reader) fail(err error) error {
	r.err = &RecordError{Index: r.index, Offset: r.offset, Err: err}
	return r.err
}
