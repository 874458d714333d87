package ipsec

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// SALine is one security association as a .sa file beside a golden pcap
// records it, and as tshark's esp_sa table needs it: the outer addresses
// the SA's packets travel between, the SPI, the transform and the key.
//
// On disk, one line per SA, fields separated by spaces:
//
//	IPv4|IPv6 SRC DST SPI-HEX CIPHER KEY-HEX
//
// e.g. "IPv4 192.0.2.1 198.51.100.2 0x00001001 aes128gcm16 0x0011...". CIPHER
// is an esp.Cipher name (aes128gcm16, chacha20poly1305, aes256-sha512, ...);
// KEY-HEX is the key material as esp.Config.Key takes it: for an AEAD the
// key with the 4-byte salt at its end, for AES-CBC the AES key and then
// the HMAC key.
// Lines starting with '#' and blank lines are ignored.
type SALine struct {
	Src, Dst netip.Addr
	SPI      uint32
	Cipher   string
	Key      []byte
}

// Family is "IPv4" or "IPv6": the first field of a line, and the protocol
// field of tshark's esp_sa table.
func (l SALine) Family() string {
	if l.Src.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func (l SALine) String() string {
	return fmt.Sprintf("%s %s %s 0x%08x %s 0x%x", l.Family(), l.Src, l.Dst, l.SPI, l.Cipher, l.Key)
}

// parseSALine parses one non-comment line of a .sa file.
func parseSALine(s string) (SALine, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return SALine{}, fmt.Errorf("want 6 fields (family src dst spi cipher key), got %d", len(f))
	}
	var l SALine
	var err error
	if l.Src, err = netip.ParseAddr(f[1]); err != nil {
		return SALine{}, fmt.Errorf("source: %w", err)
	}
	if l.Dst, err = netip.ParseAddr(f[2]); err != nil {
		return SALine{}, fmt.Errorf("destination: %w", err)
	}
	if l.Family() != f[0] || l.Src.Is4() != l.Dst.Is4() {
		return SALine{}, fmt.Errorf("family %q does not match addresses %s, %s", f[0], l.Src, l.Dst)
	}
	spi, err := strconv.ParseUint(strings.TrimPrefix(f[3], "0x"), 16, 32)
	if err != nil {
		return SALine{}, fmt.Errorf("SPI %q: %w", f[3], err)
	}
	l.SPI = uint32(spi)
	l.Cipher = f[4]
	if l.Key, err = hex.DecodeString(strings.TrimPrefix(f[5], "0x")); err != nil {
		return SALine{}, fmt.Errorf("key: %w", err)
	}
	return l, nil
}

// saFileHeader opens every .sa file this package writes.
const saFileHeader = `# family src dst spi cipher key: one ESP SA per line (see SALine in saline_test.go).
# key = cipher key || 4-byte salt (AEAD), or AES key || HMAC key (AES-CBC). FIXED PUBLIC TEST KEYS for golden captures: never use them for traffic.
`

func writeSAFile(path string, lines []SALine) error {
	var b strings.Builder
	b.WriteString(saFileHeader)
	for _, l := range lines {
		b.WriteString(l.String() + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readSAFile(path string) ([]SALine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []SALine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		l, err := parseSALine(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}
