package ike

// identityID is i as an identification payload body.
func identityID(i Identity) ID {
	if i.Type == IDFQDN || i.Type == IDRFC822 {
		return ID{Type: i.Type, Data: []byte(i.Value)}
	}
	return ID{Type: i.Type, Data: i.Addr.AsSlice()}
}

// identityMatches reports whether the peer's payload id names i.
func identityMatches(i Identity, id ID) bool {
	want := identityID(i)
	return want.Type == id.Type && string(want.Data) == string(id.Data)
}
