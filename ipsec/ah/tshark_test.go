package ah

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// tshark (Wireshark's decoder) is the independent reader of our AH
// packets. Wireshark's AH dissector does not verify ICVs (it has no AH SA
// table, unlike ESP's), so this checks the framing: that tshark finds AH
// where we put it, reads the same next header, length, SPI, sequence
// number and ICV, and finds the protected packet after it (the inner IP
// header in tunnel mode, the UDP header in transport mode), over IPv4 and
// IPv6, for every transform. The ICV itself is checked by the tamper and
// construction tests, and against the Linux kernel in the VM test.

type tsharkCase struct {
	name      string
	integ     Integ
	v6        bool
	transport bool
}

func TestTsharkDissectsAH(t *testing.T) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skipf("tshark not found in PATH (%v): install Wireshark's tshark (Debian: apt-get install tshark)", err)
	}
	var cases []tsharkCase
	for _, i := range allIntegs {
		for _, v6 := range []bool{false, true} {
			for _, tr := range []bool{false, true} {
				cases = append(cases, tsharkCase{fmt.Sprintf("%s/v6=%v/transport=%v", i, v6, tr), i, v6, tr})
			}
		}
	}
	var pkts [][]byte
	var file bytes.Buffer
	w, err := pcap.NewWriter(&file, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range cases {
		tx := mustSA(t, Config{SPI: 0x2000 + uint32(k), Integ: c.integ, Key: testKey(c.integ, 7), InitialSeq: uint64(k) * 1000})
		var pkt []byte
		switch {
		case c.transport && c.v6:
			pkt = sealTransport(t, tx, udp(ipv6Packet(src6, dst6, 17, 20), IPv6HeaderLen))
		case c.transport:
			pkt = sealTransport(t, tx, udp(ipv4Packet(src4, dst4, 17, 20), IPv4HeaderLen))
		case c.v6:
			pkt = sealTunnel(t, tx, ipv6Packet(dst6, src6, 59, 8), NextHeaderIPv6, src6, dst6)
		default:
			pkt = sealTunnel(t, tx, ipv4Packet(dst4, src4, 59, 8), NextHeaderIPv4, src4, dst4)
		}
		pkts = append(pkts, pkt)
		if err := w.WritePacket(time.Unix(1700000000+int64(k), 0), pkt); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ah.pcap")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-r", path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "ah.next_header", "-e", "ah.length", "-e", "ah.spi", "-e", "ah.sequence", "-e", "ah.icv",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "udp.dstport", "-e", "_ws.malformed", "-e", "_ws.expert")
	cmd.Env = append(os.Environ(), "HOME="+dir, "WIRESHARK_CONFIG_DIR="+dir, "XDG_CONFIG_HOME="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(cases), out)
	}
	for k, c := range cases {
		f := strings.Split(lines[k], "|")
		pkt := pkts[k]
		h := IPv4HeaderLen
		if c.v6 {
			h = IPv6HeaderLen
		}
		a := pkt[h:]
		icv := a[FixedLen+c.integ.IVLen() : FixedLen+c.integ.IVLen()+ICVLen]
		wantNH := "17"
		if !c.transport {
			wantNH = fmt.Sprint(a[0])
		}
		// Wireshark prints the Payload Len field as sent and the ICV
		// field as everything after the sequence number (with the
		// GMAC IV and the IPv6 padding).
		ahLen := c.integ.HeaderLen()
		checks := []struct{ what, got, want string }{
			{"next header", f[0], wantNH},
			{"length", f[1], fmt.Sprint(ahLen/4 - 2)},
			{"SPI", f[2], fmt.Sprintf("0x%08x", 0x2000+k)},
			{"sequence", f[3], fmt.Sprint(k*1000 + 1)},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s: tshark %s %q, want %q (line %q)", c.name, ch.what, ch.got, ch.want, lines[k])
			}
		}
		if !strings.Contains(strings.ReplaceAll(f[4], ":", ""), hex.EncodeToString(icv)) {
			t.Errorf("%s: tshark ICV %q does not contain ours %x", c.name, f[4], icv)
		}
		switch {
		case c.transport && f[7] != "50001":
			t.Errorf("%s: tshark found no UDP port 50001 after AH: %q", c.name, lines[k])
		case !c.transport && !c.v6 && !strings.Contains(f[5], dst4.String()+",") && !strings.HasSuffix(f[5], dst4.String()):
			t.Errorf("%s: tshark found no inner IPv4 header after AH: %q", c.name, lines[k])
		case !c.transport && c.v6 && !strings.Contains(f[6], ","):
			t.Errorf("%s: tshark found no inner IPv6 header after AH: %q", c.name, lines[k])
		}
		if f[8] != "" {
			t.Errorf("%s: tshark calls the packet malformed: %q", c.name, lines[k])
		}
	}
	if t.Failed() {
		t.Logf("tshark output:\n%s", out)
	}
}

// udp writes a UDP header (ports 50000 to 50001, which no dissector
// claims, and a correct checksum) after the h-byte IP header of ip and
// returns ip.
func udp(ip []byte, h int) []byte {
	u := ip[h:]
	binary.BigEndian.PutUint16(u[0:], 50000)
	binary.BigEndian.PutUint16(u[2:], 50001)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	binary.BigEndian.PutUint16(u[6:], 0)
	var src, dst netip.Addr
	if h == IPv6HeaderLen {
		src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
	} else {
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	}
	binary.BigEndian.PutUint16(u[6:], wire.UpperChecksum(src, dst, 17, u))
	return ip
}
