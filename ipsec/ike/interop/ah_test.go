package interop

// strongSwan as the oracle of IKE-negotiated AH (RFC 4302): charon offers
// an AH child (swanctl ah_proposals) to Peregrine as responder. Charon
// runs without kernel-libipsec, which carries ESP only and fakes a NAT
// (Peregrine refuses AH across a NAT); whether the kernel then installs
// the SAs does not matter here. What is checked is the negotiation:
// charon accepts Peregrine's answer (Protocol AH, one INTEG, ESN, no
// ENCR) and derives, at log level 4, the same KEYMAT as Peregrine: the
// integrity keys alone, initiator to responder first (RFC 7296 section
// 2.17). strongSwan 5.9.8 has no KEYMAT length for AES-GMAC as an AH
// integrity algorithm, so HMAC-SHA2-256-128 is the transform checked.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// ahCharon starts charon without kernel-libipsec, logging child keys.
func ahCharon(t *testing.T) (*swan, func(mods ...func(*ike.PeerConfig)) chan ike.Event) {
	plugins := strings.Replace(peers.CharonPlugins, "kernel-libipsec ", "", 1)
	_, s, pe := setupCharon(t, peers.CharonConfig{Plugins: plugins, ChildLogLevel: 4})
	start := func(mods ...func(*ike.PeerConfig)) chan ike.Event {
		_, _, events := peregrineWith(t, pe, goodPSK, false, 0,
			ike.IKEProposal{Encr: []ike.Encr{ike.AES256GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHCurve25519}},
			ike.ESPProposal{Encr: []ike.Encr{ike.AES256GCM16}}, mods...)
		return events
	}
	return s, start
}

func TestAHWithStrongSwan(t *testing.T) {
	for _, c := range []struct{ swan, want string }{
		{"sha256", "AH:HMAC_SHA2_256_128/NO_EXT_SEQ"},
		{"sha256-esn", "AH:HMAC_SHA2_256_128/EXT_SEQ"},
	} {
		t.Run(c.swan, func(t *testing.T) { ahWithStrongSwan(t, c.swan, c.want) })
	}
}

// ahWithStrongSwan has charon offer ah_proposals = swanProp and checks it
// selects want from Peregrine's answer and keys it as Peregrine does.
func ahWithStrongSwan(t *testing.T, swanProp, want string) {
	s, start := ahCharon(t)
	if err := s.Load(swanConf(goodPSK, "aes256gcm16-prfsha256-x25519", "ah_proposals = "+swanProp, "", "")); err != nil {
		t.Fatal(err)
	}
	events := start(func(p *ike.PeerConfig) {
		p.AH = []ike.AHProposal{{Integ: []ike.Integ{ike.IntegAES128GMAC, ike.IntegHMACSHA256128}}}
	})
	out, err := s.swanctl("--initiate", "--child", "net", "--timeout", "10")
	t.Logf("swanctl --initiate (the SA install may fail: no kernel AH needed here): %v\n%s", err, out)
	ev := wait(t, events, ike.ChildUp)
	c := ev.Child
	t.Logf("Peregrine's child: %v", c)
	if c.AH != ah.HMACSHA256128 || c.Cipher != 0 || c.UDPEncap || len(c.InKey.Bytes()) != 32 || c.ESN != strings.HasSuffix(swanProp, "-esn") {
		t.Fatalf("child %v: want AH hmac-sha256-128 with 32-byte keys, not in UDP, ESN as offered", c)
	}
	var log string
	eventually(t, 5*time.Second, func() error {
		log = s.log()
		if !strings.Contains(log, "integrity responder key") {
			return fmt.Errorf("charon logged no child keys yet")
		}
		return nil
	})
	if !strings.Contains(log, "selected proposal: "+want+"\n") {
		t.Errorf("charon did not select %s from Peregrine's AH answer:\n%s", want, grepLines(log, "proposal"))
	}
	// charon initiated: its initiator key is what Peregrine opens with.
	iToR, rToI := charonKeyDump(t, log, "integrity initiator key"), charonKeyDump(t, log, "integrity responder key")
	if !bytes.Equal(iToR, c.InKey.Bytes()) || !bytes.Equal(rToI, c.OutKey.Bytes()) {
		t.Fatalf("KEYMAT differs from strongSwan's (lengths %d/%d, ours %d/%d)", len(iToR), len(rToI), len(c.InKey.Bytes()), len(c.OutKey.Bytes()))
	}
	if strings.Contains(log, "encryption initiator key") {
		t.Error("charon derived encryption keys for an AH child")
	}
	t.Logf("charon selected %s and derived the same 32-byte integrity keys both ways; charon on the install:\n%s",
		want, grepLines(log, "AH SA", "SAD", "DELETE for AH"))
}

// An ESP-configured Peregrine refuses strongSwan's AH-only offer: charon
// hears NO_PROPOSAL_CHOSEN and no child comes up.
func TestESPPeregrineRefusesStrongSwanAH(t *testing.T) {
	s, start := ahCharon(t)
	if err := s.Load(swanConf(goodPSK, "aes256gcm16-prfsha256-x25519", "ah_proposals = sha256", "", "")); err != nil {
		t.Fatal(err)
	}
	events := start()
	_, _ = s.swanctl("--initiate", "--child", "net", "--timeout", "10")
	eventually(t, 10*time.Second, func() error {
		if l := s.log(); !strings.Contains(l, "NO_PROPOSAL_CHOSEN") {
			return fmt.Errorf("charon heard no NO_PROPOSAL_CHOSEN:\n%s", grepLines(l, "proposal", "NOTIFY", "N("))
		}
		return nil
	})
	for {
		select {
		case ev := <-events:
			if ev.Kind == ike.ChildUp {
				t.Fatalf("child up: %v", ev.Child)
			}
		default:
			return
		}
	}
}

// charonKeyDump returns the last key charon dumped (log level 4) under
// label, such as "integrity initiator key => 32 bytes @ 0x...".
func charonKeyDump(t *testing.T, log, label string) []byte {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(label) + ` => (\d+) bytes @ \S+\n((?:.*\d+: [0-9A-F]{2} .*\n)+)`)
	ms := re.FindAllStringSubmatch(log, -1)
	if len(ms) == 0 {
		t.Fatalf("no %q dump in charon.log", label)
	}
	m := ms[len(ms)-1]
	var n int
	fmt.Sscan(m[1], &n)
	hexByte := regexp.MustCompile(`^[0-9A-F]{2}$`)
	var key []byte
	for _, line := range strings.Split(m[2], "\n") {
		_, dump, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(dump) {
			if !hexByte.MatchString(f) || len(key) == n {
				break
			}
			v, _ := hex.DecodeString(f)
			key = append(key, v...)
		}
	}
	if len(key) != n {
		t.Fatalf("%s: %d of %d bytes in the dump", label, len(key), n)
	}
	return key
}
