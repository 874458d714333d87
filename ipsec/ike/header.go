package ike

import (
	"encoding/binary"
	"fmt"
)

// HeaderLen is the fixed IKE header (RFC 7296 section 3.1).
const HeaderLen = 28

// Header is a view of the IKE header at the start of a message:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       IKE SA Initiator's SPI                  |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       IKE SA Responder's SPI                  |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Message ID                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                            Length                             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Accessors trust the length: obtain a Header from ParseHeader.
type Header []byte

// ParseHeader checks that b starts with a version-2 IKE header whose Length
// is exactly len(b) (a UDP datagram carries one message, RFC 7296 section
// 2), and returns the view.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return nil, perr("header", 0, ErrTruncated)
	}
	h := Header(b[:HeaderLen])
	if h[17]>>4 != 2 {
		return nil, perr("header", 17, ErrBadVersion)
	}
	if int(h.Length()) != len(b) {
		return nil, perr("header length", 24, ErrBadLength)
	}
	return h, nil
}

// SPIi is the initiator's SPI.
func (h Header) SPIi() uint64 { return binary.BigEndian.Uint64(h[0:8]) }

// SPIr is the responder's SPI (zero in the first IKE_SA_INIT request).
func (h Header) SPIr() uint64 { return binary.BigEndian.Uint64(h[8:16]) }

// NextPayload is the type of the first payload.
func (h Header) NextPayload() PayloadType { return PayloadType(h[16]) }

// Exchange is the exchange type.
func (h Header) Exchange() ExchangeType { return ExchangeType(h[18]) }

// Flags holds the Initiator, Version and Response bits.
func (h Header) Flags() Flags { return Flags(h[19]) }

// MessageID is the message ID.
func (h Header) MessageID() uint32 { return binary.BigEndian.Uint32(h[20:24]) }

// Length is the whole message's length, header included.
func (h Header) Length() uint32 { return binary.BigEndian.Uint32(h[24:28]) }

// putHeader writes a header with version 2.0 into b[:HeaderLen].
func putHeader(b []byte, spiI, spiR uint64, next PayloadType, x ExchangeType, f Flags, id, length uint32) {
	binary.BigEndian.PutUint64(b[0:8], spiI)
	binary.BigEndian.PutUint64(b[8:16], spiR)
	b[16] = byte(next)
	b[17] = 2 << 4
	b[18] = byte(x)
	b[19] = byte(f)
	binary.BigEndian.PutUint32(b[20:24], id)
	binary.BigEndian.PutUint32(b[24:28], length)
}

// ExchangeType is the IKE exchange (RFC 7296 section 3.1).
type ExchangeType uint8

// The exchanges this implementation speaks.
const (
	IKESAInit     ExchangeType = 34
	IKEAuth       ExchangeType = 35
	CreateChildSA ExchangeType = 36
	Informational ExchangeType = 37
)

func (x ExchangeType) String() string {
	switch x {
	case IKESAInit:
		return "IKE_SA_INIT"
	case IKEAuth:
		return "IKE_AUTH"
	case CreateChildSA:
		return "CREATE_CHILD_SA"
	case Informational:
		return "INFORMATIONAL"
	}
	return fmt.Sprintf("EXCHANGE(%d)", uint8(x))
}

// Flags are the header flags.
type Flags uint8

// Header flag bits (RFC 7296 section 3.1).
const (
	FlagInitiator Flags = 0x08 // sent by the original initiator of the IKE SA
	FlagVersion   Flags = 0x10 // sender could speak a higher major version
	FlagResponse  Flags = 0x20 // this message is a response
)
