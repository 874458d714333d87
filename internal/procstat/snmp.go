package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
)

// ParseSNMP returns counter name of protocol proto ("Tcp", "Udp", ...)
// from a /proc/net/snmp text, where each protocol has two lines: its
// counters' names, then their values, in the same order. The counters
// are the network namespace's of the process that read the file.
func ParseSNMP(b []byte, proto, name string) (int64, error) {
	s := bufio.NewScanner(bytes.NewReader(b))
	prefix := []byte(proto + ":")
	var names [][]byte
	for s.Scan() {
		f := bytes.Fields(s.Bytes())
		if len(f) == 0 || !bytes.Equal(f[0], prefix) {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if len(f) != len(names) {
			return 0, fmt.Errorf("/proc/net/snmp: %s has %d names and %d values", proto, len(names)-1, len(f)-1)
		}
		for i, n := range names[1:] {
			if string(n) != name {
				continue
			}
			v, err := strconv.ParseInt(string(f[i+1]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/net/snmp: bad %s %s %q", proto, name, f[i+1])
			}
			return v, nil
		}
		return 0, fmt.Errorf("/proc/net/snmp: %s has no %s", proto, name)
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/net/snmp: no %s values", proto)
}
