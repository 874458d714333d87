// Package esptransport carries ESP packets between PEs: the kernel sockets
// (ESP-in-UDP on port 4500, RFC 3948, and raw IP protocol 50), the batched
// sendmmsg and recvmmsg around them with UDP GSO and GRO, and the NAT-T
// demultiplexing of what port 4500 receives: ESP for the dataplane, IKE
// behind the non-ESP marker for the IKE engine, NAT-keepalives counted and
// dropped; and the inbound SPI table (InboundTable, inbound.go) that hands
// each ESP packet to the esp.SA its SPI names.
//
// With OpenSpread, port 4500 is a SO_REUSEPORT group of several UDP
// sockets that a BPF program picks by SPI (reuseport.go), so that a
// peer's per-resource SAs (RFC 9611) are received on as many goroutines.
//
// It is the one owner of UDP port 4500. The userspace fast path
// (fib/userspace), and through it the kernel backend's ESP gateway, send
// and receive on a Sockets; IKE sends its NAT-T messages with
// Sockets.SendIKE and gets those that arrive from Receive's Handler, so
// the IKE runner (ipsec/ike) needs no socket of its own on 4500 where a
// dataplane runs.
//
//	remote PE --> UDP 4500 socket --> Receive: recvmmsg, a batch
//	              raw ESP socket  -->   UDP GRO runs cut up (gro.go)
//	                                    per datagram, Demux (demux.go):
//	                                      ESP       --> Handler.ESP: InboundTable.Open
//	                                                    (SPI -> esp.SA), forward
//	                                      IKE       --> Handler.IKE (the IKE engine)
//	                                      keepalive --> counted
//	                                    Handler.Flush after each batch
//
//	SendBatch.Add per sealed packet (runs to one Dest coalesced with
//	UDP GSO, gso.go) --> Sockets.Send: one sendmmsg per socket
//
// The SPI table is here rather than in package esp, which seals and opens
// one SA at a time: finding the SA is demultiplexing, as Demux's port and
// marker checks are, and it needs nothing of esp.SA beyond its exported
// SPI and Open. esp's tests exercise SA internals (the replay window, the
// CBC IVs) on one SA directly; the table's own tests are here.
//
// What works per packet (Batch, SendBatch, Demux, Receive's loop,
// InboundTable.Open) works on buffers allocated once per goroutine and
// allocates nothing; the tests assert it with testing.AllocsPerRun. Sockets are opened in the network
// namespace of the calling goroutine.
package esptransport
