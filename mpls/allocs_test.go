package mpls

// The packet path must not allocate, on success or on failure: these tests
// turn that promise into a build break, as Tailscale and net/netip do.

import "testing"

func TestPacketPathAllocs(t *testing.T) {
	buf := make([]byte, 64)
	copy(buf[8:], ipv4Header())
	stack := []byte{
		0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
		0x00, 0x3e, 0x81, 0x3f, // label 1000, TC 0, S=1, TTL 63
	}
	garbage := make([]byte, 100) // no S bit anywhere: ErrTooDeep
	var sink error

	for _, tt := range []struct {
		name string
		fn   func()
	}{
		{"Push", func() { _, sink = Push(buf, 8, 100, 0, 64, true) }},
		{"Push/ErrNoHeadroom", func() { _, sink = Push(buf, 2, 100, 0, 64, true) }},
		{"Pop", func() { _, _, _, sink = Pop(buf, 4, 24) }},
		{"Pop/ErrTruncated", func() { _, _, _, sink = Pop(buf, 4, 2) }},
		{"Swap", func() { sink = Swap(stack, 24001); stack[3] = 63 }},
		{"Swap/ErrTTLExpired", func() { stack[3] = 1; sink = Swap(stack, 24001); stack[3] = 63 }},
		{"ParseStack", func() { _, sink = ParseStack(stack) }},
		{"ParseStack/ErrTooDeep", func() { _, sink = ParseStack(garbage) }},
		{"IngressTTL", func() { buf[16] = 64; _, sink = IngressTTL(Uniform, buf[8:]) }},
		{"EgressTTL", func() { buf[16] = 64; sink = EgressTTL(Uniform, 50, buf[8:]) }},
		{"EgressTTL/ErrNotIP", func() { sink = EgressTTL(Pipe, 50, garbage) }},
	} {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, n)
		}
	}
	_ = sink
}
