package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/mpls"
)

// Explicit null on receive (RFC 3032): a far PE whose penultimate hop
// keeps a label, for TC or TTL, sends [IPv4 or IPv6 explicit null, VPN
// label]. Linux's MPLS takes no route for a reserved label ("Invalid label
// - must be MPLS_LABEL_FIRST_UNRESERVED or higher") and drops such a frame
// as having none (rx_noroute), so on every interface with MPLS input on
// but lo (sysctlWrites: the core interfaces, pgesp-in) Apply adds, at
// ingress,
//
//	tc qdisc add dev IF clsact
//	tc filter add dev IF ingress pref 204 handle 1 protocol mpls_uc flower mpls_label 0 mpls_bos 0 action mpls pop protocol mpls_uc
//	tc filter add dev IF ingress pref 204 handle 2 protocol mpls_uc flower mpls_label 2 mpls_bos 0 action mpls pop protocol mpls_uc
//
// and removes those two filters where input is off. The label beneath is
// then looked up like any other: a VPN label of ours, or dropped. A null
// at the bottom of the stack (a packet for the global table, which a core
// has none of here) stays, and the kernel drops it. The null's TTL goes
// with it: the kernel carries the VPN label's into the packet, where the
// userspace backend takes the smaller of the two. Without clsact, flower
// or act_mpls (kernel modules sch_ingress, cls_flower, act_mpls) Apply
// warns once per interface and goes on: such frames stay dropped.

// explicitNullPref is the tc priority (pref) of the explicit-null
// filters: with their handles, how Apply tells them from anyone else's.
const explicitNullPref = 204

// explicitNullHandles are the filters' handles and the null each pops.
var explicitNullHandles = map[uint32]mpls.Label{1: mpls.IPv4ExplicitNull, 2: mpls.IPv6ExplicitNull}

// Attributes of act_mpls (linux/tc_act/tc_mpls.h), which netlink v1.3.1
// does not know.
const (
	tcaMPLSParms  = 2 // TCA_MPLS_PARMS: struct tc_mpls
	tcaMPLSProto  = 4 // TCA_MPLS_PROTO: be16, the protocol after a pop
	tcaMPLSActPop = 1 // TCA_MPLS_ACT_POP
	tcActPipe     = 3 // TC_ACT_PIPE: go on, as tc(8) sets by default
)

// explicitNulls makes the explicit-null filters of each link agree with
// its MPLS input in writes (sysctlWrites'). Failures are warned about,
// once per interface, not returned: a kernel without the tc modules
// forwards as it did without them.
func (b *Backend) explicitNulls(links []netlink.Link, writes map[string]string) {
	for _, l := range links {
		name := l.Attrs().Name
		input, ok := writes["net/mpls/conf/"+name+"/input"]
		if !ok || name == "lo" {
			continue
		}
		if err := b.syncExplicitNulls(l, input == "1"); err != nil {
			if b.nullWarned == nil {
				b.nullWarned = map[string]bool{}
			}
			if !b.nullWarned[name] {
				b.nullWarned[name] = true
				b.log.Warn("kernel: frames under an explicit null are dropped on this interface",
					"interface", name, "error", err)
			}
			continue
		}
		delete(b.nullWarned, name)
	}
}

// syncExplicitNulls adds (on) or removes (!on) l's explicit-null filters.
func (b *Backend) syncExplicitNulls(l netlink.Link, on bool) error {
	ours := map[uint32]netlink.Filter{}
	// Without a clsact qdisc the list fails: no filter of ours then.
	if filters, err := b.h.FilterList(l, netlink.HANDLE_MIN_INGRESS); err == nil {
		for _, f := range filters {
			a := f.Attrs()
			if _, isOurs := explicitNullHandles[a.Handle]; isOurs && a.Priority == explicitNullPref && a.Protocol == unix.ETH_P_MPLS_UC {
				ours[a.Handle] = f
			}
		}
	}
	var errs []error
	if !on {
		for _, f := range ours {
			if err := b.h.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("tc filter del: %w", err))
			}
		}
		return errors.Join(errs...)
	}
	if len(ours) == len(explicitNullHandles) {
		return nil
	}
	idx := l.Attrs().Index
	clsact := &netlink.GenericQdisc{QdiscType: "clsact", QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: idx, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if err := b.h.QdiscAdd(clsact); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("tc qdisc add clsact: %w", err)
	}
	for handle, null := range explicitNullHandles {
		if ours[handle] != nil {
			continue
		}
		req := explicitNullFilter(idx, handle, null)
		err := b.inNS(func() error {
			_, err := req.Execute(unix.NETLINK_ROUTE, 0)
			return err
		})
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("tc filter add (label %d): %w", null, err))
		}
	}
	return errors.Join(errs...)
}

// explicitNullFilter is the RTM_NEWTFILTER request for the ingress filter
// of interface idx with handle that pops null above another label.
func explicitNullFilter(idx int, handle uint32, null mpls.Label) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_NEWTFILTER, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{
		Family:  nl.FAMILY_ALL,
		Ifindex: int32(idx),
		Handle:  handle,
		Parent:  netlink.HANDLE_MIN_INGRESS,
		Info:    netlink.MakeHandle(explicitNullPref, nl.Swap16(unix.ETH_P_MPLS_UC)),
	})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated("flower")))
	// The options in tc(8)'s order (iproute2 6.1), so that the bytes are
	// what it sends for the same filter (explicitnull_test.go).
	mplsUC := binary.BigEndian.AppendUint16(nil, unix.ETH_P_MPLS_UC)
	opts := nl.NewRtAttr(nl.TCA_OPTIONS, nil)
	opts.AddRtAttr(nl.TCA_FLOWER_KEY_MPLS_LABEL, nl.Uint32Attr(uint32(null))) // host order, whatever nl's comment says
	opts.AddRtAttr(nl.TCA_FLOWER_KEY_MPLS_BOS, []byte{0})
	act := opts.AddRtAttr(nl.TCA_FLOWER_ACT, nil).AddRtAttr(nl.TCA_ACT_TAB, nil)
	act.AddRtAttr(nl.TCA_ACT_KIND, nl.ZeroTerminated("mpls"))
	// act_mpls parses its options strictly: the nested flag is needed
	// (EINVAL without it, seen in the VM), as tc(8) sets it.
	aopts := act.AddRtAttr(nl.TCA_ACT_OPTIONS|unix.NLA_F_NESTED, nil)
	// struct tc_mpls: tc_gen (index, capab, action, refcnt, bindcnt),
	// then m_action.
	var parms []byte
	for _, v := range []uint32{0, 0, tcActPipe, 0, 0, tcaMPLSActPop} {
		parms = binary.NativeEndian.AppendUint32(parms, v)
	}
	aopts.AddRtAttr(tcaMPLSParms, parms)
	aopts.AddRtAttr(tcaMPLSProto, mplsUC)
	opts.AddRtAttr(nl.TCA_FLOWER_FLAGS, nl.Uint32Attr(0))
	opts.AddRtAttr(nl.TCA_FLOWER_KEY_ETH_TYPE, mplsUC)
	req.AddData(opts)
	return req
}
