package kernel

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/mpls"
)

// tcExplicitNullFilter is what iproute2 6.1's tc sends (strace, on a
// little-endian host) after the header for
//
//	tc filter add dev IF ingress pref 204 handle H protocol mpls_uc flower mpls_label L mpls_bos 0 action mpls pop protocol mpls_uc
//
// with the interface index, handle and label left as IFINDEX, HANDLE and
// LABEL: struct tcmsg, then TCA_KIND and TCA_OPTIONS.
const tcExplicitNullFilter = "00000000" + "IFINDEX" + "HANDLE" + "f2ffffff" + "8847cc00" +
	"0b000100666c6f7765720000" +
	"60000200" + "08004600" + "LABEL" + "0500440000000000" +
	"3c000300380001000900010" + "06d706c7300000000" + "28000280" +
	"1c000200000000000000000003000000000000000000000001000000" +
	"0600040088470000" + "0800160000000000" + "0600080088470000"

// TestExplicitNullFilterIsTCs: the filter Apply adds to pop an explicit
// null is, byte for byte, the one tc(8) adds for the same command (tc
// is the independent encoder; the VM test shows the kernel takes it and
// pops).
func TestExplicitNullFilterIsTCs(t *testing.T) {
	le := func(v uint32) string { return hex.EncodeToString(binary.LittleEndian.AppendUint32(nil, v)) }
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the golden bytes are a little-endian host's")
	}
	for handle, null := range map[uint32]mpls.Label{1: mpls.IPv4ExplicitNull, 2: mpls.IPv6ExplicitNull} {
		want := strings.NewReplacer("IFINDEX", le(7), "HANDLE", le(handle), "LABEL", le(uint32(null))).Replace(tcExplicitNullFilter)
		msg := explicitNullFilter(7, handle, null).Serialize()
		if got := hex.EncodeToString(msg[16:]); got != want { // after struct nlmsghdr
			t.Errorf("label %d:\n got %s\nwant %s", null, got, want)
		}
		if len(msg) != 144 { // tc's nlmsg_len
			t.Errorf("label %d: message of %d bytes, tc's is 144", null, len(msg))
		}
	}
}
