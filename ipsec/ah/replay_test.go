package ah

import (
	"errors"
	"strings"
	"testing"
)

// TestReplayAndCounters replays a packet, opens one below the window and
// checks each drop's error and counter.
func TestReplayAndCounters(t *testing.T) {
	tx, rx := pair(t, HMACSHA256128, false)
	first := sealTunnel(t, tx, []byte{9}, NextHeaderMPLS, src4, dst4)
	if _, _, err := open(t, rx, first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := open(t, rx, first); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	var last []byte
	for range 1100 {
		last = sealTunnel(t, tx, []byte{9}, NextHeaderMPLS, src4, dst4)
	}
	if _, _, err := open(t, rx, last); err != nil {
		t.Fatal(err)
	}
	old := sealTunnelSeq(t, HMACSHA256128, 2)
	if _, _, err := open(t, rx, old); !errors.Is(err, ErrTooOld) {
		t.Fatalf("below the window: %v", err)
	}
	c := rx.Counters()
	if c.OpenedPackets != 2 || c.Replayed != 1 || c.TooOld != 1 || c.AuthFailed != 0 || c.OpenedBytes != 2 {
		t.Fatalf("counters %+v", c)
	}
}

// sealTunnelSeq seals one packet with sequence number seq under pair's key.
func sealTunnelSeq(t *testing.T, i Integ, seq uint64) []byte {
	tx := mustSA(t, Config{SPI: 0x1001, Integ: i, Key: testKey(i, 0x40), InitialSeq: seq - 1})
	return sealTunnel(t, tx, []byte{9}, NextHeaderMPLS, src4, dst4)
}

// TestSequenceExhausted: Seal refuses to wrap, with and without ESN, and
// with ESN the high half enters the ICV (a receiver that infers another
// high half fails authentication).
func TestSequenceExhausted(t *testing.T) {
	for _, esn := range []bool{false, true} {
		limit := uint64(1<<32 - 1)
		if esn {
			limit = 1<<64 - 1
		}
		tx := mustSA(t, Config{SPI: 0x1001, Integ: AES128GMAC, Key: testKey(AES128GMAC, 1), ESN: esn, InitialSeq: limit - 1})
		buf := make([]byte, Headroom+8)
		if _, err := tx.SealTunnel(buf, Headroom, 4, NextHeaderIPv4, src4, dst4); err != nil {
			t.Fatalf("esn=%v: last number: %v", esn, err)
		}
		if _, err := tx.SealTunnel(buf, Headroom, 4, NextHeaderIPv4, src4, dst4); !errors.Is(err, ErrSequenceExhausted) {
			t.Fatalf("esn=%v: past the limit: %v", esn, err)
		}
		if c := tx.Counters(); c.SeqExhausted != 1 || c.SealedPackets != 1 || tx.LastSeq() != limit {
			t.Fatalf("esn=%v: counters %+v last %d", esn, c, tx.LastSeq())
		}
	}
}

// TestESNHighBitsInICV seals with ESN at sequence 2^32+5. A fresh receiver
// infers high half 0 for the low half 5, so its ICV input differs in the
// unsent high bits and authentication fails; a receiver that has seen
// 2^32+1 infers high half 1 and opens it.
func TestESNHighBitsInICV(t *testing.T) {
	for _, i := range allIntegs {
		tx := mustSA(t, Config{SPI: 0x1001, Integ: i, Key: testKey(i, 0x40), ESN: true, InitialSeq: 1<<32 + 4})
		pkt := sealTunnel(t, tx, []byte{1, 2}, NextHeaderMPLS, src4, dst4)
		_, fresh := pair(t, i, true) // infers high half 0
		if _, _, err := open(t, fresh, pkt); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("%s: fresh receiver: %v, want ErrAuthFailed", i, err)
		}
		rx := mustSA(t, Config{SPI: 0x1001, Integ: i, Key: testKey(i, 0x40), ESN: true})
		_ = rx.window.Update(1<<32 + 1) // test only: the receiver has seen 2^32+1
		if _, _, err := open(t, rx, pkt); err != nil {
			t.Fatalf("%s: receiver in the second subspace: %v", i, err)
		}
	}
}

// TestConfigErrors: each bad field is named, and the key never printed.
func TestConfigErrors(t *testing.T) {
	key := testKey(HMACSHA256128, 0xa0)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{SPI: 0x1001, Integ: 0, Key: key}, "Config.Integ"},
		{Config{SPI: 255, Integ: HMACSHA256128, Key: key}, "Config.SPI: 255"},
		{Config{SPI: 0x1001, Integ: HMACSHA256128, Key: key[:31]}, "Config.Key: hmac-sha256-128 takes 32 bytes, got 31"},
		{Config{SPI: 0x1001, Integ: HMACSHA256128, Key: key, ReplayWindow: 10}, "Config.ReplayWindow"},
		{Config{SPI: 0x1001, Integ: HMACSHA256128, Key: key, RekeyAfter: 1 << 33}, "Config.RekeyAfter"},
	}
	for _, c := range cases {
		_, err := NewSA(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.cfg, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "a0a1a2") {
			t.Errorf("error shows the key: %v", err)
		}
	}
	if _, err := NewSA(Config{SPI: 0x1001, Integ: HMACSHA256128, Key: key, ManualKey: true}); err != nil {
		t.Errorf("HMAC under a manual key: %v", err)
	}
	sa := mustSA(t, Config{SPI: 0x1001, Integ: AES256GMAC, Key: testKey(AES256GMAC, 0xa0)})
	if s := sa.String(); s != "ah spi 0x00001001 aes256gmac (integrity only)" {
		t.Errorf("String = %q", s)
	}
	for _, i := range allIntegs {
		if got, err := ParseInteg(i.String()); got != i || err != nil {
			t.Errorf("ParseInteg(%q) = %v, %v", i, got, err)
		}
	}
}
