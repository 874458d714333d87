// Package esptransport carries ESP packets between PEs: the kernel sockets
// (ESP-in-UDP on port 4500, RFC 3948, and raw IP protocol 50), the batched
// sendmmsg and recvmmsg around them with UDP GSO and GRO, and the NAT-T
// demultiplexing of what port 4500 receives: ESP for the dataplane, IKE
// behind the non-ESP marker for the IKE engine, NAT-keepalives counted and
// dropped.
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
//	                                      ESP       --> Handler.ESP (open, forward)
//	                                      IKE       --> Handler.IKE (the IKE engine)
//	                                      keepalive --> counted
//	                                    Handler.Flush after each batch
//
//	SendBatch.Add per sealed packet (runs to one Dest coalesced with
//	UDP GSO, gso.go) --> Sockets.Send: one sendmmsg per socket
//
// What works per packet (Batch, SendBatch, Demux, Receive's loop) works on
// buffers allocated once per goroutine and allocates nothing; the tests
// assert it with testing.AllocsPerRun. Sockets are opened in the network
// namespace of the calling goroutine.
package esptransport
