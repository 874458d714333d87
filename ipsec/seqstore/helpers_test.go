package seqstore

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
)

var netipAddr = netip.MustParseAddr

func withSum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return fmt.Appendf(body, "sum %x\n", sum)
}
