package seqstore

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"sync"
)

var netipAddr = netip.MustParseAddr

func withSum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return fmt.Appendf(body, "sum %x\n", sum)
}

// safeBuffer is a bytes.Buffer a logger on another goroutine may write.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
