// Package pcap reads and writes classic libpcap capture files, the format
// of tcpdump -w and of Wireshark's "Wireshark/tcpdump - pcap": a 24-byte
// file header (magic, version 2.4, snapshot length, link type) followed by
// records of a 16-byte header and the packet bytes. See
// draft-ietf-opsawg-pcap for the format.
//
// Peregrine uses it for golden captures of ESP packets that an independent
// decoder (tshark) can check, and for test fixtures. It is written here,
// in about 150 lines, rather than taken from gopacket, because gopacket's
// pcap support brings cgo and libpcap along, and the file format is simple
// enough to own. It does not do pcapng.
//
// The Writer always writes little-endian, microsecond files, so that the
// same packets and timestamps produce the same bytes on every machine
// (golden files depend on that). The Reader takes both byte orders and both
// the microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d) magic. A
// hostile file cannot make it allocate more than MaxSnapLen per record.
package pcap

import (
	"errors"
	"strconv"
)

// Link types (the LINKTYPE_ values of tcpdump.org/linktypes.html) this
// package writes. The Reader reports any link type.
const (
	LinkTypeEthernet = 1   // IEEE 802.3 Ethernet
	LinkTypeRaw      = 101 // raw IP: each packet starts with an IPv4 or IPv6 header
)

// MaxSnapLen bounds the size of one record: the largest snapshot length
// libpcap itself uses (MAXIMUM_SNAPLEN). Writers use it as the snapshot
// length; readers refuse records larger than it, whatever the file says.
const MaxSnapLen = 262144

const (
	magicMicro       = 0xa1b2c3d4
	magicNano        = 0xa1b23c4d
	fileHeaderLen    = 24
	recordHeaderLen  = 16
	versionMajor     = 2
	versionMinor     = 4
	linkTypeMask     = 0xffff // upper bits carry FCS information, not the type
	maxTimestampSecs = 1<<32 - 1
)

// Errors. A Reader returns the file-level ones from NewReader and wraps the
// record-level ones in a *RecordError saying which record failed; match
// either with errors.Is.
var (
	// ErrBadMagic: not a classic pcap file (or pcapng, which is not read).
	ErrBadMagic = errors.New("pcap: bad magic number")
	// ErrVersion: a major version other than 2.
	ErrVersion = errors.New("pcap: unsupported version")
	// ErrTruncated: the file ends inside a header or a packet.
	ErrTruncated = errors.New("pcap: truncated file")
	// ErrRecordTooLarge: a record longer than the file's snapshot length or
	// than MaxSnapLen; on write, a packet longer than MaxSnapLen.
	ErrRecordTooLarge = errors.New("pcap: record larger than snapshot length")
	// ErrTimestamp: a fraction of a second out of range on read, or a time
	// before 1970 or after 2106 on write.
	ErrTimestamp = errors.New("pcap: timestamp out of range")
	// ErrLinkType: the Writer was asked for a link type it does not write.
	ErrLinkType = errors.New("pcap: unsupported link type")
)

// RecordError says which record (counting from 0) of a file was bad and
// where it started.
type RecordError struct {
	Index  int
	Offset int64 // byte offset of the record header in the file
	Err    error
}

func (e *RecordError) Error() string {
	return "pcap: record " + strconv.Itoa(e.Index) + " at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }
