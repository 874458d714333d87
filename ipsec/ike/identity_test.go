package ike

import "testing"

// An e-mail identity travels as ID_RFC822_ADDR (RFC 7296 section 3.5),
// not as an FQDN: a peer that sends its e-mail address, as strongSwan
// does for "id = user@example.net", must match it, and one that sends the
// same text as an FQDN must not.
func TestIdentityIDKeepsTheType(t *testing.T) {
	mail := Identity{Type: IDRFC822, Value: "host@hosts.example"}
	if got := identityID(mail); got.Type != IDRFC822 || string(got.Data) != mail.Value {
		t.Errorf("identityID(%v) = type %d %q, want type %d %q", mail, got.Type, got.Data, IDRFC822, mail.Value)
	}
	if !identityMatches(mail, ID{Type: IDRFC822, Data: []byte(mail.Value)}) {
		t.Error("an ID_RFC822_ADDR payload does not match the same e-mail identity")
	}
	if identityMatches(mail, ID{Type: IDFQDN, Data: []byte(mail.Value)}) {
		t.Error("an ID_FQDN payload matches an e-mail identity")
	}
	fqdn := Identity{Type: IDFQDN, Value: "pe1.example"}
	if !identityMatches(fqdn, ID{Type: IDFQDN, Data: []byte(fqdn.Value)}) {
		t.Error("an ID_FQDN payload does not match the same FQDN identity")
	}
}
