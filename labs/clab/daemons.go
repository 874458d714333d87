package clab

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// FRRDaemons is where FRR's container image (and Debian's package) reads
// which daemons to start: a shell fragment of NAME=yes|no lines that
// frrinit.sh sources (/usr/lib/frr/frrcommon.sh).
const FRRDaemons = "/etc/frr/daemons"

// frrDaemonOrder is FRR 8.4's list of daemons in its own start order
// (frrcommon.sh's DAEMONS): zebra first, so that the others find its
// socket. Names outside it are ignored, as frrcommon.sh ignores them.
var frrDaemonOrder = []string{"zebra", "bgpd", "ripd", "ripngd", "ospfd", "ospf6d", "isisd", "babeld", "pimd", "pim6d", "ldpd", "nhrpd", "eigrpd", "sharpd", "pbrd", "staticd", "bfdd", "fabricd", "vrrpd", "pathd"}

// frrAlwaysOn are started whatever the file says, as frrcommon.sh does.
var frrAlwaysOn = []string{"zebra", "staticd"}

// DaemonsError is a daemons file the runner cannot follow, with the
// 1-based line at fault.
type DaemonsError struct {
	Line int
	Text string
	Why  string
}

func (e *DaemonsError) Error() string {
	return fmt.Sprintf("line %d: %q: %s", e.Line, e.Text, e.Why)
}

var daemonsAssign = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// ParseDaemons returns the FRR daemons a daemons file enables, in FRR's
// start order: zebra and staticd always, and every daemon of FRR's list
// whose value is neither empty, "no" nor "0" (frrcommon.sh's rule).
// Lines are comments, blank or NAME=VALUE, VALUE optionally quoted; other
// settings (*_options, vtysh_enable, watchfrr_*, MAX_FDS) are accepted
// and not used: the runner gives each daemon its own options. Several
// instances of one daemon (NAME_instances) are refused, as is anything
// that is not an assignment: a file the runner would misread must fail,
// not start a different router.
func ParseDaemons(b []byte) ([]string, error) {
	enabled := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := daemonsAssign.FindStringSubmatch(line)
		if m == nil {
			return nil, &DaemonsError{Line: n, Text: line, Why: "want NAME=VALUE"}
		}
		name, value := m[1], unquote(m[2])
		if base, ok := strings.CutSuffix(name, "_instances"); ok && slices.Contains(frrDaemonOrder, base) && value != "" {
			return nil, &DaemonsError{Line: n, Text: line, Why: "several instances of a daemon are not run without Docker"}
		}
		if slices.Contains(frrDaemonOrder, name) {
			enabled[name] = value != "" && value != "no" && value != "0"
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, d := range frrDaemonOrder {
		if enabled[d] || slices.Contains(frrAlwaysOn, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// unquote strips the shell quotes of a simple VALUE ("x", 'x') and a
// trailing comment.
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if i := strings.IndexByte(v[1:], v[0]); i >= 0 {
			return v[1 : 1+i]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}
