package interop_test

import "testing"

// birdcShowRouteAll is `birdc show route 2001:db8:c1::1/128 all` as BIRD
// 2.0.12 printed it on ce2, with a second path added to check the parser
// stops at the first.
const birdcShowRouteAll = "BIRD 2.0.12 ready.\n" +
	"Table master6:\n" +
	"2001:db8:c1::1/128   unicast [pe6 22:31:02.117] * (100) [AS65101i]\n" +
	"\tvia fd00:2::1 on eth0\n" +
	"\tType: BGP univ\n" +
	"\tBGP.origin: IGP\n" +
	"\tBGP.as_path: 65000 65101\n" +
	"\tBGP.next_hop: fd00:2::1\n" +
	"\tBGP.local_pref: 100\n" +
	"                     unicast [pe4 22:31:03.000] (100) [AS65999i]\n" +
	"\tvia 10.2.0.1 on eth0\n" +
	"\tBGP.as_path: 65999\n"

func TestParseBIRDCERoute(t *testing.T) {
	got, ok := parseBIRDCERoute([]byte(birdcShowRouteAll))
	want := ceBIRDRoute{Proto: "pe6", Via: "fd00:2::1", ASPath: "65000 65101", Primary: true}
	if !ok || got != want {
		t.Errorf("parse = %+v, %v; want %+v, true", got, ok, want)
	}
	if got, ok := parseBIRDCERoute([]byte("BIRD 2.0.12 ready.\nNetwork not found\n")); ok {
		t.Errorf("\"Network not found\" parsed as %+v", got)
	}
}

// FuzzParseBIRDCERoute: any birdc output parses without a panic.
func FuzzParseBIRDCERoute(f *testing.F) {
	f.Add([]byte(birdcShowRouteAll))
	f.Add([]byte("Table master4:\n1/ x [\n\tvia\n\tBGP.as_path:\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		r, ok := parseBIRDCERoute(text)
		if !ok && r != (ceBIRDRoute{}) {
			t.Errorf("no path but %+v", r)
		}
	})
}
