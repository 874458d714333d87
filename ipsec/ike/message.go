package ike

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Message is a decoded IKE message. Payloads are the plaintext payloads:
// those outside an SK payload, or, once an encrypted message has been
// opened, those inside it. Parsed payload bodies alias the input buffer.
type Message struct {
	SPIi, SPIr uint64
	Exchange   ExchangeType
	Flags      Flags
	MessageID  uint32
	Payloads   []Payload

	// sk is the still-encrypted SK payload of a parsed message; open
	// decrypts it into Payloads.
	sk *skPayload
	// raw is the whole message as received.
	raw []byte
	// opened is set once an SK payload has been authenticated.
	opened bool
}

// skPayload locates an Encrypted payload in a received message.
type skPayload struct {
	first PayloadType // Next Payload of the SK header: the first inner payload
	aad   []byte      // IKE header through the SK generic header (RFC 5282 section 5.1)
	body  []byte      // IV || ciphertext || ICV
	off   int         // offset of the body in the message, for errors
}

// ParseMessage parses the header and the outer payload chain of one IKE
// message (the UDP payload on port 500, or what follows the non-ESP marker
// on 4500). An Encrypted payload is located but not decrypted: the
// caller opens it with the IKE SA's keys. Unknown non-critical payloads are
// skipped; CERTREQ and V are kept but ignored by the engine.
func ParseMessage(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	m := &Message{
		SPIi: h.SPIi(), SPIr: h.SPIr(), Exchange: h.Exchange(),
		Flags: h.Flags(), MessageID: h.MessageID(), raw: b,
	}
	ps, skOff, err := parseChain(b[HeaderLen:], h.NextPayload(), HeaderLen, false)
	if err != nil {
		return nil, err
	}
	m.Payloads = ps
	if skOff >= 0 {
		at := HeaderLen + skOff
		m.sk = &skPayload{first: PayloadType(b[at]), aad: b[:at+genericHeaderLen], body: b[at+genericHeaderLen:], off: at + genericHeaderLen}
	}
	return m, nil
}

// Encrypted reports whether the message carried an SK payload that has not
// been opened yet.
func (m *Message) Encrypted() bool { return m.sk != nil }

// IsResponse reports whether the Response flag is set.
func (m *Message) IsResponse() bool { return m.Flags&FlagResponse != 0 }

// open decrypts and parses the SK payload with c, appending the inner
// payloads to Payloads.
func (m *Message) open(c skCipher) error {
	if m.sk == nil {
		return nil
	}
	plain, err := c.open(m.sk.aad, m.sk.body)
	if err != nil {
		return &ParseError{What: "SK payload", Offset: m.sk.off, Err: err}
	}
	// Padding and Pad Length end the plaintext (RFC 7296 section 3.14).
	if len(plain) < 1 || int(plain[len(plain)-1]) >= len(plain) {
		return &ParseError{What: "SK pad length", Offset: 0, Inner: true, Err: ErrMalformed}
	}
	plain = plain[:len(plain)-1-int(plain[len(plain)-1])]
	ps, _, err := parseChain(plain, m.sk.first, 0, true)
	if err != nil {
		return err
	}
	m.Payloads = append(m.Payloads, ps...)
	m.sk, m.opened = nil, true
	return nil
}

// Marshal encodes the message with its payloads in the clear, as
// IKE_SA_INIT travels.
func (m *Message) Marshal() []byte {
	n := HeaderLen + chainLen(m.Payloads)
	b := make([]byte, HeaderLen, n)
	putHeader(b, m.SPIi, m.SPIr, firstType(m.Payloads), m.Exchange, m.Flags, m.MessageID, uint32(n))
	return appendChain(b, m.Payloads)
}

// marshalSK encodes the message with all its payloads inside one SK
// payload sealed with c (RFC 7296 section 3.14, RFC 5282 section 5). The
// padding is the least that fills c's block (none for an AEAD), zeros.
func (m *Message) marshalSK(c skCipher) []byte {
	ivLen, icvLen, block := c.layout()
	inner := appendChain(nil, m.Payloads)
	pad := (block - (len(inner)+1)%block) % block
	inner = append(inner, make([]byte, pad)...)
	inner = append(inner, byte(pad)) // Pad Length
	skLen := genericHeaderLen + ivLen + len(inner) + icvLen
	total := HeaderLen + skLen
	b := make([]byte, HeaderLen+genericHeaderLen, total)
	putHeader(b, m.SPIi, m.SPIr, PayloadSK, m.Exchange, m.Flags, m.MessageID, uint32(total))
	b[HeaderLen] = byte(firstType(m.Payloads))
	binary.BigEndian.PutUint16(b[HeaderLen+2:], uint16(skLen))
	return c.seal(b, inner)
}

// first returns the first payload of type t.
func (m *Message) first(t PayloadType) (Payload, bool) {
	for _, p := range m.Payloads {
		if p.Type == t {
			return p, true
		}
	}
	return Payload{}, false
}

// notifies returns the well-formed Notify payloads.
func (m *Message) notifies() []Notify {
	var ns []Notify
	for _, p := range m.Payloads {
		if p.Type == PayloadNotify {
			if n, err := ParseNotify(p.Body); err == nil {
				ns = append(ns, n)
			}
		}
	}
	return ns
}

// notify returns the first Notify of type t.
func (m *Message) notify(t NotifyType) (Notify, bool) {
	for _, n := range m.notifies() {
		if n.Type == t {
			return n, true
		}
	}
	return Notify{}, false
}

// String summarizes the message for logs the way strongSwan does, e.g.
// "IKE_AUTH request 1 [ IDi AUTH SA TSi TSr ]". It never prints bodies.
func (m *Message) String() string {
	var sb strings.Builder
	kind := "request"
	if m.IsResponse() {
		kind = "response"
	}
	fmt.Fprintf(&sb, "%s %s %d [", m.Exchange, kind, m.MessageID)
	for _, p := range m.Payloads {
		sb.WriteByte(' ')
		if p.Type == PayloadNotify {
			if n, err := ParseNotify(p.Body); err == nil {
				sb.WriteString("N(" + n.Type.String() + ")")
				continue
			}
		}
		sb.WriteString(p.Type.String())
	}
	if m.sk != nil {
		sb.WriteString(" SK")
	}
	sb.WriteString(" ]")
	return sb.String()
}
