// Package ike is Peregrine's IKEv2 (RFC 7296): it authenticates remote PEs
// with a pre-shared key or an X.509 certificate and keys the ESP security
// associations that carry MPLS-in-ESP between them.
//
// # Layers
//
//	runner.go         UDP 500 and 4500 sockets, one goroutine owning the Engine
//	engine.go         Engine: Handle(datagram), Tick(), Output(), Events()
//	ikesa.go ...      one IKE SA: message IDs, window of 1, retransmission,
//	                  exchanges (init*.go, auth.go, child.go, rekey.go, info.go)
//	keys.go dh.go     prf, prf+, SKEYSEED, KEYMAT, PSK AUTH; DH groups 14, 19, 31
//	ikeparam/         the transforms, proposals (and their strongSwan text
//	                  form) and identities, which config parses too;
//	                  transforms.go names them here and maps them to ESP
//	proposal.go       SA payload offers and selection
//	sk.go sk_cbc.go   the Encrypted payload: AEADs, and AES-CBC with HMAC-SHA2
//	message.go ...    header and payload views and encoders (header.go,
//	                  payload.go, sa_payload.go, payloads.go, ts.go,
//	                  cp_payload.go)
//	remote_access.go  remote-access pools (PeerConfig.RemoteAccess): who
//	                  may connect, CFG_REQUEST/CFG_REPLY, address leases
//	                  (Leaser, ipsec/leases), selectors narrowed to them
//
// The Engine owns no socket, goroutine or clock: a test wires two engines
// back to back and moves a fake clock, and the Runner does the same over
// UDP. Events (ChildUp, ChildDown, IKEUp, IKEDown, AuthFailed) are what the
// dataplane consumes; ChildSA.InConfig and OutConfig give esp.Config values.
//
// # What is negotiated
//
// For IKE and ESP alike:
//
//   - AEADs (RFC 5282 and RFC 4106, RFC 7634): AES-GCM with 16-byte ICV
//     (128 or 256-bit keys) and ChaCha20-Poly1305, with no integrity
//     transform (or INTEG NONE from the peer).
//   - AES-CBC (ENCR 12, 128 or 256-bit keys; RFC 7296 section 3.3.2, RFC
//     3602) with an integrity transform HMAC-SHA2-256-128, -384-192 or
//     -512-256 (INTEG 12, 13, 14; RFC 4868). The IKE SA then has SK_ai and
//     SK_ar; its Encrypted payload is encrypt-then-MAC (section 3.14), the
//     ICV checked in constant time before decryption, with an IV that is
//     AES(SK_e, message counter), unpredictable as section 3.14 asks
//     (NIST SP 800-38A appendix C). A CBC child's KEYMAT per direction is
//     encryption key then integrity key, the esp.Cipher.KeyLen layout.
//
// A proposal is all AEAD or all CBC (strongSwan refuses to mix them too).
//
// AH child SAs (RFC 4302: integrity only, the MPLS label stack and the
// customer packet in the clear) are a peer's explicit choice
// (PeerConfig.AH): its child proposals then have Protocol ID AH (2),
// INTEG and ESN transforms and no ENCR (sections 3.3.1 and 3.3.3), with
// AUTH_HMAC_SHA2_256_128 (12), AUTH_AES_128_GMAC (9) or AUTH_AES_256_GMAC
// (11, RFC 4543), and REKEY_SA and Delete name protocol AH. KEYMAT takes
// the integrity key alone per direction (section 2.17); for AES-GMAC that
// is the AES key and a 4-byte salt (RFC 4543 section 8.1), the
// ah.Config.Key layout (ChildSA.AH). An AH peer takes no ESP proposal and
// an ESP peer no AH one, whatever else the offer holds: never a downgrade
// (NO_PROPOSAL_CHOSEN). AH cannot cross NAT (it covers the outer
// addresses; RFC 3948 has no AH-in-UDP), so an AH child is refused when
// NAT is detected. strongSwan 5.9.8 has no KEYMAT length for AES-GMAC as
// an integrity algorithm, so against it only HMAC-SHA2-256-128 AH works.
// PRFs HMAC-SHA2-256/384/512. DH groups 31 (X25519), 19 (ECP-256) and 14
// (MODP-2048). ESN is negotiated per ESPProposal.ESN. PFS for
// CREATE_CHILD_SA when ESPProposal.DH is set. The responder takes the
// first of the initiator's proposals it accepts, in the initiator's order,
// taking its own preferred transform of each type within it, and answers
// with that proposal's number. Authentication is by PSK (RFC 7296
// section 2.15) or certificate (below), with ID_IPV4_ADDR, ID_IPV6_ADDR,
// ID_FQDN or ID_RFC822_ADDR.
//
// # Certificates
//
// A peer with PeerConfig.Cert (ikeparam.CertAuth, built by
// ikeparam.NewCertAuth from PEM files) authenticates both ends by X.509
// certificate instead of PSK (auth_cert.go, cert_payloads.go):
//
//   - IKE_SA_INIT carries SIGNATURE_HASH_ALGORITHMS (SHA2-256, RFC 7427
//     section 4) from both ends and, from the responder, a CERTREQ naming
//     our CAs (SHA-1 of each CA's SubjectPublicKeyInfo).
//   - IKE_AUTH carries our certificate chain in CERT payloads (X.509
//     signature encoding), a CERTREQ from the initiator, and AUTH method
//     14 (RFC 7427): sha256WithRSAEncryption (PKCS#1 v1.5) or
//     ecdsa-with-SHA256 (DER signature) over the same signed octets as a
//     PSK's. The AlgorithmIdentifiers are RFC 7427 appendix A's byte
//     strings, compared, never parsed. RSA-PSS is not spoken.
//   - The peer's first CERT is its leaf, later ones intermediates;
//     crypto/x509 verifies the chain against the configured CAs at the
//     engine's clock (any extended key usage). Then every certificate of
//     the chain is checked against the revoked-serial list, the leaf
//     must name the configured RemoteID (an FQDN as a DNS SAN or the
//     subject CN, an e-mail as an e-mail SAN, an address as an IP SAN),
//     and the signature must verify with the leaf's key.
//   - The first failure is the one reason logged ("certificate expired",
//     "certificate from an unknown CA", "revoked serial 0b", "identity
//     mismatch", ...), with AuthFailed; a responder answers
//     AUTHENTICATION_FAILED, an initiator sends it in an INFORMATIONAL
//     and drops the SA. Keys print as "<redacted>".
//
// # Traffic selectors for PE-to-PE MPLS-in-ESP
//
// Between two Peregrine PEs the default child SA is transport mode with
// TSi/TSr the two PE addresses, any protocol. The packet is
//
//	IP(PE1 -> PE2) | [UDP 4500] | ESP | label stack | inner packet | trailer (NH 137)
//
// which is MPLS-in-IP (RFC 4023) protected by transport-mode ESP: the outer
// header already names both PEs, so tunnel mode would only add a second
// identical IP header. "Any protocol" rather than 137 keeps the policy
// simple to mirror on a peer that cannot express protocol 137 and lets the
// same SA carry the PEs' own control traffic if wanted; the dataplane
// decides what it seals. For a peer such as strongSwan that tunnels IP
// subnets, set Mode to Tunnel and LocalTS/RemoteTS to those subnets (the
// interop tests do: 10.1.0.0/24 === 10.2.0.0/24). A responder narrows the
// initiator's selectors to the intersection with its own (section 2.9).
//
// # In peregrined
//
// Each entry of the config's ipsec.ike-peers is a PeerConfig (see
// keying.EngineConfig in ipsec/keying): local and remote address,
// identities (address by default, a DNS name or an e-mail address), the
// PSK from a mode-0600 file or, with "auth: cert", a certificate, its
// private key (a mode-0600 file), a CA bundle and an optional
// revoked-serials file (config/validate_ikecert.go), strongSwan-style
// proposal strings (default "aes128gcm16-prf-sha256-curve25519", a wider
// AEAD list, then AES-CBC with HMAC-SHA2 such as "aes256-sha384-modp2048"
// takes; ESP "aes128gcm16", "aes256gcm16-chacha20poly1305", then
// "aes256-aes128-sha256-sha384-sha512"),
// lifetimes (IKE 4h, child 1h, soft at 90% by default) and DPD (30 s).
// The child SA is always transport mode between the two PE addresses, the
// default traffic selectors above; "encapsulation: udp" sets ForceUDPEncap.
//
//   - UDP 500 is the runner's own socket; UDP 4500 belongs to the userspace
//     dataplane, which hands IKE messages behind the non-ESP marker to
//     Runner.HandleNATT and sends the engine's with Backend.SendIKE
//     (NewRunnerSharedNATT). With dataplane backend "none" the runner binds
//     4500 itself.
//   - Child SAs become the peer's fib.Tunnel through the keying service
//     (package ipsec/keying), the FIB configuration's one owner: the
//     newest child's SAs seal and open; a rekeyed child's old inbound SA
//     stays in Tunnel.RetiringIn, still opening, until its ChildDown (the delete);
//     a deleted or expired child leaves the FIB at once, so traffic to
//     that PE is dropped, never sent in clear.
//   - Byte and sequence limits: the userspace dataplane counts bytes and
//     sequence numbers per SA; every second the keying service compares
//     the larger of the outbound SA's sealed and the inbound SA's opened
//     bytes with soft-bytes, and asks for a rekey (Engine.Rekey, once) at soft-bytes
//     or when the outbound SA has used 7/8 of its sequence space
//     (esp.SA.NeedsRekey). At hard-bytes, sequence numbers exhausted or
//     the hard lifetime, the child stops sealing in the FIB at once and
//     is deleted (Engine.DeleteChild). A child can overshoot a byte limit
//     by one second of traffic, never the sequence space.
//   - Hard lifetimes: at a child's hard lifetime (the engine's timer) or
//     on Engine.DeleteChild, ChildDown is reported at once and the Delete
//     sent after it; the dataplane does not wait for the peer's answer.
//     Config.MaxChildSAs (8) bounds the child SAs a peer may create on
//     one IKE SA (NO_ADDITIONAL_SAS past it).
//   - Per-resource child SAs (RFC 9611, resources.go): with
//     PeerConfig.Resources above 1, IKE_AUTH carries SA_RESOURCE_INFO
//     and an initiator whose peer answers with it creates more children
//     with the same selectors (CREATE_CHILD_SA with the notify) up to
//     Resources or the peer's TS_MAX_QUEUE; a responder answers
//     TS_MAX_QUEUE past its own Resources. Each child is rekeyed and
//     deleted on its own; ChildSA.Resource marks the extra ones, which
//     the keying service adds to the tunnel's fib.Tunnel.Resources.
//     Config.ReceiveQueues spreads their inbound SPIs over the
//     dataplane's receive sockets (SPI mod ReceiveQueues). A peer
//     without the notify (strongSwan 5.9) keeps one child.
//   - Keys: ChildSA's keys are KeyMaterial copies that redact themselves;
//     the engine zeroes its own child keys when a child goes and SK_d,
//     SK_e and SK_p when an IKE SA goes.
//   - Changing ipsec.ike-peers needs a restart: a reload that changes them
//     is refused and the running configuration kept.
//   - IPsec attachments (vrfs[].ipsec-attachments, docs/ATTACHMENTS.md)
//     are peers of the same engine in Tunnel mode: LocalTS the
//     attachment's local-prefixes (default the whole VRF), RemoteTS its
//     site-prefixes, so a gateway's wider proposal is narrowed to them
//     (section 2.9) and one with nothing in common is refused with
//     TS_UNACCEPTABLE. They do not initiate unless configured to, and
//     one configured without a remote address is found by its identity.
//     The keying service makes their children fib.Attachments of their
//     VRF, never PE tunnels: the dataplane delivers what they open into
//     that VRF only, and only from inside the narrowed selectors.
//   - The daemon logs ike sa up/down, child sa up/down (SPIs, never keys)
//     and one error line per authentication failure.
//
// # Behaviour worth knowing
//
//   - Configure one initiator per PE pair (for example the PE with the
//     lower address): a peer with Initiate set initiates again
//     Config.RestartAfter after its IKE SA fails, dies or is deleted by the
//     peer, so the SA is always on; if both ends initiate, two IKE SAs (and
//     two child SAs) live side by side, which works but wastes one.
//   - ForceUDPEncap puts ESP in UDP even without a NAT (config's
//     "encapsulation: udp").
//   - NAT detection (section 2.23) moves IKE to port 4500 with the non-ESP
//     marker before IKE_AUTH and marks child SAs UDPEncap. strongSwan with
//     kernel-libipsec always fakes a NAT, so against it ESP is always in UDP.
//   - Retransmission: Config.Retransmit (1 s), doubling, Config.Tries (6)
//     sends; then the IKE SA is dead and its children reported down.
//     Responses are cached and resent for retransmitted requests.
//   - DPD: an empty INFORMATIONAL request after DPDInterval of silence.
//   - Rekeying is make-before-break: ChildUp for the new SA (Replaces set)
//     comes before ChildDown for the old one, and the side that started the
//     rekey deletes the old SA. Simultaneous rekeys are resolved by the
//     lowest nonce (section 2.8.1). The responder of an SA schedules its
//     soft rekey halfway between soft and hard, so two ends with equal
//     lifetimes rarely collide.
//   - Cookies (section 2.6) once Config.CookieThreshold half-open SAs exist.
//     Both cookie secrets (current and previous) come from crypto/rand at
//     NewEngine and the current one is replaced every 5 minutes.
//   - The responder picks the peer by the initiator's address at
//     IKE_SA_INIT; the identity in IKE_AUTH must be that peer's, else
//     AUTHENTICATION_FAILED. Only a peer configured without a remote
//     address is found by identity, among the peers without one.
//   - A wrong PSK: the responder answers AUTHENTICATION_FAILED, both ends
//     report an AuthFailed event and log one line naming the peer and the
//     cause; PSK values never reach a log (PSK redacts itself).
//
// Not implemented: EAP, certificate encodings other than X.509
// signature, ID_DER_ASN1_DN identities, CRL/OCSP fetching (only the
// revoked-serial list), RSA-PSS and hashes other than SHA2-256 in AUTH,
// sending only the certificates a CERTREQ names (ours are always sent),
// configuration payloads, MOBIKE, IKE fragmentation, window sizes above 1,
// INVALID_IKE_SPI replies, INITIAL_CONTACT handling (a rebooted peer's stale
// SAs go when DPD finds them dead), retrying a
// CREATE_CHILD_SA with the group an INVALID_KE_PAYLOAD names (a refused
// rekey is retried after 10 s with the same proposal).
package ike
