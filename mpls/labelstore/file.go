package labelstore

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/mpls"
)

// The state file, DIR/labels, is text:
//
//	peregrine labels 1
//	range FIRST-LAST
//	next LABEL
//	bind LABEL VRF [PREFIX]          (one line per bound label, by label)
//	held LABEL UNTIL VRF [PREFIX]    (one line per held label, by label)
//	sum SHA256-OF-EVERYTHING-ABOVE
//
// VRF is a Go-quoted string with spaces escaped (\x20), so a line splits
// on spaces; UNTIL is Unix seconds. Anything else, a label or binding
// listed twice, or a wrong sum makes the whole file unreadable: a
// half-understood file must not pass for a complete one.
const fileHeader = "peregrine labels 1"

// errBadFile wraps every reason parse rejects a file.
var errBadFile = errors.New("not a valid labels file")

func badFile(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", errBadFile, line, fmt.Sprintf(format, args...))
}

// encode writes st as the file's text.
func encode(st *mpls.AllocatorState) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nrange %s\nnext %d\n", fileHeader, st.Range, st.Next)
	for _, e := range st.Bound {
		fmt.Fprintf(&b, "bind %d %s\n", e.Label, bindingText(e.Binding))
	}
	for _, e := range st.Held {
		fmt.Fprintf(&b, "held %d %d %s\n", e.Label, e.Until.Unix(), bindingText(e.Binding))
	}
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "sum %x\n", sum)
	return b.Bytes()
}

func bindingText(b mpls.Binding) string {
	s := quoteVRF(b.VRF)
	if !b.IsPerVRF() {
		s += " " + b.Prefix.String()
	}
	return s
}

func quoteVRF(v string) string {
	return strings.ReplaceAll(strconv.QuoteToASCII(v), " ", `\x20`)
}

// parse reads a file that encode wrote.
func parse(data []byte) (*mpls.AllocatorState, error) {
	i := bytes.LastIndex(data, []byte("\nsum "))
	if i < 0 {
		return nil, badFile(0, "no checksum line")
	}
	body, tail := data[:i+1], string(data[i+1:])
	if tail != fmt.Sprintf("sum %x\n", sha256.Sum256(body)) {
		return nil, badFile(0, "checksum does not match")
	}
	st := &mpls.AllocatorState{}
	labels := map[mpls.Label]bool{}
	bindings := map[mpls.Binding]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	n := 0
	var sawRange, sawNext bool
	for sc.Scan() {
		n++
		f := strings.Split(sc.Text(), " ")
		switch {
		case n == 1:
			if sc.Text() != fileHeader {
				return nil, badFile(n, "header %q, want %q", firstWord(sc.Text()), fileHeader)
			}
		case f[0] == "range" && len(f) == 2 && !sawRange:
			r, err := mpls.ParseRange(f[1])
			if err != nil || r.String() != f[1] {
				return nil, badFile(n, "range %q", firstWord(f[1]))
			}
			st.Range, sawRange = r, true
		case f[0] == "next" && len(f) == 2 && !sawNext:
			l, err := parseLabel(f[1])
			if err != nil {
				return nil, badFile(n, "next: %v", err)
			}
			st.Next, sawNext = l, true
		case f[0] == "bind" && (len(f) == 3 || len(f) == 4):
			l, err := parseLabel(f[1])
			if err != nil {
				return nil, badFile(n, "bind: %v", err)
			}
			b, err := parseBinding(f[2:])
			if err != nil {
				return nil, badFile(n, "bind %d: %v", l, err)
			}
			st.Bound = append(st.Bound, mpls.BoundLabel{Label: l, Binding: b})
			if err := unique(labels, bindings, l, b); err != nil {
				return nil, badFile(n, "%v", err)
			}
		case f[0] == "held" && (len(f) == 4 || len(f) == 5):
			l, err := parseLabel(f[1])
			if err != nil {
				return nil, badFile(n, "held: %v", err)
			}
			until, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || strconv.FormatInt(until, 10) != f[2] {
				return nil, badFile(n, "held %d: time %q", l, firstWord(f[2]))
			}
			b, err := parseBinding(f[3:])
			if err != nil {
				return nil, badFile(n, "held %d: %v", l, err)
			}
			st.Held = append(st.Held, mpls.HeldLabel{Label: l, Binding: b, Until: time.Unix(until, 0)})
			if err := unique(labels, bindings, l, b); err != nil {
				return nil, badFile(n, "%v", err)
			}
		default:
			return nil, badFile(n, "unexpected %q", firstWord(sc.Text()))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, badFile(n, "%v", err)
	}
	if !sawRange || !sawNext {
		return nil, badFile(n, "no range or next line")
	}
	return st, nil
}

// unique refuses a label or a binding seen before.
func unique(labels map[mpls.Label]bool, bindings map[mpls.Binding]bool, l mpls.Label, b mpls.Binding) error {
	if labels[l] {
		return fmt.Errorf("label %d listed twice", l)
	}
	if bindings[b] {
		return fmt.Errorf("%s listed twice", b)
	}
	labels[l], bindings[b] = true, true
	return nil
}

// parseLabel reads a label written in decimal, in its one spelling.
func parseLabel(s string) (mpls.Label, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || strconv.FormatUint(v, 10) != s || v > uint64(mpls.MaxLabel) {
		return 0, fmt.Errorf("label %q", firstWord(s))
	}
	return mpls.Label(v), nil
}

func parseBinding(f []string) (mpls.Binding, error) {
	vrf, err := strconv.Unquote(f[0])
	if err != nil || quoteVRF(vrf) != f[0] {
		return mpls.Binding{}, fmt.Errorf("vrf %q", firstWord(f[0]))
	}
	b := mpls.Binding{VRF: vrf}
	if len(f) == 2 {
		p, err := netip.ParsePrefix(f[1])
		if err != nil || p != p.Masked() || p.String() != f[1] {
			return mpls.Binding{}, fmt.Errorf("prefix %q", firstWord(f[1]))
		}
		b.Prefix = p
	}
	return b, nil
}

// firstWord keeps error messages short whatever a bad line holds.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	if len(w) > 24 {
		w = w[:24] + "..."
	}
	return w
}
