package config

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// The values of ipsec.ike-peers[].auth.
const (
	AuthPSK  = "psk"
	AuthCert = "cert"
)

// validateIKEAuth checks one IKE peer's authentication fields: a psk-file
// for psk (the default), the certificate files for cert, never both.
func validateIKEAuth(bad badFunc, path string, p IKEPeer) {
	certFiles := []struct{ key, v string }{
		{"certificate", p.Certificate}, {"private-key", p.PrivateKey}, {"ca-bundle", p.CABundle}, {"revoked-serials", p.RevokedSerials},
	}
	switch p.Auth {
	case "", AuthPSK:
		if p.PSKFile == "" {
			bad(path+".psk-file", "", "required: a file (mode 0600) holding the pre-shared key")
		}
		for _, f := range certFiles {
			if f.v != "" {
				bad(path+"."+f.key, strconv.Quote(f.v), "only used with auth: cert")
			}
		}
	case AuthCert:
		if p.PSKFile != "" {
			bad(path+".psk-file", strconv.Quote(p.PSKFile), "not used with auth: cert")
		}
		for _, f := range certFiles[:3] {
			if f.v == "" {
				bad(path+"."+f.key, "", "required with auth: cert")
			}
		}
	default:
		bad(path+".auth", strconv.Quote(p.Auth), "want psk or cert")
	}
}

// readIKECerts builds each certificate peer's CertAuth from its files.
// The private key is a secret file (readSecretBytes: no symbolic link,
// owner root or the daemon's user, mode 0600 or stricter) and is zeroed
// once decoded; the certificate, CA bundle and revoked-serial list are
// trust files (the same checks, but only writing by others is refused).
// Errors name the field and the file, never key material.
func (c *Config) readIKECerts(baseDir string) Errors {
	var errs Errors
	for _, r := range c.ikePeerRefs() {
		p := r.peer
		if p.Auth != AuthCert {
			continue
		}
		path := r.path
		fail := func(key, file string, err error) {
			errs = append(errs, &FieldError{Path: path + "." + key, Value: strconv.Quote(file), Reason: err.Error()})
		}
		files := map[string][]byte{}
		for _, f := range []struct{ key, name string }{{"certificate", p.Certificate}, {"ca-bundle", p.CABundle}, {"revoked-serials", p.RevokedSerials}} {
			if f.name == "" {
				continue
			}
			b, err := readCheckedFile(baseDir, f.name, trustFileRules)
			if err != nil {
				fail(f.key, f.name, err)
				continue
			}
			files[f.key] = b
		}
		revoked := ikeparam.RevokedSerials{}
		if b, ok := files["revoked-serials"]; ok {
			r, err := ikeparam.ParseRevokedSerials(b)
			if err != nil {
				fail("revoked-serials", p.RevokedSerials, err)
				continue
			}
			revoked = r
		}
		key, err := readSecretBytes(baseDir, p.PrivateKey)
		if err != nil {
			fail("private-key", p.PrivateKey, err)
			continue
		}
		if files["certificate"] == nil || files["ca-bundle"] == nil {
			clear(key)
			continue
		}
		a, err := ikeparam.NewCertAuth(files["certificate"], key, files["ca-bundle"], revoked)
		clear(key)
		if err != nil {
			var ce *ikeparam.CertConfigError
			if errors.As(err, &ce) {
				file := map[string]string{"certificate": p.Certificate, "private-key": p.PrivateKey, "ca-bundle": p.CABundle}[ce.File]
				fail(ce.File, file, errors.New(ce.Reason))
			} else {
				fail("certificate", p.Certificate, err)
			}
			continue
		}
		// Our certificate must name the identity we claim, or every
		// peer refuses us: say so at load rather than at each IKE_AUTH.
		local, _ := ParseIKEIdentity(p.LocalID) // validated
		if local.Type == 0 {
			local = ikeparam.AddrIdentity(p.LocalAddress)
		}
		if !ikeparam.CertNames(a.Chain[0], local) {
			field, value := "local-id", strconv.Quote(p.LocalID)
			if p.LocalID == "" {
				field, value = "local-address", p.LocalAddress.String()
			}
			errs = append(errs, &FieldError{Path: path + "." + field, Value: value,
				Reason: fmt.Sprintf("is not named by the certificate %q (%s): set local-id to one of its SANs", a.Chain[0].Subject.String(), p.Certificate)})
			continue
		}
		p.Cert = a
	}
	return errs
}
