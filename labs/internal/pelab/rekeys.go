package pelab

import (
	"regexp"
	"strings"
)

// Rekeys counts SAs a peregrined log says came up.
type Rekeys struct {
	Child int // child SAs that replaced another (rekeys)
	IKE   int // IKE SAs that came up (the first and every rekey)
}

var replacesRE = regexp.MustCompile(`msg="child sa up".*replaces=0x([0-9a-f]{8})`)

// CountRekeys counts, in a peregrined log, child SAs that replaced
// another and IKE SAs that came up.
func CountRekeys(log string) Rekeys {
	var c Rekeys
	for _, m := range replacesRE.FindAllStringSubmatch(log, -1) {
		if m[1] != "00000000" {
			c.Child++
		}
	}
	c.IKE = strings.Count(log, `msg="ike sa up"`)
	return c
}
