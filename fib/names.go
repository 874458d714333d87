package fib

import (
	"fmt"
	"hash/fnv"
	"slices"
)

// RulePriority is the priority of the policy routing rules that send a
// VRF's interfaces to its table (`ip rule add iif ce1 lookup 1000 pref
// 1000`). All of Peregrine's rules share it: they never overlap (an
// interface is in one VRF), they must come before the main table's rule
// (32766), and one number lets a backend find its own rules after a
// restart.
const RulePriority = 1000

// UnreachableMetric is the metric of the unreachable default route each
// VRF table ends with, the value the kernel's VRF documentation uses: any
// customer route, a default included, beats it, and a lookup that misses
// stops in the VRF's table instead of falling through to the next rule
// and the provider's main table.
const UnreachableMetric = 4278198272

// maxIfName is IFNAMSIZ-1: Linux interface names have at most 15 bytes.
const maxIfName = 15

// TUNName is the name of VRF vrf's TUN device in the userspace design:
// "pg-" + vrf. Remote routes point at it (`ip route add P dev pg-red
// table T`) so that the kernel hands the packets to the Go fast path,
// which knows the VRF from the device. Every backend and the fake use
// this one function, so their names agree.
//
// VRF names may be 15 bytes long and the prefix does not leave room for
// all of them: a name that does not fit keeps its first bytes and ends in
// four hex digits of a hash of the whole name, so that it stays stable.
// Two long names can still meet (customer0000869 and customer0001026 are
// both pg-customerf742): config validation refuses such a pair and the
// backends refuse a State that has one (CheckDeviceNames), since two VRFs
// on one device would share their traffic.
func TUNName(vrf string) string { return devName("pg-", vrf) }

// VRFDevice is the name of VRF vrf's VRF device in the kernel design:
// "vrf-" + vrf, shortened like TUNName. Kernel-style LFIB lines name it
// (`ip -f mpls route add 1000 dev vrf-red` pops and looks up in red).
func VRFDevice(vrf string) string { return devName("vrf-", vrf) }

// AttachmentTUN is the name of VRF vrf's TUN for IPsec attachments in
// the kernel design (fib/kernel's ESP gateway): "pga-" + vrf, enslaved to
// VRFDevice(vrf). Its prefix is as long as VRFDevice's, so that two VRFs
// share an attachment TUN exactly when they would share a VRF device,
// which config validation and CheckDeviceNames already refuse.
func AttachmentTUN(vrf string) string { return devName("pga-", vrf) }

// ESPGatewayInbound is the TUN the kernel backend's ESP gateway writes
// opened MPLS packets into: the only interface with MPLS input on, so
// that a labelled packet arriving in clear on the core reaches no VRF.
const ESPGatewayInbound = "pgesp-in"

func devName(prefix, vrf string) string {
	if len(prefix)+len(vrf) <= maxIfName {
		return prefix + vrf
	}
	h := fnv.New32a()
	h.Write([]byte(vrf))
	keep := maxIfName - len(prefix) - 4
	return fmt.Sprintf("%s%s%04x", prefix, vrf[:keep], h.Sum32()&0xffff)
}

// DeviceClash is two VRFs whose devices would have one name.
type DeviceClash struct {
	Device string
	VRFs   [2]string
}

func (e *DeviceClash) Error() string {
	return fmt.Sprintf("vrfs %q and %q would share the device %s: rename one (long names are shortened to %d bytes)", e.VRFs[0], e.VRFs[1], e.Device, maxIfName)
}

// CheckDeviceNames returns a *DeviceClash for the first two VRFs (in name
// order) that dev, TUNName or VRFDevice, names alike, and nil when every
// VRF has a device of its own. A backend calls it before it creates or
// attaches to any device, so that it never puts a second VRF on the first
// one's device.
func CheckDeviceNames(vrfs []string, dev func(vrf string) string) error {
	vrfs = slices.Sorted(slices.Values(vrfs))
	seen := make(map[string]string, len(vrfs))
	for _, v := range vrfs {
		d := dev(v)
		if other, dup := seen[d]; dup && other != v {
			return &DeviceClash{Device: d, VRFs: [2]string{other, v}}
		}
		seen[d] = v
	}
	return nil
}

// VRFNames lists the VRFs of s, for CheckDeviceNames.
func (s *State) VRFNames() []string {
	names := make([]string, 0, len(s.VRFs))
	for n := range s.VRFs {
		names = append(names, n)
	}
	return names
}
