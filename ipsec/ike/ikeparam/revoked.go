package ikeparam

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
)

// RevokedSerials is a set of certificate serial numbers refused at
// authentication, read from a file with one hexadecimal serial per line:
//
//	# comments run from '#' to the end of the line
//	01f3a9
//	0x1F3AA
//	3c:9e:02:11        (colons as openssl and strongSwan's pki print them)
//
// Leading zeros do not matter. The zero value is an empty list.
type RevokedSerials map[string]struct{}

// maxSerialDigits is 20 octets (RFC 5280 section 4.1.2.2) in hex.
const maxSerialDigits = 40

// ParseRevokedSerials reads a revoked-serial list. An error names the line.
func ParseRevokedSerials(b []byte) (RevokedSerials, error) {
	r := RevokedSerials{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		if c := bytes.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		s = strings.ReplaceAll(s, ":", "")
		n, ok := new(big.Int).SetString(s, 16)
		if !ok || s == "" || len(s) > maxSerialDigits || strings.ContainsAny(s, "+-_") {
			return nil, fmt.Errorf("line %d: %q is not a hexadecimal serial number of at most 20 octets", i+1, strings.TrimSpace(string(line)))
		}
		r[n.Text(16)] = struct{}{}
	}
	return r, nil
}

// Has reports whether serial is listed.
func (r RevokedSerials) Has(serial *big.Int) bool {
	if serial == nil {
		return false
	}
	_, ok := r[serial.Text(16)]
	return ok
}
