package seqstore

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The state file, DIR/esp-sequences, is text:
//
//	peregrine esp-sequences 1
//	salt 00112233445566778899aabbccddeeff
//	lost                                    (only after an unreadable file)
//	key FINGERPRINT MARK REMOTE SPI         (one line per key, sorted)
//	sum SHA256-OF-EVERYTHING-ABOVE
//
// FINGERPRINT is 32 hex digits, MARK decimal, REMOTE an address, SPI
// 0x-prefixed hex. Anything else, or a wrong sum, makes the whole file
// unreadable (errBadFile): a half-understood file must not pass for a
// complete one.
const fileHeader = "peregrine esp-sequences 1"

// fingerprint identifies a key (doc.go).
type fingerprint [16]byte

// entry is one key's line.
type entry struct {
	fp     fingerprint
	mark   uint64 // no sequence number above it was used
	remote netip.Addr
	spi    uint32
}

// fileState is what the file says.
type fileState struct {
	salt    [16]byte
	lost    bool // an earlier file was unreadable: unlisted keys are not known to be new
	entries map[fingerprint]*entry
}

// errBadFile wraps every reason parse rejects a file.
var errBadFile = errors.New("not a valid esp-sequences file")

func badFile(line int, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", errBadFile, line, fmt.Sprintf(format, args...))
}

// encode writes st as the file's text.
func (st *fileState) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nsalt %x\n", fileHeader, st.salt)
	if st.lost {
		b.WriteString("lost\n")
	}
	for _, e := range st.sorted() {
		fmt.Fprintf(&b, "key %x %d %s 0x%08x\n", e.fp, e.mark, e.remote, e.spi)
	}
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "sum %x\n", sum)
	return b.Bytes()
}

// sorted returns the entries by fingerprint, so equal states encode alike.
func (st *fileState) sorted() []*entry {
	out := make([]*entry, 0, len(st.entries))
	for _, e := range st.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int { return bytes.Compare(a.fp[:], b.fp[:]) })
	return out
}

// parse reads a file that encode wrote.
func parse(data []byte) (*fileState, error) {
	i := bytes.LastIndex(data, []byte("\nsum "))
	if i < 0 {
		return nil, badFile(0, "no checksum line")
	}
	body, tail := data[:i+1], string(data[i+1:])
	want := sha256.Sum256(body)
	if tail != fmt.Sprintf("sum %x\n", want) {
		return nil, badFile(0, "checksum does not match")
	}
	st := &fileState{entries: map[fingerprint]*entry{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	n := 0
	sawSalt := false
	for sc.Scan() {
		n++
		f := strings.Split(sc.Text(), " ")
		switch {
		case n == 1:
			if sc.Text() != fileHeader {
				return nil, badFile(n, "header %q, want %q", sc.Text(), fileHeader)
			}
		case f[0] == "salt" && len(f) == 2 && !sawSalt:
			if err := unhex(st.salt[:], f[1]); err != nil {
				return nil, badFile(n, "salt: %v", err)
			}
			sawSalt = true
		case f[0] == "lost" && len(f) == 1 && !st.lost:
			st.lost = true
		case f[0] == "key" && len(f) == 5:
			e, err := parseEntry(f[1:])
			if err != nil {
				return nil, badFile(n, "%v", err)
			}
			if st.entries[e.fp] != nil {
				return nil, badFile(n, "key %x listed twice", e.fp)
			}
			st.entries[e.fp] = e
		default:
			return nil, badFile(n, "unexpected %q", firstWord(sc.Text()))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, badFile(n, "%v", err)
	}
	if !sawSalt {
		return nil, badFile(n, "no salt")
	}
	return st, nil
}

func parseEntry(f []string) (*entry, error) {
	e := &entry{}
	if err := unhex(e.fp[:], f[0]); err != nil {
		return nil, fmt.Errorf("fingerprint: %v", err)
	}
	mark, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("mark: %v", err)
	}
	e.mark = mark
	if e.remote, err = netip.ParseAddr(f[2]); err != nil {
		return nil, fmt.Errorf("remote: %v", err)
	}
	spi, ok := strings.CutPrefix(f[3], "0x")
	if !ok {
		return nil, fmt.Errorf("spi %q: want 0x and hex digits", f[3])
	}
	v, err := strconv.ParseUint(spi, 16, 32)
	if err != nil {
		return nil, fmt.Errorf("spi: %v", err)
	}
	e.spi = uint32(v)
	return e, nil
}

// unhex decodes exactly len(dst) bytes of hex.
func unhex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%d hex digits, want %d", len(s), 2*len(dst))
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

// firstWord keeps error messages short whatever a bad line holds.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	if len(w) > 16 {
		w = w[:16] + "..."
	}
	return w
}
