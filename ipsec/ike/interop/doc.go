// Package interop tests package ike against strongSwan 5.9.8 in network
// namespaces: Peregrine as initiator and as responder, ESP keys checked by
// passing a ping through strongSwan's kernel-libipsec tunnel, rekeys, the
// AEAD and AES-CBC + HMAC-SHA2 suites (cbc_test.go, suites_test.go), mixed
// proposal lists, and a wrong PSK. It has no non-test code; the tests need root and strongSwan
// (charon-systemd, swanctl, kernel-libipsec) and skip without them.
package interop
