package userspace

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// tshark decodes a capture with Wireshark's dissectors and returns one
// tab-separated line of fields per frame that matches filter (all frames
// if empty). Fields that occur more than once (outer and inner ip.src) are
// joined with ','. With keys it decrypts ESP with the netns test's two SAs,
// as ipsec/tshark_test.go documents: no profile is read, everything is on
// the command line.
func tshark(t *testing.T, file string, keys bool, filter string, fields ...string) []string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark): cannot check the capture")
	}
	args := []string{"-n", "-r", file, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	if keys {
		s1, s2 := pe1State().Tunnels[pe2Addr].Out, pe2State().Tunnels[pe1Addr].Out
		args = append(args,
			"-o", "esp.enable_encryption_decode:TRUE",
			"-o", "esp.enable_authentication_check:TRUE",
			"-o", uatSA(pe1Addr, pe2Addr, s1.SPI, s1.Key),
			"-o", uatSA(pe2Addr, pe1Addr, s2.SPI, s2.Key))
	}
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "WIRESHARK_CONFIG_DIR="+home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", strings.Join(args, " "), err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func uatSA(src, dst netip.Addr, spi uint32, key []byte) string {
	return fmt.Sprintf(`uat:esp_sa:"IPv4","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%x","NULL",""`,
		src, dst, spi, key)
}

// checkCapture checks what crossed the core during the pings. Without
// keys: no CE address anywhere, and every IPv4 packet is ESP-in-UDP
// between the PEs' addresses on port 4500. With keys: the pings are inside,
// each VRF's under its own label.
func checkCapture(t *testing.T, file string) {
	t.Helper()
	pes := []string{pe1Addr.String(), pe2Addr.String()}
	espFrames := 0
	for _, f := range tshark(t, file, false, "", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
		"udp.srcport", "udp.dstport", "esp.spi", "frame.protocols") {
		c := strings.Split(f, "\t")
		for _, a := range strings.FieldsFunc(strings.Join(c[:4], ","), func(r rune) bool { return r == ',' }) {
			if ip, err := netip.ParseAddr(a); err == nil && slices.ContainsFunc(cePrefixes, func(p netip.Prefix) bool { return p.Contains(ip) }) {
				t.Errorf("CE address %s in clear on the core: %s", a, f)
			}
		}
		if c[0] == "" {
			continue // ARP, or IPv6 link-local housekeeping (checked above)
		}
		if !slices.Contains(pes, c[0]) || !slices.Contains(pes, c[1]) || c[4] != "4500" || c[5] != "4500" || c[6] == "" {
			t.Errorf("core packet that is not ESP-in-UDP between the PEs: %s", f)
			continue
		}
		espFrames++
	}
	// 5 pings of 3 requests, each request and reply crossing the core.
	if espFrames < 30 {
		t.Errorf("%d ESP packets on the core, want at least 30", espFrames)
	}

	seen := map[string]int{}
	for _, f := range tshark(t, file, true, "esp && (icmp || icmpv6)", "esp.icv_good", "mpls.label",
		"ip.src", "ip.dst", "ipv6.src", "ipv6.dst") {
		c := strings.Split(f, "\t")
		src, dst := last(c[2]), last(c[3]) // the inner header, after the outer
		if c[4] != "" {
			src, dst = last(c[4]), last(c[5])
		}
		seen[fmt.Sprintf("icv %s label %s %s > %s", c[0], c[1], src, dst)]++
	}
	t.Logf("inside the ESP packets on the core (decrypted by tshark):\n%s", formatSeen(seen))
	for _, want := range []string{
		"icv 1 label 2001 10.1.0.2 > 10.2.0.2", // red, pe1 -> pe2
		"icv 1 label 1001 10.2.0.2 > 10.1.0.2", // red, pe2 -> pe1
		"icv 1 label 2002 10.1.0.2 > 10.2.0.2", // blue
		"icv 1 label 1002 10.2.0.2 > 10.1.0.2",
		"icv 1 label 2001 fd00:1::2 > fd00:2::2", // red IPv6
		"icv 1 label 2002 10.1.0.2 > 10.9.9.9",   // blue only
	} {
		if seen[want] == 0 {
			t.Errorf("no %q in the decrypted capture", want)
		}
	}
}

func last(s string) string {
	f := strings.Split(s, ",")
	return f[len(f)-1]
}

func formatSeen(m map[string]int) string {
	var lines []string
	for k, n := range m {
		lines = append(lines, fmt.Sprintf("  %3d x %s", n, k))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
