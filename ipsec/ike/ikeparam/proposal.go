package ikeparam

// IKEProposal is one proposal for the IKE SA; each list is in preference
// order. Its ciphers are all AEADs, and then Integ is empty, or all
// AES-CBC, and then Integ is required: RFC 5282 section 8 keeps the two
// kinds in separate proposals, and strongSwan refuses to mix them.
type IKEProposal struct {
	Encr  []Encr
	Integ []Integ
	PRF   []PRF
	DH    []DHGroup
}

// ESNMode says which sequence number sizes a child SA may use.
type ESNMode uint8

// ESN modes. The zero value offers and accepts both, preferring ESN.
const (
	ESNEither ESNMode = iota
	ESNOn
	ESNOff
)

// ESPProposal is one proposal for child SAs. DH is for PFS in
// CREATE_CHILD_SA (RFC 7296 section 1.3.1): empty for none. The first child
// never has PFS: it is keyed from the IKE SA's exchange.
// Integ follows the rule of IKEProposal.Integ.
type ESPProposal struct {
	Encr  []Encr
	Integ []Integ
	ESN   ESNMode
	DH    []DHGroup
}
