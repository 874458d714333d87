package interop_test

// No clear text out of a VRF and no way into one, through the daemon (the
// backend alone: fib/userspace/leaks_test.go): the E2E lab, with pe1 given
// a management interface and a main-table default route out of it, as
// containerlab gives every node:
//
//	pe1 mgmt 198.51.100.1/24 ─── mgmt sink 198.51.100.2/24 (10/8 via pe1; no forwarding)
//
// tcpdump counts what pe1 sends out of every interface that is not ESP's:
// out of mgmt, and out of the core apart from ESP, BGP and IKE, nothing to
// or from a CE address; out of ce1 and ce2, nothing from the core or the
// management network. Checked while running (CEs reach their PE-side
// address but not the PE's core or management address, ping or TCP 179;
// pe2 and the sink reach no CE of pe1; a remote CE does not reach pe1's
// own address in its VRF; pe1's ICMP errors for a remote site's packets,
// TTL exceeded or no route, do not leave by the main table), after a reload that removes VRF
// blue, after SIGTERM, and after a start that fails once the FIB has
// started (metrics cannot listen).

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

func TestE2ENoLeaks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	e := buildE2E(t, ctx)
	red1, blue1 := e.CE["ce-red-1"], e.CE["ce-blue-1"]
	pe1, pe2 := e.PE1.Node, e.PE2.Node
	sink, err := e.Lab.AddNode("sink")
	must(t, err)
	pelab.Link(t, e.Lab, pe1, "mgmt", "198.51.100.1/24", sink, "mgmt", "198.51.100.2/24")
	pelab.MustExec(t, pe1, "ip", "route", "add", "default", "via", "198.51.100.2")
	pelab.MustExec(t, sink, "ip", "route", "add", "10.0.0.0/8", "via", "198.51.100.1")
	pelab.MustExec(t, pe2, "ip", "route", "add", "10.1.0.0/24", "via", "192.168.0.1")

	ceNets := "(net 10.0.0.0/8 or net fd00::/8)"
	outside := "(src net 192.168.0.0/30 or src net 198.51.100.0/24)"
	forbid := map[string]string{
		"mgmt": ceNets, "core": ceNets + " and not udp port 4500 and not esp",
		"ce1": outside, "ce2": outside,
	}
	files := map[string]string{}
	var dumps []*netns.Process
	for ifname := range forbid {
		files[ifname] = filepath.Join(e.Lab.Dir(), "leak-"+ifname+".pcap")
		p, err := pe1.StartCommand(netns.Command{Path: "tcpdump", LogName: "tcpdump-out-" + ifname,
			Args: []string{"--immediate-mode", "-Q", "out", "-i", ifname, "-n", "-U", "-w", files[ifname]}})
		must(t, err)
		dumps = append(dumps, p)
	}
	time.Sleep(500 * time.Millisecond)

	expect := func(t *testing.T, n *netns.Node, dst string, want bool) {
		t.Helper()
		if err := pelab.Ping(n, dst, 3); (err == nil) != want {
			t.Errorf("ping %s -> %s: answered %v, want %v", n.Name(), dst, err == nil, want)
		}
	}
	expectTCP := func(t *testing.T, n *netns.Node, dst string, want bool) {
		t.Helper()
		host, port, _ := strings.Cut(dst, ":")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := n.Exec(ctx, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
		if (err == nil) != want {
			t.Errorf("tcp %s -> %s: connected %v, want %v", n.Name(), dst, err == nil, want)
		}
	}

	t.Run("running: a CE reaches its VRF only, nothing outside reaches a CE", func(t *testing.T) {
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
		expect(t, red1, "10.1.0.1", true)
		expect(t, red1, "fd00:1::1", true)
		expect(t, red1, "192.168.0.1", false)
		expect(t, red1, "198.51.100.1", false)
		expect(t, red1, "198.51.100.2", false)
		expectTCP(t, red1, "192.168.0.1:179", false)
		expect(t, pe2, "10.1.0.2", false)
		expect(t, sink, "10.1.0.2", false)
		expectTCP(t, pe2, "192.168.0.1:179", true) // BGP between the PEs still works
		// A remote site reaches pe1's address in its VRF no more than
		// the PE's others: pe1 would answer it by the main table.
		expect(t, e.CE["ce-red-2"], "10.1.0.1", false)
		expectTCP(t, e.CE["ce-red-2"], "10.1.0.1:179", false)
	})

	t.Run("the PE's ICMP errors for remote sites stay in the VRF", func(t *testing.T) {
		// TTL 2 from ce-red-2 is 1 when it leaves pe1's TUN: the kernel
		// would answer with time exceeded, by the main table.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := e.CE["ce-red-2"].Exec(ctx, "ping", "-n", "-c", "2", "-i", "0.3", "-W", "1", "-t", "2", "10.1.0.2")
		cancel()
		t.Logf("ping -t 2 ce-red-2 -> 10.1.0.2: %s", strings.TrimSpace(string(out)))
		// An aggregate pe1 exports but has no more specific route for in
		// part: 10.1.5.5 meets red's default at pe1.
		e.PE1.Reload(t, strings.Replace(e.Cfg1, "interfaces: [ce1]}", "interfaces: [ce1], static-routes: [{prefix: 10.1.0.0/16}]}", 1))
		wait, cancelWait := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancelWait()
		err := peers.Eventually(wait, func(ctx context.Context) error {
			rs, err := e.PE2.Routes(ctx, "red")
			for _, r := range rs {
				if r.Prefix == pfx("10.1.0.0/16") {
					return nil
				}
			}
			return fmt.Errorf("pe2 red has no 10.1.0.0/16 yet (%v)", err)
		})
		must(t, err)
		expect(t, e.CE["ce-red-2"], "10.1.5.5", false)
		e.PE1.Reload(t, e.Cfg1)
	})

	t.Run("reload removing VRF blue: its CE reaches nothing", func(t *testing.T) {
		noBlue := strings.Replace(e.Cfg1, "  - {name: blue,", "  # - {name: blue,", 1)
		e.PE1.Reload(t, noBlue)
		time.Sleep(time.Second) // the reconciler applies
		expect(t, blue1, "198.51.100.2", false)
		expect(t, blue1, "10.2.0.2", false)
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
	})

	t.Run("SIGTERM: no CE reaches anything", func(t *testing.T) {
		must(t, e.PE1.Proc.Stop())
		for _, ce := range []*netns.Node{red1, blue1} {
			expect(t, ce, "198.51.100.2", false)
			expect(t, ce, "10.2.0.2", false)
		}
		expect(t, red1, "fd00:2::2", false)
		expect(t, sink, "10.1.0.2", false)
	})

	t.Run("a start that fails after the FIB started: no CE reaches anything", func(t *testing.T) {
		bad := startPE(t, pe1, e.Cfg1+"\nmetrics: {listen: '203.0.113.1:9100'}\n")
		select {
		case <-bad.Proc.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("peregrined with an unusable metrics address did not exit:\n%s", bad.Proc.LogTail(20))
		}
		if !strings.Contains(bad.Proc.LogTail(200), "metrics did not start") {
			t.Fatalf("peregrined did not fail where expected:\n%s", bad.Proc.LogTail(30))
		}
		for _, ce := range []*netns.Node{red1, blue1} {
			expect(t, ce, "198.51.100.2", false)
			expect(t, ce, "10.2.0.2", false)
		}
	})

	for _, p := range dumps {
		_ = p.Stop()
	}
	for ifname, filter := range forbid {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := pe1.Exec(ctx, "tcpdump", "-n", "-r", files[ifname], filter)
		cancel()
		if err != nil {
			t.Errorf("reading %s: %v\n%s", files[ifname], err, out)
			continue
		}
		var leaked []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.HasPrefix(line, "reading from") {
				leaked = append(leaked, line)
			}
		}
		if len(leaked) > 0 {
			t.Errorf("pe1 sent %d packets out of %s it must not have:\n%s", len(leaked), ifname, strings.Join(leaked, "\n"))
		}
	}
}
