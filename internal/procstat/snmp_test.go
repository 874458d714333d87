package procstat

import (
	"os"
	"testing"
)

func TestParseSNMP(t *testing.T) {
	b, err := os.ReadFile("testdata/snmp-host")
	if err != nil {
		t.Fatal(err)
	}
	pes, err := os.ReadFile("testdata/snmp-pes") // a PE lab's CE, after its pings
	if err != nil {
		t.Fatal(err)
	}
	text := "Ip: Forwarding\nIp: 1\nTcp: RtoAlgorithm ActiveOpens PassiveOpens\nTcp: 1 42 7\nUdp: InDatagrams\nUdp: 9\n"
	for _, c := range []struct {
		text, proto, name string
		want              int64
		ok                bool
	}{
		{text, "Tcp", "ActiveOpens", 42, true},
		{text, "Tcp", "PassiveOpens", 7, true},
		{text, "Udp", "InDatagrams", 9, true},
		{text, "Tcp", "OutRsts", 0, false},
		{text, "Icmp", "InMsgs", 0, false},
		{"Tcp: ActiveOpens\n", "Tcp", "ActiveOpens", 0, false},
		{"Tcp: A ActiveOpens\nTcp: 1\n", "Tcp", "ActiveOpens", 0, false},
		{"Tcp: ActiveOpens\nTcp: x\n", "Tcp", "ActiveOpens", 0, false},
		{string(b), "Tcp", "ActiveOpens", -1, true}, // a real file: any value
		{string(pes), "Icmp", "InEchos", 1251, true},
		{"Ip: Forwarding\nIp: 1\n", "Icmp", "InEchos", 0, false},
	} {
		got, err := ParseSNMP([]byte(c.text), c.proto, c.name)
		if (err == nil) != c.ok || c.ok && c.want >= 0 && got != c.want {
			t.Errorf("%s %s in %q: %d, %v; want %d (ok %v)", c.proto, c.name, c.text, got, err, c.want, c.ok)
		}
	}
}
