package fib

import (
	"fmt"
	"hash/fnv"
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
// four hex digits of a hash of the whole name, so that it stays stable
// and (almost certainly) distinct from its neighbours.
func TUNName(vrf string) string { return devName("pg-", vrf) }

// VRFDevice is the name of VRF vrf's VRF device in the kernel design:
// "vrf-" + vrf, shortened like TUNName. Kernel-style LFIB lines name it
// (`ip -f mpls route add 1000 dev vrf-red` pops and looks up in red).
func VRFDevice(vrf string) string { return devName("vrf-", vrf) }

func devName(prefix, vrf string) string {
	if len(prefix)+len(vrf) <= maxIfName {
		return prefix + vrf
	}
	h := fnv.New32a()
	h.Write([]byte(vrf))
	keep := maxIfName - len(prefix) - 4
	return fmt.Sprintf("%s%s%04x", prefix, vrf[:keep], h.Sum32()&0xffff)
}
