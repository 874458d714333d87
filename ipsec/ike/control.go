package ike

import (
	"fmt"
	"net/netip"
)

// Rekey starts a rekey of the child SA whose inbound SPI is inSPI: the
// dataplane calls it when an SA reaches its soft byte or packet limit.
func (e *Engine) Rekey(inSPI uint32) error {
	c := e.inSPIs[inSPI]
	if c == nil {
		return fmt.Errorf("ike: no child SA with inbound SPI 0x%08x", inSPI)
	}
	c.sa.rekeyChild(c)
	return nil
}

// RekeyIKE starts a rekey of the named peer's IKE SA.
func (e *Engine) RekeyIKE(name string) error {
	sa := e.established(name)
	if sa == nil {
		return fmt.Errorf("ike: no established IKE SA with %q", name)
	}
	sa.rekeyIKE()
	return nil
}

// Delete deletes the named peer's IKE SA and its child SAs, telling the
// peer.
func (e *Engine) Delete(name string) error {
	sa := e.established(name)
	if sa == nil {
		return fmt.Errorf("ike: no established IKE SA with %q", name)
	}
	sa.noRestart = true
	sa.deleteIKE()
	return nil
}

// DeleteChild deletes one child SA, by inbound SPI, telling the peer.
// Its ChildDown comes at once, before the peer answers: the dataplane
// calls it at a hard limit, where the SA must stop sealing now.
func (e *Engine) DeleteChild(inSPI uint32) error {
	c := e.inSPIs[inSPI]
	if c == nil {
		return fmt.Errorf("ike: no child SA with inbound SPI 0x%08x", inSPI)
	}
	c.sa.expireChild(c)
	return nil
}

// SAInfo describes an IKE SA for status output.
type SAInfo struct {
	Peer       string
	SPIi, SPIr uint64
	Initiator  bool
	State      string
	Suite      string
	Local      netip.AddrPort
	Remote     netip.AddrPort
	Children   []ChildSA
}

// SAs lists the IKE SAs.
func (e *Engine) SAs() []SAInfo {
	var out []SAInfo
	for _, sa := range e.sasSorted() {
		i := SAInfo{Peer: sa.peer.Name, SPIi: sa.spiI, SPIr: sa.spiR, Initiator: sa.initiator,
			State: sa.state.String(), Suite: sa.suite.String(), Local: sa.local, Remote: sa.remote}
		for _, c := range sa.children {
			i.Children = append(i.Children, sa.childInfo(c))
		}
		out = append(out, i)
	}
	return out
}

func (e *Engine) established(name string) *ikeSA {
	for _, sa := range e.sasSorted() {
		if sa.peer.Name == name && sa.state == stateEstablished {
			return sa
		}
	}
	return nil
}
