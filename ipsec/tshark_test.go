package ipsec

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/pcap"
)

// tshark (Wireshark's command-line decoder) is the independent oracle for
// our ESP packets: given an SA it decrypts and authenticates ESP with its
// own code (libgcrypt), so a packet it opens was sealed to the RFC, not
// merely to our own Open.
//
// Everything goes on the command line; no profile or file in $HOME is
// read (HOME and WIRESHARK_CONFIG_DIR point at an empty temporary
// directory). The recipe, checked with Wireshark 4.0.17 (Debian 12):
//
//	tshark -n -r FILE \
//	  -o esp.enable_encryption_decode:TRUE \
//	  -o esp.enable_authentication_check:TRUE \
//	  -o 'uat:esp_sa:"IPv4","192.0.2.1","198.51.100.2","0x00001001","AES-GCM with 16 octet ICV [RFC4106]","0x<key||salt>","NULL",""'
//
// The esp_sa fields, in order: protocol ("IPv4" or "IPv6"), source,
// destination (addresses, or "*"), SPI ("0x" and 8 hex digits), encryption
// algorithm, encryption key ("0x" hex: for AES-GCM the AES key followed by
// the 4-byte salt, exactly our key material), authentication algorithm
// (AES-GCM must be paired with "NULL"), authentication key (empty). Repeat
// -o for each SA. UDP port 4500 is decoded as ESP-in-UDP (the "udpencap"
// dissector) with no option, and ESP next header 137 is handed to the MPLS
// dissector through the ip.proto table, also with no option.
//
// esp.icv_good is 1 only when the ICV verified, which needs
// enable_authentication_check; with a wrong key it is 0 and the inner
// packet is not dissected.

// tsharkAlgorithms maps our transform names to Wireshark's "Encryption
// algorithm" values (esp_encryption_type_vals in packet-ipsec.c). The AES
// key length comes from the key, so both AES variants share a name.
// Wireshark 4.0 has no ChaCha20-Poly1305 for ESP (later releases list the
// name below); tsharkSupports asks the installed tshark.
var tsharkAlgorithms = map[string]string{
	"aes128gcm16":      "AES-GCM with 16 octet ICV [RFC4106]",
	"aes256gcm16":      "AES-GCM with 16 octet ICV [RFC4106]",
	"chacha20poly1305": "ChaCha20 with Poly1305 [RFC7634]",
	"aes128-sha256":    "AES-CBC [RFC3602]",
	"aes128-sha384":    "AES-CBC [RFC3602]",
	"aes128-sha512":    "AES-CBC [RFC3602]",
	"aes256-sha256":    "AES-CBC [RFC3602]",
	"aes256-sha384":    "AES-CBC [RFC3602]",
	"aes256-sha512":    "AES-CBC [RFC3602]",
}

// tsharkFields are the columns tsharkDecode prints, one line per frame.
// Fields that occur more than once (outer and inner ip.src) are joined
// with ',' in the order tshark dissected them, outermost first.
var tsharkFields = []string{
	"frame.number", "esp.spi", "esp.sequence", "esp.icv_good", "esp.protocol",
	"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.dstport",
	"mpls.label", "mpls.bottom", "icmp.type", "icmpv6.type",
	"icmp.checksum.status", "icmpv6.checksum.status",
}

// tsharkCBCAuth maps the AES-CBC suites' HMACs, by ICV length, to
// Wireshark's "Authentication algorithm" values (esp_authentication_type_vals).
var tsharkCBCAuth = map[int]string{
	16: "HMAC-SHA-256-128 [RFC4868]",
	24: "HMAC-SHA-384-192 [RFC4868]",
	32: "HMAC-SHA-512-256 [RFC4868]",
}

// uatESPSA formats l as one record of the esp_sa table, or "" if tshark
// has no name for its transform. An AEAD's key material goes whole into
// the encryption key; an AES-CBC suite's splits into the AES key and the
// HMAC key (twice as long as the ICV).
func uatESPSA(l SALine) string {
	alg, ok := tsharkAlgorithms[l.Cipher]
	if !ok {
		return ""
	}
	encKey, auth, authKey := l.Key, "NULL", ""
	if c, err := esp.ParseCipher(l.Cipher); err == nil && !c.IsAEAD() {
		n := len(l.Key) - 2*c.ICVLen()
		if n < 0 {
			return ""
		}
		encKey, auth, authKey = l.Key[:n], tsharkCBCAuth[c.ICVLen()], fmt.Sprintf("0x%x", l.Key[n:])
	}
	return fmt.Sprintf(`uat:esp_sa:"%s","%s","%s","0x%08x","%s","0x%x","%s","%s"`,
		l.Family(), l.Src, l.Dst, l.SPI, alg, encKey, auth, authKey)
}

// requireTshark returns tshark's path, or skips the test saying why.
func requireTshark(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skipf("tshark not found in PATH (%v): install Wireshark's tshark (Debian: apt-get install tshark) to check ESP packets with an independent decoder", err)
	}
	return bin
}

// tsharkCommand builds a tshark command isolated from the user's profile.
func tsharkCommand(t *testing.T, bin string, args ...string) *exec.Cmd {
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "WIRESHARK_CONFIG_DIR="+home, "XDG_CONFIG_HOME="+home)
	return cmd
}

var tsharkProbe struct {
	sync.Mutex
	refused map[string]string // cipher -> tshark's complaint ("" if accepted)
}

// tsharkSupports skips t unless this tshark accepts an esp_sa record for
// cipher: it runs tshark once per cipher on an empty capture with a dummy
// SA and reads the refusal, if any, from stderr.
func tsharkSupports(t *testing.T, cipher string) {
	t.Helper()
	bin := requireTshark(t)
	tsharkProbe.Lock()
	defer tsharkProbe.Unlock()
	if tsharkProbe.refused == nil {
		tsharkProbe.refused = map[string]string{}
	}
	refusal, done := tsharkProbe.refused[cipher]
	if !done {
		keyLen := 36
		if c, err := esp.ParseCipher(cipher); err == nil {
			keyLen = c.KeyLen()
		}
		uat := uatESPSA(SALine{Src: innerSrc4, Dst: innerDst4, SPI: 0x100, Cipher: cipher, Key: make([]byte, keyLen)})
		if uat == "" {
			t.Fatalf("no tshark algorithm name for cipher %q", cipher)
		}
		empty := filepath.Join(t.TempDir(), "empty.pcap")
		writePcap(t, empty, nil)
		cmd := tsharkCommand(t, bin, "-n", "-r", empty, "-o", uat)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			refusal = fmt.Sprintf("%v: %s", err, firstLine(stderr.String(), "Invalid"))
		}
		tsharkProbe.refused[cipher] = refusal
	}
	if refusal != "" {
		t.Skipf("%s cannot decrypt %s ESP: it rejects the esp_sa algorithm %q (%s); Wireshark 4.0's ESP dissector has no ChaCha20-Poly1305, later releases do",
			tsharkVersion(bin), cipher, tsharkAlgorithms[cipher], refusal)
	}
}

func firstLine(s, containing string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, containing) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(s)
}

func tsharkVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	return firstLine(string(out), "TShark")
}

// tsharkDecode runs tshark over pcapPath with the given SAs and returns its
// field output: one line per frame, the tsharkFields separated by '|'.
// It skips the test if tshark is missing or cannot handle an SA's cipher.
func tsharkDecode(t *testing.T, pcapPath string, sas []SALine) (output string) {
	t.Helper()
	bin := requireTshark(t)
	args := []string{"-n", "-r", pcapPath,
		"-o", "esp.enable_encryption_decode:TRUE",
		"-o", "esp.enable_authentication_check:TRUE"}
	for _, l := range sas {
		tsharkSupports(t, l.Cipher)
		args = append(args, "-o", uatESPSA(l))
	}
	args = append(args, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,")
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := tsharkCommand(t, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %q: %v\n%s", args, err, stderr.String())
	}
	t.Logf("%s: %s", tsharkVersion(bin), pcapPath)
	return string(out)
}

// tsharkFrame is one line of tsharkDecode's output, by field name.
type tsharkFrame map[string]string

func parseTsharkOutput(t *testing.T, out string) []tsharkFrame {
	t.Helper()
	var frames []tsharkFrame
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		vals := strings.Split(line, "|")
		if len(vals) != len(tsharkFields) {
			t.Fatalf("tshark line has %d fields, want %d: %q", len(vals), len(tsharkFields), line)
		}
		f := tsharkFrame{}
		for i, name := range tsharkFields {
			f[name] = vals[i]
		}
		frames = append(frames, f)
	}
	return frames
}

// last returns the innermost occurrence of a repeated field.
func (f tsharkFrame) last(field string) string {
	v := f[field]
	return v[strings.LastIndexByte(v, ',')+1:]
}

// writePcap writes packets as a LINKTYPE_RAW capture, one second apart
// from a fixed time, so that the file's bytes depend on the packets only.
func writePcap(t *testing.T, path string, pkts [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		if err := w.WritePacket(goldenEpoch.Add(time.Duration(i)*time.Second), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goldenEpoch is the timestamp of the first packet of every capture.
var goldenEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
