package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// tsharkCheck asks Wireshark's ESP dissector, code independent of ours, to
// decrypt the capture with the demo SA and shows what it found inside.
func tsharkCheck(w io.Writer, pcapPath string) error {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		step(w, 12, "tshark not installed (apt-get install tshark): skipping the independent decode")
		return nil
	}
	home, err := os.MkdirTemp("", "peregrine-walk-tshark")
	if err != nil {
		return fmt.Errorf("tshark: %w", err)
	}
	defer os.RemoveAll(home)
	sa := fmt.Sprintf(`uat:esp_sa:"IPv4","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""`,
		pe1, pe2, demoSPI, hex.EncodeToString(demoKey))
	cmd := exec.Command(bin, "-n", "-r", pcapPath,
		"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE", "-o", sa,
		"-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "frame.protocols", "-e", "esp.spi", "-e", "esp.sequence", "-e", "esp.icv_good",
		"-e", "mpls.label", "-e", "ip.src", "-e", "ip.dst", "-e", "icmp.type")
	// An empty HOME keeps the operator's Wireshark preferences out of it.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "WIRESHARK_CONFIG_DIR="+home)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("tshark failed: %w", err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "|")
	if len(f) < 8 {
		return fmt.Errorf("tshark printed %q", out)
	}
	agrees := f[3] == "1" && f[4] == "100" && strings.HasSuffix(f[6], ","+ce2.String())
	verdict := "AGREES: it authenticates and decodes our packet"
	if !agrees {
		verdict = "DISAGREES with our engine"
	}
	step(w, 12, "tshark %s\n    layers %s\n    SPI %s seq %s ICV good=%s, MPLS label %s, IP src %s dst %s, ICMP type %s",
		verdict, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
	if !agrees {
		return fmt.Errorf("tshark disagrees with our engine")
	}
	return nil
}
