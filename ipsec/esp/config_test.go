package esp

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	key := testKey(AES128GCM16, 0xab)
	base := Config{SPI: 0x1000, Cipher: AES128GCM16, Key: key}
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"zero cipher", func(c *Config) { c.Cipher = 0 }, "Config.Cipher"},
		{"unknown cipher", func(c *Config) { c.Cipher = 99 }, "Config.Cipher"},
		{"SPI 0", func(c *Config) { c.SPI = 0 }, "Config.SPI"},
		{"SPI 255", func(c *Config) { c.SPI = 255 }, "Config.SPI"},
		{"key without salt", func(c *Config) { c.Key = key[:16] }, "Config.Key"},
		{"key for another cipher", func(c *Config) { c.Cipher = AES256GCM16 }, "Config.Key"},
		{"window too small", func(c *Config) { c.ReplayWindow = 32 }, "Config.ReplayWindow"},
		{"window too big", func(c *Config) { c.ReplayWindow = 8192 }, "Config.ReplayWindow"},
		{"initial seq past 32 bits", func(c *Config) { c.InitialSeq = 1 << 32 }, "Config.InitialSeq"},
		{"rekey past 32 bits", func(c *Config) { c.RekeyAfter = 1 << 32 }, "Config.RekeyAfter"},
	}
	for _, tc := range cases {
		cfg := base
		tc.edit(&cfg)
		_, err := NewSA(cfg)
		if err == nil {
			t.Errorf("%s: NewSA succeeded", tc.name)
			continue
		}
		if !bytes.Contains([]byte(err.Error()), []byte(tc.field)) {
			t.Errorf("%s: error %q does not name %s", tc.name, err, tc.field)
		}
		if bytes.Contains([]byte(err.Error()), []byte("abb2b9")) {
			t.Errorf("%s: error %q shows key bytes", tc.name, err)
		}
	}
	ok := base
	ok.ESN, ok.InitialSeq, ok.ReplayWindow = true, 1<<40, 4096
	sa, err := NewSA(ok)
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if sa.ReplayWindow() != 4096 || !sa.ESN() || sa.LastSeq() != 1<<40 || sa.Cipher() != AES128GCM16 {
		t.Fatalf("accessors: %v window %d last %d", sa, sa.ReplayWindow(), sa.LastSeq())
	}
	if def := mustSA(t, base); def.ReplayWindow() < 1024 {
		t.Fatalf("default window %d < 1024", def.ReplayWindow())
	}
}

func TestParseCipher(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      Cipher
		keyLen int
	}{
		{"aes128gcm16", AES128GCM16, 20},
		{"aes256gcm16", AES256GCM16, 36},
		{"chacha20poly1305", ChaCha20Poly1305, 36},
	} {
		c, err := ParseCipher(tc.name)
		if err != nil || c != tc.c || c.String() != tc.name || c.KeyLen() != tc.keyLen {
			t.Errorf("ParseCipher(%q) = %v, %v (key %d)", tc.name, c, err, c.KeyLen())
		}
		text, err := c.MarshalText()
		var back Cipher
		if err != nil || back.UnmarshalText(text) != nil || back != c {
			t.Errorf("text round trip of %v: %q %v", c, text, err)
		}
	}
	for _, bad := range []string{"", "AES128GCM16", "aes128gcm", "aes192gcm16", "chacha20"} {
		if c, err := ParseCipher(bad); err == nil {
			t.Errorf("ParseCipher(%q) = %v, want an error", bad, c)
		}
	}
	var zero Cipher
	if zero.IsValid() || zero.KeyLen() != 0 || zero.String() != "Cipher(0)" {
		t.Errorf("zero Cipher: valid %v, key %d, %q", zero.IsValid(), zero.KeyLen(), zero)
	}
	if _, err := zero.MarshalText(); err == nil {
		t.Error("MarshalText of the zero Cipher succeeded")
	}
}

// TestNoKeyInLogs: the key must not show in any formatting of a Config or
// an SA.
func TestNoKeyInLogs(t *testing.T) {
	cfg := Config{SPI: 0x1000, Cipher: ChaCha20Poly1305, Key: bytes.Repeat([]byte{0xd7}, 36)}
	sa := mustSA(t, cfg)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("sa", "cfg", cfg, "sa", sa)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("sa", "cfg", cfg, "sa", sa)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprint(sa), logged.String()} {
		if strings.Contains(strings.ToLower(s), "d7d7") || strings.Contains(s, "19fX") {
			t.Errorf("key material in %q", s)
		}
		if !strings.Contains(s, "0x00001000") {
			t.Errorf("SPI missing from %q", s)
		}
	}
}
