package fib

import (
	"reflect"
	"testing"
)

// TestDropsEachNamesEveryReason: Each, the one place the drop reasons are
// spelt, visits every field of Drops once, under distinct names, so a
// reason added to Drops cannot go missing from the API and the metrics.
func TestDropsEachNamesEveryReason(t *testing.T) {
	var d Drops
	v := reflect.ValueOf(&d).Elem()
	for i := range v.NumField() {
		v.Field(i).SetUint(uint64(i + 1))
	}
	seen := map[uint64]string{}
	names := map[string]bool{}
	d.Each(func(reason string, n uint64) {
		if names[reason] {
			t.Errorf("reason %q named twice", reason)
		}
		names[reason] = true
		if prev, ok := seen[n]; ok {
			t.Errorf("field %s reported as %q and %q", v.Type().Field(int(n-1)).Name, prev, reason)
		}
		seen[n] = reason
	})
	for i := range v.NumField() {
		if _, ok := seen[uint64(i+1)]; !ok {
			t.Errorf("Drops.%s has no name in Each", v.Type().Field(i).Name)
		}
	}
}
