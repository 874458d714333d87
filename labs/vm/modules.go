package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// vmModules are what the VM tests need, in a working load order (see
// docs/LABS.md): VRF and MPLS forwarding, veth, TUN (the ESP gateway),
// the clsact qdisc, flower and act_mpls (the kernel backend pops explicit
// nulls with them), XFRM AH
// (ah4, ah6) and XFRM with
// AES-GCM and AES-CBC + HMAC-SHA2 ESP, and the crypto modules no symbol
// dependency reveals (gcm needs ctr and ghash-generic; ESP's IV generator
// needs drbg, drbg jitterentropy and sha512, jitterentropy sha3; ESP with
// a separate integrity algorithm instantiates authenc(hmac(shaN),cbc(aes)),
// so authenc, hmac, cbc and the SHA-2 hashes). aesni-intel fails on the
// emulated CPU, so the generic AES is used. ipip (with tunnel4) makes the
// mplsip tunnels of the kernel backend's kernel-resident ESP path. A name
// the kernel has built in (no .ko) is skipped.
var vmModules = []string{
	"veth", "vrf", "ip_tunnel", "mpls_router", "mpls_iptunnel", "xfrm_algo", "xfrm_user",
	"esp4", "esp6", "gf128mul", "ghash-generic", "ctr", "gcm", "seqiv", "echainiv",
	"sha3_generic", "sha512_generic", "jitterentropy_rng", "drbg",
	"cbc", "hmac", "sha256_generic", "authenc", "ah4", "ah6",
	"dummy", "tun", "ipip", "sch_ingress", "cls_flower", "act_mpls",
}

// module is one .ko file to load.
type module struct {
	name string
	path string
}

// resolveModules finds each module's file under modDir and adds the
// modules it depends on (its .modinfo "depends=" entry) before it.
func resolveModules(modDir string, names []string) ([]module, error) {
	files := map[string]string{}
	err := filepath.WalkDir(modDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			files[normal(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []module
	seen := map[string]bool{}
	var add func(name string) error
	add = func(name string) error {
		name = normal(name)
		if seen[name] {
			return nil
		}
		seen[name] = true
		p, ok := files[name]
		if !ok {
			return nil // built into the kernel
		}
		deps, err := depends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := add(d); err != nil {
				return err
			}
		}
		out = append(out, module{name: name, path: p})
		return nil
	}
	for _, n := range names {
		if err := add(n); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of the modules found under %s", modDir)
	}
	return out, nil
}

func normal(name string) string { return strings.ReplaceAll(name, "-", "_") }

// depends reads "depends=a,b" from a module's .modinfo strings.
func depends(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(data, []byte("\x00depends="))
	if i < 0 {
		return nil, nil
	}
	rest := data[i+len("\x00depends="):]
	if j := bytes.IndexByte(rest, 0); j >= 0 {
		rest = rest[:j]
	}
	if len(rest) == 0 {
		return nil, nil
	}
	return strings.Split(string(rest), ","), nil
}
