package seqstore

import (
	"bytes"
	"testing"
)

// validFile is a state file with two keys and the lost flag.
func validFile() []byte {
	st := &fileState{lost: true, entries: map[fingerprint]*entry{}}
	for i, remote := range []string{"192.0.2.2", "2001:db8::2"} {
		e := &entry{mark: uint64(1+i) << 20, remote: netipAddr(remote), spi: 0x1001 + uint32(i)}
		e.fp[0] = byte(i + 1)
		st.entries[e.fp] = e
	}
	st.salt[15] = 7
	return st.encode()
}

// FuzzParse: any bytes either parse or are refused, never a panic, and
// what parses encodes back to the same bytes (one spelling per state).
func FuzzParse(f *testing.F) {
	f.Add(validFile())
	f.Add([]byte(fileHeader + "\nsalt 00000000000000000000000000000000\nsum 00\n"))
	f.Add([]byte("sum "))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parse(data)
		if err != nil {
			return
		}
		if again := st.encode(); !bytes.Equal(again, data) {
			t.Errorf("parse then encode changed the file:\n%q\n%q", data, again)
		}
	})
}

// FuzzParseBody fuzzes the lines behind the checksum, which FuzzParse
// rarely gets past: what parses encodes to a file that parses to the same
// state.
func FuzzParseBody(f *testing.F) {
	good := validFile()
	f.Add(good[:bytes.LastIndex(good, []byte("sum "))])
	f.Add([]byte(fileHeader + "\nsalt 00000000000000000000000000000000\nkey 0 1 ::1 0x1\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := parse(withSum(body))
		if err != nil {
			return
		}
		again, err := parse(st.encode())
		if err != nil {
			t.Fatalf("encoded state does not parse: %v", err)
		}
		if !sameState(st, again) {
			t.Errorf("round trip changed the state: %+v, %+v", st, again)
		}
	})
}

func sameState(a, b *fileState) bool {
	if a.salt != b.salt || a.lost != b.lost || len(a.entries) != len(b.entries) {
		return false
	}
	for fp, e := range a.entries {
		if o := b.entries[fp]; o == nil || *o != *e {
			return false
		}
	}
	return true
}

func TestParseRejects(t *testing.T) {
	good := validFile()
	if _, err := parse(good); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"truncated":   good[:len(good)-10],
		"bit flipped": append(append([]byte{}, good[:40]...), append([]byte{good[40] ^ 1}, good[41:]...)...),
		"no salt":     (&fileState{}).encodeWithout("salt"),
	} {
		if _, err := parse(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// encodeWithout encodes st with the line starting with word left out and
// a checksum that matches, to test the parser's checks behind the sum.
func (st *fileState) encodeWithout(word string) []byte {
	var body []byte
	for _, l := range bytes.SplitAfter(st.encode(), []byte("\n")) {
		if len(l) == 0 || bytes.HasPrefix(l, []byte(word+" ")) || bytes.HasPrefix(l, []byte("sum ")) {
			continue
		}
		body = append(body, l...)
	}
	return withSum(body)
}
