package labelstore

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParse: any bytes either parse or are refused, never a panic, and
// what parses encodes back to the same bytes (one spelling per state).
func FuzzParse(f *testing.F) {
	f.Add(encode(sampleState()))
	f.Add([]byte(fileHeader + "\nrange 16-17\nnext 16\nsum 00\n"))
	f.Add([]byte("sum "))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parse(data)
		if err != nil {
			return
		}
		if again := encode(st); !bytes.Equal(again, data) {
			t.Errorf("parse then encode changed the file:\n%q\n%q", data, again)
		}
	})
}

// FuzzParseBody fuzzes the lines behind the checksum, which FuzzParse
// rarely gets past: what parses encodes to a file that parses to the same
// state.
func FuzzParseBody(f *testing.F) {
	good := encode(sampleState())
	f.Add(good[:bytes.LastIndex(good, []byte("sum "))])
	f.Add([]byte(fileHeader + "\nrange 16-17\nnext 16\nheld 16 -5 \"\\x20\" ::/0\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := parse(withSum(body))
		if err != nil {
			return
		}
		again, err := parse(encode(st))
		if err != nil {
			t.Fatalf("encoded state does not parse: %v", err)
		}
		if !reflect.DeepEqual(st, again) {
			t.Errorf("round trip changed the state: %+v, %+v", st, again)
		}
	})
}
