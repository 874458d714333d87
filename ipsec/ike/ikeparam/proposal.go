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

// AHProposal is one proposal for AH child SAs (RFC 4302: integrity only,
// nothing encrypted), an IKE peer's explicit choice instead of ESP. Its
// SA payload proposal has Protocol ID AH, INTEG and ESN transforms and
// no ENCR (RFC 7296 sections 3.3.1 and 3.3.3); DH is for PFS on rekeys,
// as ESPProposal's. Integ takes ValidAH transforms: HMAC-SHA2-256-128,
// AES-128-GMAC and AES-256-GMAC.
type AHProposal struct {
	Integ []Integ
	ESN   ESNMode
	DH    []DHGroup
}

// Child is p in ESPProposal's shape with no Encr, the form the engine
// selects child proposals in.
func (p AHProposal) Child() ESPProposal {
	return ESPProposal{Integ: p.Integ, ESN: p.ESN, DH: p.DH}
}
