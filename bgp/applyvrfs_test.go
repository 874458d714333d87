package bgp

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestReloadListsTheRIBOnceForItsNewVRFs (issue 23): a reload that
// adds 19 VRFs, each originating routes, lists GoBGP's best paths once
// to re-import, not once per VRF: each listing walks the whole RIB, the
// local paths of every VRF made before included, which made bring-up
// quadratic in the VRFs.
func TestReloadListsTheRIBOnceForItsNewVRFs(t *testing.T) {
	vrfs := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "  - {name: v%d, rd: '65000:%d', import-targets: ['65000:%d'], export-targets: ['65000:%d'], static-routes: [{prefix: 10.%d.0.0/24}]}\n", i, i+1, i+1, i+1, i)
		}
		return b.String()
	}
	port := freePort(t, "127.0.0.1")
	s := startSpeaker(t, speakerConfig(t, "1.1.1.1", "127.0.0.1", port, "127.0.0.2", port, vrfs(1)))
	listings := 0
	if err := s.do(func() error {
		list := s.imp.remote
		s.imp.remote = func() []vpnPath { listings++; return list() }
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(context.Background(), speakerConfig(t, "1.1.1.1", "127.0.0.1", port, "127.0.0.2", port, vrfs(20))); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = s.do(func() error { n = listings; return nil })
	if n != 1 {
		t.Errorf("a reload adding 19 VRFs listed the RIB %d times, want once", n)
	}
}
