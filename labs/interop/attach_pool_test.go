package interop_test

// A remote-access pool: strongSwan (charon-systemd, kernel-libipsec) as a
// road-warrior host with a virtual IP ("vips = 0.0.0.0"), authenticating
// by certificate both ways (strongSwan's pki makes the CA, pe1's and the
// host's certificates). The E2E lab (e2e_test.go) plus, on pe1:
//
//	laptop (strongSwan) 192.168.9.10 ──rwl── pe1 192.168.9.9 ══ core ══ pe2 ─ce3─ ce-red-2 10.2.0.2
//	  virtual IP from red's pool 10.77.0.0/24
//
// The host is given 10.77.0.1 by configuration payload, pe1 exports
// 10.77.0.1/32 in red, the host pings ce-red-2 from it across the PE-PE
// ESP core, and show lists the lease. After swanctl --terminate the lease
// is gone from show and pe2 has withdrawn the /32; connecting again
// leases an address again.

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const poolPE1Config = `
router: {id: 192.168.0.1, asn: 65000}
log: {level: debug}
dataplane: {backend: userspace}
bgp:
  api: ''
  neighbors: [{address: 192.168.0.2, asn: 65000, local-address: 192.168.0.1, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - name: red
    rd: '65000:11'
    import-targets: ['65000:1']
    export-targets: ['65000:1']
    interfaces: [ce1]
    ipsec-attachments:
      - name: ra-red
        kind: pool
        pool: 10.77.0.0/24
        dns: [10.1.0.53]
        remote-ids: ['*.hosts.example']
        ike:
          auth: cert
          certificate: pe1.crt
          private-key: pe1.key
          ca-bundle: ca.crt
          local-id: pe1.example
          ike-proposals: [aes128gcm16-prf-sha256-curve25519]
          esp-proposals: [aes128gcm16]
  - {name: blue, rd: '65000:12', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [ce2]}
ipsec:
  local-address: 192.168.0.1
  tunnels:
    - remote: 192.168.0.2
      out: {spi: 4097, cipher: aes128gcm16, key-file: out.key}
      in: {spi: 8193, cipher: aes128gcm16, key-file: in.key}
`

// apiPoolRow is a pool's or a host's line of /v1/ipsec/attachments.
type apiPoolRow struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	State  string   `json:"state"`
	Leases int      `json:"leases"`
	Client string   `json:"client"`
	Leased string   `json:"leased"`
	SiteTS []string `json:"site-ts"`
}

// pki runs strongSwan's pki into dir.
func pki(t *testing.T, dir, file string, args ...string) {
	t.Helper()
	out, err := exec.Command("pki", args...).Output()
	if err != nil {
		t.Fatalf("pki %s: %v", strings.Join(args, " "), err)
	}
	must(t, os.WriteFile(filepath.Join(dir, file), out, 0o600))
}

// makePoolCerts makes ca, pe1 (pe1.example, RSA) and laptop
// (laptop.hosts.example, ECDSA) in dir.
func makePoolCerts(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("pki"); err != nil {
		t.Skip("needs strongSwan's pki (apt-get install strongswan-pki)")
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	pki(t, dir, "ca.key", "--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")
	pki(t, dir, "ca.crt", "--self", "--ca", "--lifetime", "3650", "--in", p("ca.key"), "--type", "ecdsa", "--dn", "C=CH, O=Peregrine, CN=Pool Test CA", "--outform", "pem")
	for _, l := range []struct{ name, typ, size, san string }{{"pe1", "rsa", "2048", "pe1.example"}, {"laptop", "ecdsa", "256", "laptop.hosts.example"}} {
		pki(t, dir, l.name+".key", "--gen", "--type", l.typ, "--size", l.size, "--outform", "pem")
		pki(t, dir, l.name+".pub", "--pub", "--in", p(l.name+".key"), "--type", l.typ, "--outform", "pem")
		pki(t, dir, l.name+".crt", "--issue", "--in", p(l.name+".pub"), "--type", "pub", "--cacert", p("ca.crt"), "--cakey", p("ca.key"),
			"--dn", "C=CH, O=Peregrine, CN="+l.san, "--san", l.san, "--outform", "pem")
	}
}

func TestE2EPoolStrongSwan(t *testing.T) {
	requireCharon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var host *charon
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		_, cfg2 := pelab.ManualKeyConfigs(t, pe1, pe2)
		dir := filepath.Join(pe1.Lab().Dir(), pe1.Name()+"-peregrined")
		certs := t.TempDir()
		makePoolCerts(t, certs)
		for _, f := range []string{"ca.crt", "pe1.crt", "pe1.key"} {
			b, err := os.ReadFile(filepath.Join(certs, f))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, f), b, 0o600))
		}
		host = addRoadWarrior(t, pe1, certs, "0.0.0.0", "10.2.0.0/24")
		return poolPE1Config, cfg2
	})
	red2 := e.CE["ce-red-2"]
	connect := func() {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		must(t, peers.Eventually(wctx, func(context.Context) error {
			out, err := host.swanctl("--initiate", "--child", "rw", "--timeout", "10")
			if err != nil {
				return fmt.Errorf("%v\n%s", err, tail(out, 2000))
			}
			return nil
		}))
	}
	connect()

	var leased string
	t.Run("the host gets an address of red's pool, listed by show and exported", func(t *testing.T) {
		h := waitPoolHost(t, ctx, e.PE1, "ra-red", func(rs []apiPoolRow) bool { return len(rs) == 1 && rs[0].State == "up" })
		leased = h[0].Leased
		if h[0].Name != "ra-red/"+leased || h[0].Client != "laptop.hosts.example" || strings.Join(h[0].SiteTS, ",") != leased+"/32" ||
			!strings.HasPrefix(leased, "10.77.0.") {
			t.Fatalf("host %+v", h[0])
		}
		out, _ := host.swanctl("--list-sas")
		t.Logf("laptop:\n%s", out)
		if !regexp.MustCompile(`local\s+` + regexp.QuoteMeta(leased) + `/32\s*\n\s*remote\s+10\.2\.0\.0/24`).MatchString(out) {
			t.Errorf("laptop's child is not from its virtual IP %s to 10.2.0.0/24:\n%s", leased, out)
		}
		log := host.Log()
		for _, want := range []string{"authentication of 'pe1.example' with RSA_EMSA_PKCS1_SHA2_256 successful", "installing new virtual IP " + leased} {
			if !strings.Contains(log, want) {
				t.Errorf("laptop's charon.log lacks %q", want)
			}
		}
		e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", leased+"/32 via 192.168.0.1 label * rd 65000:11", "fd00:1::/64 via 192.168.0.1 label * rd 65000:11")
	})

	t.Run("the host pings a CE of red at pe2 from its virtual IP", func(t *testing.T) {
		pelab.WaitPing(t, ctx, host.Node, "10.2.0.2")
		before := icmpInEchos(t, red2)
		must(t, pelab.Ping(host.Node, "10.2.0.2", 5))
		if got := icmpInEchos(t, red2) - before; got != 5 {
			t.Errorf("ce-red-2 counted %d echo requests for 5 pings", got)
		}
		pelab.WaitPing(t, ctx, red2, leased)
	})

	t.Run("terminate: the lease leaves show and pe2 withdraws it; a new connect leases again", func(t *testing.T) {
		if out, err := host.swanctl("--terminate", "--ike", "pe1", "--timeout", "10"); err != nil {
			t.Fatalf("swanctl --terminate: %v\n%s", err, out)
		}
		waitPoolHost(t, ctx, e.PE1, "ra-red", func(rs []apiPoolRow) bool { return len(rs) == 0 })
		e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", "fd00:1::/64 via 192.168.0.1 label * rd 65000:11")
		connect()
		h := waitPoolHost(t, ctx, e.PE1, "ra-red", func(rs []apiPoolRow) bool { return len(rs) == 1 && rs[0].State == "up" })
		if !strings.HasPrefix(h[0].Leased, "10.77.0.") {
			t.Fatalf("second connect: %+v", h[0])
		}
		t.Logf("first lease %s, second %s", leased, h[0].Leased)
		leased = h[0].Leased
		pelab.WaitPing(t, ctx, host.Node, "10.2.0.2")
		must(t, pelab.Ping(red2, leased, 10))
	})

	t.Run("nothing in clear on the core, the leased address neither", func(t *testing.T) {
		checkCoreCapture(t, e.Capture)
		checkNoClearAddr(t, e.Capture, netip.MustParseAddr(leased))
	})
}

// checkNoClearAddr fails if an IPv4 packet of the capture at path is
// from or to addr (an IPv4 address): the host's packets cross the core in
// ESP only. (BGP carries the address as a prefix: that is not traffic.)
func checkNoClearAddr(t *testing.T, path string, addr netip.Addr) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	r, err := pcap.NewReader(f)
	must(t, err)
	a := addr.AsSlice()
	for {
		_, data, err := r.ReadPacket()
		if err != nil {
			return
		}
		if r.LinkType() == pcap.LinkTypeEthernet && len(data) >= 14 {
			data = data[14:]
		}
		if len(data) >= 20 && data[0]>>4 == 4 && (bytes.Equal(data[12:16], a) || bytes.Equal(data[16:20], a)) {
			t.Errorf("packet in clear from or to %v: % x", addr, data[:min(len(data), 64)])
		}
	}
}

// TestE2EPoolStrongSwanDualStack: with pool6, a host that asks for both
// families ("vips = 0.0.0.0, ::") gets an address of each, reaches
// ce-red-2 over IPv6 from its IPv6 address too, and both /32 and /128
// are exported while it is connected.
func TestE2EPoolStrongSwanDualStack(t *testing.T) {
	requireCharon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var host *charon
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		_, cfg2 := pelab.ManualKeyConfigs(t, pe1, pe2)
		dir := filepath.Join(pe1.Lab().Dir(), pe1.Name()+"-peregrined")
		certs := t.TempDir()
		makePoolCerts(t, certs)
		for _, f := range []string{"ca.crt", "pe1.crt", "pe1.key"} {
			b, err := os.ReadFile(filepath.Join(certs, f))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, f), b, 0o600))
		}
		host = addRoadWarrior(t, pe1, certs, "0.0.0.0, ::", "10.2.0.0/24, fd00:2::/64")
		return strings.Replace(poolPE1Config, "        pool: 10.77.0.0/24\n", "        pool: 10.77.0.0/24\n        pool6: fd00:77::/120\n", 1), cfg2
	})
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	must(t, peers.Eventually(wctx, func(context.Context) error {
		out, err := host.swanctl("--initiate", "--child", "rw", "--timeout", "10")
		if err != nil {
			return fmt.Errorf("%v\n%s", err, tail(out, 2000))
		}
		return nil
	}))
	h := waitPoolHost(t, ctx, e.PE1, "ra-red", func(rs []apiPoolRow) bool { return len(rs) == 1 && rs[0].State == "up" })
	if got := strings.Join(h[0].SiteTS, ","); got != h[0].Leased+"/32,fd00:77::1/128" {
		t.Fatalf("host selectors %s (leased %s)", got, h[0].Leased)
	}
	e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", h[0].Leased+"/32 via 192.168.0.1 label * rd 65000:11",
		"fd00:1::/64 via 192.168.0.1 label * rd 65000:11", "fd00:77::1/128 via 192.168.0.1 label * rd 65000:11")
	pelab.WaitPing(t, ctx, host.Node, "10.2.0.2")
	pelab.WaitPing(t, ctx, host.Node, "fd00:2::2")
	pelab.WaitPing(t, ctx, e.CE["ce-red-2"], "fd00:77::1")
}

// waitPoolHost waits until the host lines of pe's pool satisfy ok and
// returns them.
func waitPoolHost(t *testing.T, ctx context.Context, p *pe, pool string, ok func([]apiPoolRow) bool) []apiPoolRow {
	t.Helper()
	var hosts []apiPoolRow
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	must(t, peers.Eventually(wctx, func(ctx context.Context) error {
		var rows []apiPoolRow
		if err := p.Get(ctx, "/v1/ipsec/attachments", &rows); err != nil {
			return err
		}
		hosts = nil
		for _, r := range rows {
			if r.Kind == "host" && strings.HasPrefix(r.Name, pool+"/") {
				hosts = append(hosts, r)
			}
		}
		if !ok(hosts) {
			return fmt.Errorf("%s: pool %s hosts %+v", p.Name, pool, hosts)
		}
		return nil
	}))
	return hosts
}

// addRoadWarrior links a strongSwan host to pe1 and loads a connection
// that asks for a virtual IP and authenticates by certificate.
func addRoadWarrior(t *testing.T, pe1 *netns.Node, certs, vips, remoteTS string) *charon {
	t.Helper()
	l := pe1.Lab()
	n, err := l.AddNode("laptop")
	must(t, err)
	pelab.Link(t, l, pe1, "rwl", "192.168.9.9/30", n, "eth0", "192.168.9.10/30")
	pelab.MustExec(t, n, "ip", "route", "add", "192.168.0.0/30", "via", "192.168.9.9")
	c := startCharon(t, n)
	cred := filepath.Join(c.dir, "swanctl")
	for sub, files := range map[string][]string{"x509": {"laptop.crt"}, "x509ca": {"ca.crt"}, "private": {"laptop.key"}} {
		must(t, os.MkdirAll(filepath.Join(cred, sub), 0o700))
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(certs, f))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(cred, sub, f), b, 0o600))
		}
	}
	conf := `connections {
  pe1 {
    version = 2
    local_addrs = 192.168.9.10
    remote_addrs = 192.168.0.1
    vips = ` + vips + `
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = pubkey
      certs = laptop.crt
      id = laptop.hosts.example
    }
    remote {
      auth = pubkey
      id = pe1.example
      cacerts = ca.crt
    }
    children {
      rw {
        remote_ts = ` + remoteTS + `
        esp_proposals = aes128gcm16
        start_action = none
      }
    }
  }
}
`
	p := filepath.Join(cred, "swanctl.conf")
	must(t, os.WriteFile(p, []byte(conf), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := n.Exec(ctx, "env", "SWANCTL_DIR="+cred, "/usr/sbin/swanctl", "--load-all", "--clear", "--noprompt", "--file", p, "--uri", c.URI); err != nil {
		t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
	return c
}
