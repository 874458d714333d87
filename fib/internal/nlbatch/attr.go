package nlbatch

import (
	"encoding/binary"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

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
