package kernel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FRR 8.4 (Debian's zebra and bgpd, copied into the VM by labs/vm) as
// another vendor's PE with the kernel's MPLS and VRF devices, Peregrine as
// the near PE, plain MPLS between them (each declares the other
// unprotected):
//
//	red1  ─ ce1 ┐                                         ┌ red (VRF dev, table 10)  ce3 ─ red2
//	blue1 ─ ce2 ┤ pe1 peregrined  core ══════ core  pe2 FRR ┤
//	            │ 192.168.0.1          192.168.0.2          └ blue (table 20)          ce4 ─ blue2
//
// Both VRFs use the same CE addresses (10.1.0.0/24 at site 1, 10.2.0.0/24
// at site 2). The session is eBGP (AS 65000 to 65002): FRR 8.4 takes an
// iBGP VPN route into a VRF only if its next hop resolves through a
// labelled path (LDP or segment routing, which this core has none of),
// while an eBGP one with a connected next hop is valid on an interface
// with "mpls bgp forwarding".

const frrBGPConf = `hostname frr-pe2
log file %[1]s/bgpd.log
!
interface core
 mpls bgp forwarding
exit
!
router bgp 65002
 bgp router-id 192.168.0.2
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 neighbor 192.168.0.1 remote-as 65000
 neighbor 192.168.0.1 update-source 192.168.0.2
 address-family ipv4 vpn
  neighbor 192.168.0.1 activate
 exit-address-family
 address-family ipv6 vpn
  neighbor 192.168.0.1 activate
 exit-address-family
exit
!
%[2]s%[3]s`

const frrVRFConf = `router bgp 65002 vrf %[1]s
 bgp router-id 192.168.0.2
 address-family ipv4 unicast
  redistribute connected
  label vpn export auto
  rd vpn export 65000:%[2]d
  rt vpn both 65000:%[3]d
  export vpn
  import vpn
 exit-address-family
 address-family ipv6 unicast
  redistribute connected
  label vpn export auto
  rd vpn export 65000:%[2]d
  rt vpn both 65000:%[3]d
  export vpn
  import vpn
 exit-address-family
exit
!
`

// requireFRR skips outside the VM or without FRR in it.
func requireFRR(t *testing.T) {
	t.Helper()
	requirePeregrined(t)
	if _, err := os.Stat("/usr/lib/frr/bgpd"); err != nil {
		t.Skip("FRR is not in the VM (labs/vm copies it from a host with Debian's frr package)")
	}
}

// frrPE makes pe2 of n an FRR PE: VRF devices red and blue with ce3 and
// ce4, MPLS input on core, and zebra and bgpd running. It returns the
// directory with their sockets and logs.
func frrPE(t *testing.T, n *twoPEs) string {
	t.Helper()
	h := handle(t, n.pe2)
	err := onThreadIn(n.pe2, func() error {
		for _, k := range []string{"net/mpls/platform_labels=1048575", "net/mpls/conf/core/input=1", "net/ipv4/ip_forward=1",
			"net/ipv6/conf/all/forwarding=1", "net/ipv6/conf/ce3/keep_addr_on_down=1", "net/ipv6/conf/ce4/keep_addr_on_down=1"} {
			kv := strings.SplitN(k, "=", 2)
			if err := os.WriteFile("/proc/sys/"+kv[0], []byte(kv[1]+"\n"), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name, ce string
		table    uint32
	}{{"red", "ce3", 10}, {"blue", "ce4", 20}} {
		if err := h.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: v.name}, Table: v.table}); err != nil {
			t.Fatal(err)
		}
		vl, _ := h.LinkByName(v.name)
		cl, _ := h.LinkByName(v.ce)
		if err := h.LinkSetUp(vl); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetMaster(cl, vl); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zconf := write("zebra.conf", fmt.Sprintf("hostname frr-pe2-zebra\nlog file %s/zebra.log\n", dir))
	bconf := write("bgpd.conf", fmt.Sprintf(frrBGPConf, dir, fmt.Sprintf(frrVRFConf, "red", 21, 1), fmt.Sprintf(frrVRFConf, "blue", 22, 2)))
	common := []string{"-u", "root", "-g", "root", "-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir}
	startFRRDaemon(t, n.pe2, dir, "zebra", append(common, "-i", filepath.Join(dir, "zebra.pid"), "-f", zconf)...)
	time.Sleep(time.Second) // bgpd connects to zebra's socket
	startFRRDaemon(t, n.pe2, dir, "bgpd", append(common, "-i", filepath.Join(dir, "bgpd.pid"), "-f", bconf)...)
	return dir
}

func startFRRDaemon(t *testing.T, ns netns.NsHandle, dir, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/lib/frr/"+name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := onThreadIn(ns, cmd.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			for _, f := range []string{name + ".out", name + ".log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("--- FRR %s ---\n%s", f, b)
			}
		}
	})
}

// vtysh runs one show command on FRR daemon (zebra or bgpd) of dir,
// speaking its vty socket as vtysh does (vtysh itself needs PAM, which the
// VM lacks): the command and a NUL, then the output up to three NULs and
// a status byte.
func vtysh(t *testing.T, dir, daemon, command string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", filepath.Join(dir, daemon+".vty"), 2*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(command + "\x00")); err != nil {
		return err.Error()
	}
	var out []byte
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if i := bytes.Index(out, []byte{0, 0, 0}); i >= 0 && len(out) >= i+4 {
			return string(out[:i])
		}
		if err != nil {
			return string(out) + err.Error()
		}
	}
}

// TestFRRFarPE: Peregrine (userspace backend, with per-VRF and with
// per-prefix labels, then the kernel backend) and FRR exchange VPNv4
// routes and labels over eBGP and the CEs ping across in both VRFs, both
// directions, over plain MPLS. The labels on the core are the ones each
// side advertised: FRR's from `show bgp ipv4 vpn PREFIX json`, Peregrine's
// from its API (/v1/bgp/vpnv4). Then a reload that takes FRR out of
// ipsec.unprotected-peers stops the traffic with nothing labelled on the
// core.
//
// IPv4 only: FRR 8.4's zebra cannot install a VPNv6 route whose next hop
// is the IPv4 PE (6VPE) into this kernel ("Route install failed"), so
// IPv6 across an IPv4 core to FRR stays out (Peregrine's own 6VPE is
// TestPeregrinedPlainMPLSKernelToUserspace's).
func TestFRRFarPE(t *testing.T) {
	requireFRR(t)
	for _, tc := range []struct{ name, backend, labelMode string }{
		{"userspace", "userspace", "per-vrf"}, {"userspace-per-prefix", "userspace", "per-prefix"}, {"kernel", "kernel", "per-vrf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTwoPEs(t)
			dir := frrPE(t, n)
			pdir := t.TempDir()
			sock := filepath.Join(pdir, "pe1.sock")
			conf := fmt.Sprintf(plainConfig, "192.168.0.1", sock, "192.168.0.2", 1, "ce1", "ce2", tc.backend, "")
			conf = strings.Replace(conf, "asn: 65000, local-address", "asn: 65002, local-address", 1)
			for _, ce := range []string{"ce1", "ce2"} {
				conf = strings.Replace(conf, "interfaces: ["+ce+"]}", "interfaces: ["+ce+"], label-mode: "+tc.labelMode+"}", 1)
			}
			_, proc, confPath := startPeregrinedProc(t, n.pe1, "pe1", conf)
			defer func() {
				if t.Failed() {
					for _, c := range []string{"show bgp ipv4 vpn", "show bgp vrf all ipv4 unicast", "show ip route vrf all", "show mpls table"} {
						daemon := "bgpd"
						if strings.Contains(c, "route") || strings.Contains(c, "mpls") {
							daemon = "zebra"
						}
						t.Logf("%s: %s:\n%s", daemon, c, vtysh(t, dir, daemon, c))
					}
				}
			}()
			n.pingAll(t, 101, 60*time.Second, false)

			frr := frrLabels(t, dir, "10.2.0.0/24")
			ours := peregrineLabels(t, sock, "10.1.0.0/24")
			t.Logf("advertised: FRR %v, Peregrine %v", frr, ours)
			for _, c := range []struct {
				what      string
				capNS, ns netns.NsHandle
				dst       string
				want      int
			}{
				{"red toward FRR", n.pe2, n.red1, "10.2.0.2", frr["65000:21"]},
				{"blue toward FRR", n.pe2, n.blue1, "10.2.0.2", frr["65000:22"]},
				{"red toward Peregrine", n.pe1, n.red2, "10.1.0.2", ours["65000:11"]},
				{"blue toward Peregrine", n.pe1, n.blue2, "10.1.0.2", ours["65000:12"]},
			} {
				got := captureStack(t, c.capNS, "core", func() { _ = ping(c.ns, c.dst, 110) })
				if c.want < 16 || len(got) != 1 || got[0] != c.want {
					t.Errorf("%s: label stack on the core %v, want [%d] as advertised", c.what, got, c.want)
				}
			}

			if got := remotePEProtection(t, sock, "192.168.0.2"); got != "unprotected" {
				t.Errorf("show vrf red: FRR (192.168.0.2) is %q, want unprotected", got)
			}

			// Fail closed: FRR leaves ipsec.unprotected-peers by reload.
			if err := os.WriteFile(confPath, []byte(strings.Replace(conf, "ipsec: {unprotected-peers: [192.168.0.2]}\n", "", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := proc.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for ping(n.red1, "10.2.0.2", 120) == nil {
				if time.Now().After(deadline) {
					t.Fatal("red 1->2 still answered 20 s after the reload without the unprotected peer")
				}
				time.Sleep(200 * time.Millisecond)
			}
			if got := captureStack(t, n.pe2, "core", func() { _ = ping(n.red1, "10.2.0.2", 121) }); got != nil {
				t.Errorf("after the reload, pe1 still sent MPLS toward FRR: %v", got)
			}
			if got := remotePEProtection(t, sock, "192.168.0.2"); got != "none" {
				t.Errorf("show vrf red after the reload: FRR (192.168.0.2) is %q, want none", got)
			}
		})
	}
}

// frrLabels reads the labels FRR advertises for prefix, by RD, from
// `show bgp ipv4 vpn PREFIX json` (remoteLabel of each path).
func frrLabels(t *testing.T, dir, prefix string) map[string]int {
	t.Helper()
	out := vtysh(t, dir, "bgpd", "show bgp ipv4 vpn "+prefix+" json")
	var byRD map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &byRD); err != nil {
		t.Fatalf("FRR's JSON: %v\n%s", err, out)
	}
	labels := map[string]int{}
	for rd, raw := range byRD {
		var entry struct {
			Paths []struct {
				RemoteLabel *int `json:"remoteLabel"`
			} `json:"paths"`
		}
		if json.Unmarshal(raw, &entry) != nil {
			continue // not an RD's entry
		}
		for _, p := range entry.Paths {
			if p.RemoteLabel != nil {
				labels[rd] = *p.RemoteLabel
			}
		}
	}
	return labels
}

// remotePEProtection is the protection `peregrine show vrf` gives remote
// PE pe in VRF red, from the API (/v1/vrfs). (FRR's VPNv6 routes come
// with its link-local next hop, a PE in no list: "none", dropped.)
func remotePEProtection(t *testing.T, sock, pe string) string {
	t.Helper()
	var vrfs []struct {
		Name      string `json:"name"`
		RemotePEs []struct {
			Address    string `json:"address"`
			Protection string `json:"protection"`
		} `json:"remote-pes"`
	}
	if err := json.Unmarshal(apiGet(t, sock, "/v1/vrfs"), &vrfs); err != nil {
		t.Fatal(err)
	}
	for _, v := range vrfs {
		for _, p := range v.RemotePEs {
			if v.Name == "red" && p.Address == pe {
				return p.Protection
			}
		}
	}
	return ""
}

// peregrineLabels reads the labels Peregrine advertises for prefix, by RD,
// from its API's VPNv4 table (its own paths).
func peregrineLabels(t *testing.T, sock, prefix string) map[string]int {
	t.Helper()
	var paths []struct {
		RD     string `json:"rd"`
		Prefix string `json:"prefix"`
		Label  int    `json:"label"`
		Local  bool   `json:"local"`
	}
	if err := json.Unmarshal(apiGet(t, sock, "/v1/bgp/vpnv4"), &paths); err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, p := range paths {
		if p.Local && p.Prefix == prefix {
			labels[p.RD] = p.Label
		}
	}
	return labels
}
