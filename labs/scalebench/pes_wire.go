package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// wireCounts is what crossed the core while the CEs pinged, counted by
// tcpdump on every port of the core's bridge (so each packet twice: in at
// its sender's port, out at its receiver's): the independent check that
// traffic between PEs is ESP, never plain.
type wireCounts struct {
	ESP   int // ESP in UDP 4500 (ipsec.encapsulation's default)
	Plain int // anything but ESP, BGP, ARP and IPv6 link-local chatter: must be 0
}

func (w wireCounts) String() string { return fmt.Sprintf("%d ESP, %d plain", w.ESP, w.Plain) }

// coreCapture is tcpdump running in the core namespace.
type coreCapture struct {
	core *netns.Node
	proc *netns.Process
	file string
}

// startCoreCapture starts tcpdump on all of the core's interfaces and
// waits until it says it is listening.
func startCoreCapture(ctx context.Context, core *netns.Node) (*coreCapture, error) {
	c := &coreCapture{core: core, file: filepath.Join(core.Lab().Dir(), "core.pcap")}
	var err error
	if c.proc, err = core.Start("tcpdump", "-i", "any", "-n", "--immediate-mode", "-U", "-w", c.file); err != nil {
		return nil, err
	}
	for range 100 {
		if bytes.Contains([]byte(c.proc.LogTail(5)), []byte("listening on")) {
			return c, nil
		}
		if exited, err := c.proc.Exited(); exited {
			return nil, fmt.Errorf("tcpdump exited (%v): %s", err, c.proc.LogTail(5))
		}
		if err := waitTick(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("tcpdump not listening after 10 s: %s", c.proc.LogTail(5))
}

// stop ends the capture and counts ESP and plain packets in it.
func (c *coreCapture) stop(ctx context.Context) (wireCounts, error) {
	var w wireCounts
	// Packets still in the capture ring when tcpdump gets SIGTERM are
	// lost: --immediate-mode hands them over at once, and a second's
	// wait lets the last ones through.
	if err := waitTick(ctx, time.Second); err != nil {
		return w, err
	}
	if err := c.proc.Stop(); err != nil {
		return w, err
	}
	count := func(filter string) (int, error) {
		out, err := c.core.Exec(ctx, "tcpdump", "-r", c.file, "-n", filter)
		if err != nil {
			return 0, fmt.Errorf("tcpdump -r %q: %w: %s", filter, err, out)
		}
		return bytes.Count(out, []byte("\n")), nil
	}
	var err error
	if w.ESP, err = count("udp port 4500"); err != nil {
		return w, err
	}
	// Anything that is neither ESP nor the control plane: plain ICMP,
	// plain MPLS (tcpdump's "mpls" does not parse Linux cooked captures),
	// anything else a PE might leak. IPv6 is the veths' own link-local
	// chatter: the lab's core is IPv4 only.
	w.Plain, err = count("not (udp port 4500 or tcp port 179 or arp or ip6)")
	return w, err
}
