package ike

import (
	"encoding/binary"
)

// KE is the Key Exchange payload (RFC 7296 section 3.4):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Diffie-Hellman Group Num    |           RESERVED            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       Key Exchange Data                       ~
type KE struct {
	Group DHGroup
	Data  []byte
}

// ParseKE parses a KE payload body.
func ParseKE(b []byte) (KE, error) {
	if len(b) < 4 {
		return KE{}, perr("KE payload", 0, ErrTruncated)
	}
	return KE{Group: DHGroup(binary.BigEndian.Uint16(b)), Data: b[4:]}, nil
}

// Payload encodes the KE payload.
func (k KE) Payload() Payload {
	b := append([]byte{byte(k.Group >> 8), byte(k.Group), 0, 0}, k.Data...)
	return Payload{Type: PayloadKE, Body: b}
}

// Nonce bounds (RFC 7296 section 3.9).
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// ParseNonce checks a Nonce payload body and returns the nonce.
func ParseNonce(b []byte) ([]byte, error) {
	if len(b) < MinNonceLen || len(b) > MaxNonceLen {
		return nil, perr("nonce", 0, ErrBadLength)
	}
	return b, nil
}

// NoncePayload encodes a Nonce payload.
func NoncePayload(n []byte) Payload { return Payload{Type: PayloadNonce, Body: n} }

// ID is the IDi or IDr payload body:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   ID Type     |                 RESERVED                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                   Identification Data                         ~
//
// The whole body is what AUTH covers (RestOfInitIDPayload, section 2.15).
type ID struct {
	Type IDType
	Data []byte
}

// ParseID parses an identification payload body.
func ParseID(b []byte) (ID, error) {
	if len(b) < 5 {
		return ID{}, perr("ID payload", 0, ErrTruncated)
	}
	return ID{Type: IDType(b[0]), Data: b[4:]}, nil
}

// body is the encoded body, the input of MACedIDFor*.
func (id ID) body() []byte { return append([]byte{byte(id.Type), 0, 0, 0}, id.Data...) }

// Payload encodes the ID as IDi (initiator) or IDr.
func (id ID) Payload(initiator bool) Payload {
	t := PayloadIDr
	if initiator {
		t = PayloadIDi
	}
	return Payload{Type: t, Body: id.body()}
}

// AuthMethod is the AUTH payload's method (RFC 7296 section 3.8).
type AuthMethod uint8

// AuthPSK is Shared Key Message Integrity Code; AuthDigitalSignature
// (cert_payloads.go) is the other method spoken.
const AuthPSK AuthMethod = 2

// Auth is the AUTH payload body.
type Auth struct {
	Method AuthMethod
	Data   []byte
}

// ParseAuth parses an AUTH payload body.
func ParseAuth(b []byte) (Auth, error) {
	if len(b) < 5 {
		return Auth{}, perr("AUTH payload", 0, ErrTruncated)
	}
	return Auth{Method: AuthMethod(b[0]), Data: b[4:]}, nil
}

// Payload encodes the AUTH payload.
func (a Auth) Payload() Payload {
	return Payload{Type: PayloadAUTH, Body: append([]byte{byte(a.Method), 0, 0, 0}, a.Data...)}
}

// Notify is the Notify payload (RFC 7296 section 3.10):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Protocol ID  |   SPI Size    |      Notify Message Type      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                Security Parameter Index (SPI)                 ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                       Notification Data                       ~
type Notify struct {
	Protocol ProtocolID
	SPI      []byte
	Type     NotifyType
	Data     []byte
}

// ParseNotify parses a Notify payload body.
func ParseNotify(b []byte) (Notify, error) {
	if len(b) < 4 {
		return Notify{}, perr("Notify payload", 0, ErrTruncated)
	}
	spi := int(b[1])
	if 4+spi > len(b) {
		return Notify{}, perr("Notify SPI", 1, ErrBadLength)
	}
	return Notify{
		Protocol: ProtocolID(b[0]),
		Type:     NotifyType(binary.BigEndian.Uint16(b[2:4])),
		SPI:      b[4 : 4+spi],
		Data:     b[4+spi:],
	}, nil
}

// Payload encodes the Notify payload.
func (n Notify) Payload() Payload {
	b := []byte{byte(n.Protocol), byte(len(n.SPI)), byte(n.Type >> 8), byte(n.Type)}
	b = append(append(b, n.SPI...), n.Data...)
	return Payload{Type: PayloadNotify, Body: b}
}

// Delete is the Delete payload (RFC 7296 section 3.11). For the IKE SA
// SPISize is 0 and SPIs is empty; for ESP each SPI is 4 bytes and is the
// SPI the sender of the Delete expects on inbound packets.
type Delete struct {
	Protocol ProtocolID
	SPIs     []uint32
}

// ParseDelete parses a Delete payload body.
func ParseDelete(b []byte) (Delete, error) {
	if len(b) < 4 {
		return Delete{}, perr("Delete payload", 0, ErrTruncated)
	}
	d := Delete{Protocol: ProtocolID(b[0])}
	size, n := int(b[1]), int(binary.BigEndian.Uint16(b[2:4]))
	switch {
	case d.Protocol == ProtoIKE && size == 0 && n == 0 && len(b) == 4:
		return d, nil
	case (d.Protocol == ProtoESP || d.Protocol == ProtoAH) && size == 4 && len(b) == 4+4*n:
		for i := range n {
			d.SPIs = append(d.SPIs, binary.BigEndian.Uint32(b[4+4*i:]))
		}
		return d, nil
	}
	return Delete{}, perr("Delete payload", 0, ErrMalformed)
}

// Payload encodes the Delete payload.
func (d Delete) Payload() Payload {
	size := byte(0)
	if d.Protocol != ProtoIKE {
		size = 4
	}
	b := []byte{byte(d.Protocol), size, byte(len(d.SPIs) >> 8), byte(len(d.SPIs))}
	for _, s := range d.SPIs {
		b = binary.BigEndian.AppendUint32(b, s)
	}
	return Payload{Type: PayloadDelete, Body: b}
}
