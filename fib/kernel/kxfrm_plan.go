package kernel

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
)

// The kernel-resident protected path (see "Kernel-resident ESP" in the
// package documentation) is planned in pure code, as the routes are:
// kernelPathRefusal says whether a remote PE's tunnel can take it, and
// why not where it cannot, so the log can say which path each PE uses.

// kernelDevPrefix names the tunnel devices of the kernel path:
// kernelDevPrefix and eight hex digits, fifteen characters, the longest
// name Linux takes: the remote PE's IPv4 address, or for an IPv6 one its
// FNV-1a hash. The name is the remote's, so a restarted daemon finds its
// devices again.
const kernelDevPrefix = "pgmpls-"

// kernelDev is the tunnel device toward remote.
func kernelDev(remote netip.Addr) string {
	remote = remote.Unmap()
	if remote.Is4() {
		a := remote.As4()
		return fmt.Sprintf("%s%02x%02x%02x%02x", kernelDevPrefix, a[0], a[1], a[2], a[3])
	}
	h := fnv.New32a()
	a := remote.As16()
	h.Write(a[:])
	return fmt.Sprintf("%s%08x", kernelDevPrefix, h.Sum32())
}

// kernelReqid marks the kernel path's XFRM states and policies (the
// request id that binds a policy's template to its states): everything
// with it is Peregrine's, and what no tunnel asks for any more goes.
// "pg" in its top half.
const kernelReqid = 0x70670001

// ipProtoMPLS is MPLS in IP (RFC 4023), the protocol the mplsip tunnel
// sends and the ESP next header of the userspace gateway's packets.
const ipProtoMPLS = 137

// kernelPathRefusal returns "" if tunnel t from local can take the kernel
// path, else why not (the gateway carries it instead). persist says the
// backend has a sequence store for manual outbound SAs.
func kernelPathRefusal(local netip.Addr, t *fib.Tunnel, persist bool) string {
	local, remote := local.Unmap(), t.Remote.Unmap()
	switch {
	case !local.IsValid():
		return "no local address (ipsec.local-address)"
	case local.Is4() != remote.Is4():
		return "the local address and the remote PE are of different families"
	case remote.Is6():
		// Seen in the VM (6.1): ip6_tnl_validate takes protocols 41, 4
		// and 0 only, so there is no MPLS-in-IPv6 tunnel to seal.
		return "an IPv6 core: Linux's ip6tnl carries no MPLS (ip link add type ip6tnl with protocol 137 fails with EINVAL)"
	case t.UDP:
		return "ESP in UDP: the ESP gateway owns UDP 4500, and the kernel opens ESP-in-UDP only on a socket of its own with UDP_ENCAP set"
	case t.Out == nil || t.In == nil:
		return "keys missing"
	case t.Out.IsAH() || t.In.IsAH():
		return "AH"
	case t.Out.ESN && t.Out.PersistSequence:
		return "a manual key with ESN: the output sequence of an ESN state cannot be set over this netlink library, so a restart could reuse nonces"
	case t.Out.PersistSequence && !persist:
		return "a manual key and no sequence store: a restart could reuse nonces"
	}
	for _, p := range append([]*fib.SAParams{t.Out, t.In}, t.RetiringIn...) {
		if p == nil {
			continue
		}
		var st netlink.XfrmState
		if err := xfrmAlgos(&st, p.Cipher, p.Key); err != nil {
			return err.Error()
		}
	}
	return ""
}

// kernelPeer is what the kernel path installs for one remote PE:
//
//	ip xfrm policy update src L/32 dst R/32 proto 137 dir out tmpl src L dst R proto esp mode transport reqid kernelReqid
//	ip xfrm policy update src R/32 dst L/32 proto 137 dir in  tmpl src R dst L proto esp mode transport reqid kernelReqid
//	ip xfrm state add src L dst R proto esp spi OUT mode transport reqid kernelReqid ALGOS [replay-oseq N] [limit packet-hard M]
//	ip xfrm state add src R dst L proto esp spi IN  mode transport reqid kernelReqid ALGOS replay-window W   (and each retiring IN)
//	ip link add pgmpls-RRRRRRRR type ipip mode mplsip local L remote R ttl 64
//
// in that order: the policies before any state and the device, so that
// nothing of protocol 137 between the two leaves or is taken unsealed.
type kernelPeer struct {
	local, remote netip.Addr
	out           *fib.SAParams
	in            []*fib.SAParams // the current inbound SA first, then the retiring ones
}

func newKernelPeer(local netip.Addr, t *fib.Tunnel) *kernelPeer {
	return &kernelPeer{local: local.Unmap(), remote: t.Remote.Unmap(), out: t.Out,
		in: append([]*fib.SAParams{t.In}, t.RetiringIn...)}
}

func (p *kernelPeer) policies() []*netlink.XfrmPolicy {
	l, r := p.local.AsSlice(), p.remote.AsSlice()
	pol := func(src, dst []byte, dir netlink.Dir) *netlink.XfrmPolicy {
		return &netlink.XfrmPolicy{Src: host(src), Dst: host(dst), Proto: ipProtoMPLS, Dir: dir,
			Tmpls: []netlink.XfrmPolicyTmpl{{Src: src, Dst: dst, Proto: netlink.XFRM_PROTO_ESP,
				Mode: netlink.XFRM_MODE_TRANSPORT, Reqid: kernelReqid}}}
	}
	return []*netlink.XfrmPolicy{pol(l, r, netlink.XFRM_DIR_OUT), pol(r, l, netlink.XFRM_DIR_IN)}
}

// kernelReplayWindow is the largest anti-replay window of a state without
// ESN (the legacy xfrm_usersa_info field is 8 bits; the kernel caps it at
// 32). The userspace engine's default is 1024: a kernel inbound SA
// rejects a packet more than 32 behind the newest it has seen.
const kernelReplayWindow = 32

// outState is the outbound state; oseq and hard (0: none, which
// vishvananda/netlink sends as XFRM_INF) are the
// sequence number it continues above and its hard packet limit.
func (p *kernelPeer) outState(oseq, hard uint64) (*netlink.XfrmState, error) {
	st := p.state(p.local, p.remote, p.out)
	if err := xfrmAlgos(st, p.out.Cipher, p.out.Key); err != nil {
		return nil, err
	}
	if st.ESN {
		st.ReplayWindow = kernelReplayWindow // the kernel wants a window with ESN
	}
	if oseq > 0 {
		st.Replay = &netlink.XfrmReplayState{OSeq: uint32(oseq)}
	}
	if hard > 0 {
		st.Limits.PacketHard = hard
	}
	return st, nil
}

// inStates are the inbound states, the current one first.
func (p *kernelPeer) inStates() ([]*netlink.XfrmState, error) {
	var out []*netlink.XfrmState
	for _, sa := range p.in {
		st := p.state(p.remote, p.local, sa)
		if err := xfrmAlgos(st, sa.Cipher, sa.Key); err != nil {
			return nil, err
		}
		if !sa.NoAntiReplay {
			st.ReplayWindow = kernelReplayWindow
			if sa.ReplayWindow > 0 {
				st.ReplayWindow = min(sa.ReplayWindow, kernelReplayWindow)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func (p *kernelPeer) state(src, dst netip.Addr, sa *fib.SAParams) *netlink.XfrmState {
	return &netlink.XfrmState{Src: src.AsSlice(), Dst: dst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP,
		Mode: netlink.XFRM_MODE_TRANSPORT, Spi: int(sa.SPI), Reqid: kernelReqid, ESN: sa.ESN}
}

// host is addr as a /32 or /128 selector.
func host(addr []byte) *net.IPNet {
	return &net.IPNet{IP: addr, Mask: net.CIDRMask(8*len(addr), 8*len(addr))}
}

// same reports whether p and q install the same SAs (keys included).
func (p *kernelPeer) same(q *kernelPeer) bool {
	if q == nil || p.local != q.local || p.remote != q.remote || !sameSA(p.out, q.out) || len(p.in) != len(q.in) {
		return false
	}
	for i := range p.in {
		if !sameSA(p.in[i], q.in[i]) {
			return false
		}
	}
	return true
}

func sameSA(a, b *fib.SAParams) bool {
	return a.SPI == b.SPI && a.Cipher == b.Cipher && a.ESN == b.ESN && a.ReplayWindow == b.ReplayWindow &&
		a.NoAntiReplay == b.NoAntiReplay && a.PersistSequence == b.PersistSequence && string(a.Key) == string(b.Key)
}
