package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// metricsAddr is where each daemon serves /metrics, inside its namespace.
const metricsAddr = "127.0.0.1:9101"

// keys are the manual ESP keys between pe1 and pe2 (AES-128-GCM: 16-byte
// key and 4-byte salt), one file per direction in the lab's directory.
type keys struct{ pe1to2, pe2to1 string }

func writeKeys(dir string) (keys, error) {
	k := keys{filepath.Join(dir, "pe1to2.key"), filepath.Join(dir, "pe2to1.key")}
	for _, p := range []string{k.pe1to2, k.pe2to1} {
		var b [20]byte
		_, _ = rand.Read(b[:])
		if err := os.WriteFile(p, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
			return k, err
		}
	}
	return k, nil
}

// pe1Config is the daemon under test: vrfs VRFs, each with its CE
// interface, ten static routes (its CE link and nine prefixes behind the
// CE) and an import of the one route gobgpd announces with its target.
func pe1Config(sock string, vrfs int, k keys) string {
	var b strings.Builder
	fmt.Fprintf(&b, `router: {id: %[1]s, asn: %[2]d}
log: {level: warn}
control: {socket: %[3]s}
metrics: {listen: '%[4]s'}
dataplane: {backend: userspace}
bgp:
  listen-address: 0.0.0.0
  api: ''
  neighbors:
    - {address: %[5]s, asn: %[2]d, families: [vpnv4], local-address: %[1]s, connect-retry: 1s, hold-time: 9s}
    - {address: %[6]s, asn: %[2]d, families: [vpnv4], local-address: %[7]s, connect-retry: 1s, hold-time: 9s}
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[5]s
      out: {spi: 4097, cipher: aes128gcm16, key-file: %[8]s}
      in: {spi: 4098, cipher: aes128gcm16, key-file: %[9]s}
`, pe1Core, asn, sock, metricsAddr, pe2Core, spkAddr, pe1Spk, k.pe1to2, k.pe2to1)
	if vrfs == 0 {
		b.WriteString("vrfs: []\n")
		return b.String()
	}
	b.WriteString("vrfs:\n")
	for i := range vrfs {
		l := ceLink(i)
		ce := nth(l, 2)
		fmt.Fprintf(&b, "  - name: %s\n    rd: '%d:%d'\n    import-targets: ['%s']\n    export-targets: ['%s']\n    interfaces: [%s]\n    static-routes:\n      - {prefix: %s}\n",
			vrfName(i), asn, i+1, rt(i), rt(i), ceIf(i), l)
		for j := range 9 {
			fmt.Fprintf(&b, "      - {prefix: 172.16.%d.0/24, next-hop: %s}\n", j, ce)
		}
	}
	return b.String()
}

// pe2Config is the far PE: two VRFs, importing and exporting the first
// and the last of pe1's targets, each with a link to ce2.
func pe2Config(sock string, vrfs int, k keys) string {
	return fmt.Sprintf(`router: {id: %[1]s, asn: %[2]d}
log: {level: warn}
control: {socket: %[3]s}
dataplane: {backend: userspace}
bgp:
  listen-address: %[1]s
  api: ''
  neighbors:
    - {address: %[4]s, asn: %[2]d, families: [vpnv4], local-address: %[1]s, connect-retry: 1s, hold-time: 9s}
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[4]s
      out: {spi: 4098, cipher: aes128gcm16, key-file: %[5]s}
      in: {spi: 4097, cipher: aes128gcm16, key-file: %[6]s}
vrfs:
  - {name: first, rd: '%[2]d:100001', import-targets: ['%[7]s'], export-targets: ['%[7]s'], interfaces: [d0], static-routes: [{prefix: %[8]s}]}
  - {name: last, rd: '%[2]d:100002', import-targets: ['%[9]s'], export-targets: ['%[9]s'], interfaces: [d1], static-routes: [{prefix: %[10]s}]}
`, pe2Core, asn, sock, pe1Core, k.pe2to1, k.pe1to2, rt(0), farFirst, rt(vrfs-1), farLast)
}
