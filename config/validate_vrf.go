package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/peregrine-net/peregrine/fib"
)

// maxIfName is IFNAMSIZ-1: Linux names interfaces and VRF devices with at
// most 15 bytes, and a VRF becomes a device in the kernel backend.
const maxIfName = 15

func validName(s string) bool {
	if s == "" || len(s) > maxIfName || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n")
}

func (c *Config) applyVRFDefaults() {
	for i := range c.VRFs {
		if c.VRFs[i].LabelMode == "" {
			c.VRFs[i].LabelMode = "per-vrf"
		}
		c.VRFs[i].applyCEDefaults()
	}
}

func (c *Config) validateVRFs(bad badFunc) {
	names := map[string]int{}
	// devices are the TUN (userspace) and VRF (kernel) device names: two
	// VRFs on one device would share their traffic (fib.TUNName).
	devices := map[string]int{}
	rds := map[string]int{}
	ifaces := map[string]string{}
	labels := 0
	for i, v := range c.VRFs {
		p := fmt.Sprintf("vrfs[%d]", i)
		switch {
		case v.Name == "":
			bad(p+".name", "", "required")
		case !validName(v.Name):
			bad(p+".name", strconv.Quote(v.Name), "must be 1-15 characters with no '/', ':' or spaces (it names a VRF device)")
		default:
			if j, dup := names[v.Name]; dup {
				bad(p+".name", strconv.Quote(v.Name), "already used by vrfs[%d]", j)
			}
			tun, vrf := fib.TUNName(v.Name), fib.VRFDevice(v.Name)
			j, clash := devices[tun]
			if !clash {
				j, clash = devices[vrf]
			}
			if _, dup := names[v.Name]; clash && !dup {
				bad(p+".name", strconv.Quote(v.Name), "its devices would be those of vrfs[%d] %q (%s, %s): names longer than %d bytes are shortened with a hash; rename one", j, c.VRFs[j].Name, tun, vrf, maxIfName-len("vrf-"))
			}
			names[v.Name] = i
			devices[tun], devices[vrf] = i, i
		}
		if !v.RD.IsValid() {
			bad(p+".rd", "", "required: a route distinguisher such as %d:%d", c.Router.ASN, i+1)
		} else {
			if j, dup := rds[v.RD.String()]; dup {
				bad(p+".rd", v.RD.String(), "already used by vrfs[%d]: each VRF needs its own RD", j)
			}
			rds[v.RD.String()] = i
		}
		for j, ifn := range v.Interfaces {
			ip := fmt.Sprintf("%s.interfaces[%d]", p, j)
			if !validName(ifn) {
				bad(ip, strconv.Quote(ifn), "is not a Linux interface name (1-15 characters)")
			} else if other, dup := ifaces[ifn]; dup {
				bad(ip, strconv.Quote(ifn), "already bound to %s: an interface belongs to one VRF", other)
			}
			ifaces[ifn] = fmt.Sprintf("%s (vrf %s)", ip, v.Name)
		}
		c.validateStatics(bad, p, v)
		c.validateCENeighbors(bad, p, v)
		switch v.LabelMode {
		case "per-vrf":
			labels++
		case "per-prefix":
			labels += len(v.StaticRoutes)
		default:
			bad(p+".label-mode", strconv.Quote(v.LabelMode), "want per-vrf or per-prefix")
		}
	}
	if size := int(c.MPLS.LabelMax) - int(c.MPLS.LabelMin) + 1; size > 0 && labels > size {
		bad("mpls.label-max", fmt.Sprint(c.MPLS.LabelMax), "the range %d..%d holds %d labels but the VRFs need at least %d", c.MPLS.LabelMin, c.MPLS.LabelMax, size, labels)
	}
}

func (c *Config) validateStatics(bad badFunc, p string, v VRF) {
	seen := map[string]int{}
	for j, r := range v.StaticRoutes {
		rp := fmt.Sprintf("%s.static-routes[%d]", p, j)
		if !r.Prefix.IsValid() {
			bad(rp+".prefix", "", "required: a prefix such as 10.1.0.0/24")
			continue
		}
		if m := r.Prefix.Masked(); m != r.Prefix {
			bad(rp+".prefix", r.Prefix.String(), "has host bits set; did you mean %s?", m)
		}
		if k, dup := seen[r.Prefix.String()]; dup {
			bad(rp+".prefix", r.Prefix.String(), "already listed as %s.static-routes[%d]", p, k)
		}
		seen[r.Prefix.String()] = j
		if r.NextHop.IsValid() && r.NextHop.Is4() != r.Prefix.Addr().Is4() {
			bad(rp+".next-hop", r.NextHop.String(), "is not of the same address family as %s", r.Prefix)
		}
	}
}
