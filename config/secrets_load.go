package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readSecrets fills each neighbor's Password from its password-file or
// password-env. A password file must not be readable by group or others,
// as ssh insists for private keys: a leaked MD5 password lets anyone on the
// path inject into the session.
func (c *Config) readSecrets(baseDir string) Errors {
	var errs Errors
	for i := range c.BGP.Neighbors {
		n := &c.BGP.Neighbors[i]
		p := fmt.Sprintf("bgp.neighbors[%d]", i)
		switch {
		case n.PasswordFile != "":
			s, err := readSecretFile(baseDir, n.PasswordFile)
			if err != nil {
				errs = append(errs, &FieldError{Path: p + ".password-file", Value: strconv.Quote(n.PasswordFile), Reason: err.Error()})
				continue
			}
			n.Password = NewSecret(s)
		case n.PasswordEnv != "":
			s, ok := os.LookupEnv(n.PasswordEnv)
			if !ok || s == "" {
				errs = append(errs, &FieldError{Path: p + ".password-env", Value: strconv.Quote(n.PasswordEnv), Reason: "environment variable is not set"})
				continue
			}
			n.Password = NewSecret(s)
		}
	}
	return errs
}

func readSecretFile(baseDir, name string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(baseDir, name)
	}
	st, err := os.Stat(name)
	if err != nil {
		return "", fmt.Errorf("cannot read: %v", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("mode %04o lets others read it; chmod 600", st.Mode().Perm())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("cannot read: %v", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("is empty")
	}
	return s, nil
}
