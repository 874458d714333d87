package nlbatch

import (
	"encoding/binary"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// appendHeader appends a netlink header for op's request, numbered seq,
// and a zeroed family header of n bytes after it; finish sets the
// length once the attributes are in.
func appendHeader(buf []byte, op Op, seq uint32, n int) []byte {
	var hdr [unix.NLMSG_HDRLEN + 16]byte // room for rtmsg and fib_rule_hdr
	buf = append(buf, hdr[:unix.NLMSG_HDRLEN+n]...)
	h := buf[len(buf)-unix.NLMSG_HDRLEN-n:]
	binary.NativeEndian.PutUint16(h[4:], op.Type)
	binary.NativeEndian.PutUint16(h[6:], uint16(unix.NLM_F_REQUEST|op.Flags))
	binary.NativeEndian.PutUint32(h[8:], seq)
	return buf
}

// finish sets the length of the message begun at start of buf.
func finish(buf []byte, start int) []byte {
	binary.NativeEndian.PutUint32(buf[start:], uint32(len(buf)-start))
	return buf
}

// setAck sets NLM_F_ACK on the request msg starts with.
func setAck(msg []byte) {
	f := binary.NativeEndian.Uint16(msg[6:])
	binary.NativeEndian.PutUint16(msg[6:], f|unix.NLM_F_ACK)
}

// appendAttrHeader appends an attribute header for a value of n bytes.
func appendAttrHeader(buf []byte, typ uint16, n int) []byte {
	buf = binary.NativeEndian.AppendUint16(buf, uint16(unix.SizeofRtAttr+n))
	return binary.NativeEndian.AppendUint16(buf, typ)
}

// appendAttr appends attribute typ with value v, padded.
func appendAttr(buf []byte, typ uint16, v []byte) []byte {
	at := len(buf)
	return pad(append(appendAttrHeader(buf, typ, len(v)), v...), at)
}

func appendUint32Attr(buf []byte, typ uint16, v uint32) []byte {
	return binary.NativeEndian.AppendUint32(appendAttrHeader(buf, typ, 4), v)
}

// appendLabelsAttr appends attribute typ holding the label stack labels,
// outermost first, bottom of stack set on the last (nl.EncodeMPLSStack).
func appendLabelsAttr(buf []byte, typ uint16, labels []int) []byte {
	buf = appendAttrHeader(buf, typ, 4*len(labels))
	for i, l := range labels {
		v := uint32(l) << nl.MPLS_LS_LABEL_SHIFT
		if i == len(labels)-1 {
			v |= 1 << nl.MPLS_LS_S_SHIFT
		}
		buf = binary.BigEndian.AppendUint32(buf, v)
	}
	return buf
}

// pad zeroes buf up to the 4-byte alignment of the attribute begun at at.
func pad(buf []byte, at int) []byte {
	for (len(buf)-at)%unix.RTA_ALIGNTO != 0 {
		buf = append(buf, 0)
	}
	return buf
}

// Align is n rounded up to netlink's 4-byte message alignment.
func Align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
