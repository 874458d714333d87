package main

// walk follows one customer packet through Peregrine's engines, the packet
// walk of the design notes, printing each step:
//
//	CE-red-1 --> PE1 [vrf red: push label, ESP seal, IPv4/UDP 4500] ==core==>
//	             PE2 [decap, SA by SPI, open, pop label -> vrf red] --> CE-red-2
//
// It needs no privileges and no network: the "core" is a byte buffer and a
// pcap file, which tshark (if installed) decodes as an independent check.

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"github.com/peregrine-net/peregrine/mpls"
)

// The demo's fixed, public key: never use it for anything real.
var demoKey = []byte{
	0x50, 0x65, 0x72, 0x65, 0x67, 0x72, 0x69, 0x6e, 0x65, 0x2d, 0x64, 0x65, 0x6d, 0x6f, 0x21, 0x21, // AES-128 key "Peregrine-demo!!"
	0xca, 0xfe, 0xba, 0xbe, // salt
}

const demoSPI = 0x00001001

var (
	pe1 = netip.MustParseAddr("192.0.2.1")
	pe2 = netip.MustParseAddr("198.51.100.2")
	ce1 = netip.MustParseAddr("10.1.0.1")
	ce2 = netip.MustParseAddr("10.2.0.1")
)

// headroom leaves space for outer IP/UDP, the ESP header, IV and scratch,
// and a label; a real dataplane reserves the same in each buffer.
const headroom = wire.MaxOuterHeaderLen + esp.Headroom + mpls.EntrySize*4

func walk(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("walk", flag.ContinueOnError)
	pcapPath := fs.String("pcap", filepath.Join(os.TempDir(), "peregrine-walk.pcap"), "write the core-link packet to `file`")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	sa, err := esp.NewSA(esp.Config{SPI: demoSPI, Cipher: esp.AES128GCM16, Key: demoKey})
	if err != nil {
		return err
	}
	var inbound esptransport.InboundTable
	rx, err := esp.NewSA(esp.Config{SPI: demoSPI, Cipher: esp.AES128GCM16, Key: demoKey})
	if err != nil {
		return err
	}
	if err := inbound.Add(rx); err != nil {
		return err
	}

	buf := make([]byte, 2048)
	off := headroom
	n := putEcho(buf[off:], ce1, ce2, 64, []byte("hello from CE-red-1"))
	step(w, 1, "CE-red-1 sends ICMP echo %s -> %s, TTL 64, %d bytes", ce1, ce2, n)
	dump(w, buf[off:off+n])

	step(w, 2, "PE1, vrf red: 10.2.0.0/24 via PE2 %s, VPN label 100 (learned over BGP VPNv4)", pe2)
	ttl, err := mpls.IngressTTL(mpls.Uniform, buf[off:off+n])
	if err != nil {
		return err
	}
	lo, err := mpls.Push(buf, off, mpls.MustLabel(100), 0, ttl, true)
	if err != nil {
		return err
	}
	n += off - lo
	off = lo
	step(w, 3, "push label 100 (S=1, TTL %d: uniform mode copies the IP TTL less one)", ttl)
	dump(w, buf[off:off+mpls.EntrySize])

	espPkt, err := sa.Seal(buf, off, n, esp.NextHeaderMPLS)
	if err != nil {
		return err
	}
	espOff := off - esp.HeaderLen - esp.IVLen
	step(w, 4, "ESP seal, SPI 0x%08x, AES-128-GCM, next header 137 (MPLS): %d -> %d bytes", demoSPI, n, len(espPkt))
	path := wire.Path{Src: pe1, Dst: pe2, UDP: true}
	pktOff, err := wire.Encapsulate(buf, espOff, len(espPkt), path)
	if err != nil {
		return err
	}
	pkt := buf[pktOff : espOff+len(espPkt)]
	step(w, 5, "outer IPv4 %s -> %s, UDP 4500 (RFC 3948): %d bytes on the core link", pe1, pe2, len(pkt))
	dump(w, pkt)
	if err := writePcap(*pcapPath, pkt); err != nil {
		return err
	}
	fmt.Fprintf(w, "   written to %s\n", *pcapPath)
	crossed := append([]byte(nil), pkt...) // what crossed the core, for the tamper step

	if err := decapAndOpen(w, &inbound, buf, pktOff, len(pkt)); err != nil {
		return err
	}

	if err := attacks(w, sa, &inbound, path, crossed); err != nil {
		return err
	}
	if err := tsharkCheck(w, *pcapPath); err != nil {
		return err
	}
	fmt.Fprintln(w, "verdict: OK: the packet crossed sealed, arrived in vrf red, and forgeries and replays were dropped")
	return nil
}

// decapAndOpen is PE2's half: parse the outer headers, find the SA by SPI,
// authenticate and decrypt, pop the label and deliver into the VRF.
func decapAndOpen(w io.Writer, inbound *esptransport.InboundTable, buf []byte, pktOff, pktLen int) error {
	outer, espBytes, kind, err := wire.Decapsulate(buf[pktOff : pktOff+pktLen])
	if err != nil {
		return err
	}
	if kind != wire.KindESP {
		return fmt.Errorf("PE2: expected ESP on UDP 4500, got %v", kind)
	}
	step(w, 6, "PE2: outer %s -> %s port %d, ESP with SPI 0x%08x", outer.Src, outer.Dst, outer.DstPort, uint32(espBytes[0])<<24|uint32(espBytes[1])<<16|uint32(espBytes[2])<<8|uint32(espBytes[3]))
	espOff := pktOff + outer.HeaderLen
	seq := binary.BigEndian.Uint32(espBytes[4:8]) // read before Open reuses the header as scratch
	payload, nh, sa, err := inbound.Open(buf, espOff, len(espBytes))
	if err != nil {
		return fmt.Errorf("PE2: open: %w", err)
	}
	c := sa.Counters()
	step(w, 7, "ESP open: ICV good, sequence %d inside the replay window, next header %d; SA counters: %d packets, %d bytes in", seq, nh, c.OpenedPackets, c.OpenedBytes)
	e, off, n, err := mpls.Pop(buf, espOff+esp.HeaderLen+esp.IVLen, len(payload))
	if err != nil {
		return err
	}
	vrf := map[mpls.Label]string{100: "red", 200: "blue"}[e.Label]
	if err := mpls.EgressTTL(mpls.Uniform, e.TTL, buf[off:off+n]); err != nil {
		return err
	}
	step(w, 8, "pop %s -> vrf %s (the label, not the address, picks the table: blue's 10.2.0.1 is label 200)", e, vrf)
	h, _, err := wire.ParseIPv4(buf[off : off+n])
	if err != nil {
		return err
	}
	step(w, 9, "vrf %s: %s is on ce3 -> CE-red-2 receives ICMP echo %s -> %s, TTL %d", vrf, h.Dst(), h.Src(), h.Dst(), h.TTL())
	dump(w, buf[off:off+n])
	return nil
}

// attacks shows PE2 dropping and counting what an attacker on the core
// could send: a fresh packet with one ciphertext bit flipped, and a replay
// of the packet that already crossed.
func attacks(w io.Writer, tx *esp.SA, inbound *esptransport.InboundTable, path wire.Path, crossed []byte) error {
	buf := make([]byte, 2048)
	off := headroom
	n := putEcho(buf[off:], ce1, ce2, 64, []byte("second packet"))
	espPkt, err := tx.Seal(buf, off, n, esp.NextHeaderIPv4)
	if err != nil {
		return err
	}
	espOff := off - esp.HeaderLen - esp.IVLen
	if _, err := wire.Encapsulate(buf, espOff, len(espPkt), path); err != nil {
		return err
	}
	buf[espOff+esp.HeaderLen+esp.IVLen+5] ^= 0x01 // one bit of ciphertext
	_, _, _, err = inbound.Open(buf, espOff, len(espPkt))
	sa := inbound.Lookup(demoSPI)
	step(w, 10, "attacker flips one ciphertext bit of packet 2: %v (auth failures: %d)", err, sa.Counters().AuthFailed)
	if !errors.Is(err, esp.ErrAuthFailed) {
		return fmt.Errorf("tampering was not detected (got %v)", err)
	}

	copy(buf[off:], crossed)
	outer, espBytes, _, err := wire.Decapsulate(buf[off : off+len(crossed)])
	if err == nil {
		_, _, _, err = inbound.Open(buf, off+outer.HeaderLen, len(espBytes))
	}
	step(w, 11, "attacker replays packet 1: %v (replays: %d)", err, sa.Counters().Replayed)
	if !errors.Is(err, esp.ErrReplayed) {
		return fmt.Errorf("replay was not detected (got %v)", err)
	}
	return nil
}

func step(w io.Writer, i int, format string, args ...any) {
	fmt.Fprintf(w, "%2d. %s\n", i, fmt.Sprintf(format, args...))
}

// dump prints bytes 16 to a line, indented.
func dump(w io.Writer, b []byte) {
	for i := 0; i < len(b); i += 16 {
		end := min(i+16, len(b))
		fmt.Fprintf(w, "    %04x  %s\n", i, hex.EncodeToString(b[i:end]))
	}
}

func writePcap(path string, pkt []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	pw, err := pcap.NewWriter(f, pcap.LinkTypeRaw)
	if err == nil {
		err = pw.WritePacket(time.Unix(1700000000, 0), pkt)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
