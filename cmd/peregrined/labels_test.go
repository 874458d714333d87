package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/mpls/labelstore"
)

// labelsConfig has red and blue in per-VRF mode and green in per-prefix
// mode, with the VRFs and green's prefixes in the order given: the
// allocator hands out labels in the order it is asked, so a restart that
// reorders them would shuffle every label if nothing were persisted.
func labelsConfig(sock, state string, vrfs []string, greenPrefixes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router: {id: 192.0.2.1, asn: 65000}\ndataplane: {backend: none}\n"+
		"control: {socket: %s}\nstate: {directory: %s}\nbgp: {listen-port: 0, api: ''}\n"+
		"mpls: {label-min: 2000, label-max: 2999, label-hold-down: 1h}\nvrfs:\n", sock, state)
	for i, v := range vrfs {
		switch v {
		case "green":
			fmt.Fprintf(&b, "  - {name: green, rd: '65000:%d', label-mode: per-prefix, export-targets: ['65000:%d'], static-routes: [", i+1, i+1)
			for j, p := range greenPrefixes {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "{prefix: %s}", p)
			}
			b.WriteString("]}\n")
		default:
			fmt.Fprintf(&b, "  - {name: %s, rd: '65000:%d', export-targets: ['65000:%d'], static-routes: [{prefix: 10.%d.0.0/24}]}\n",
				v, i+1, i+1, len(v))
		}
	}
	return b.String()
}

// vrfLabels reads the labels a running daemon advertises, per VRF and
// prefix, from its local API.
func vrfLabels(t *testing.T, sock string, vrfs []string) map[string]uint32 {
	t.Helper()
	c := unixClient(sock)
	out := map[string]uint32{}
	for _, v := range vrfs {
		var doc localapi.VRFRoutes
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := c.Get("http://peregrined/v1/vrfs/" + v + "/routes")
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&doc)
				resp.Body.Close()
			}
			if err == nil && len(doc.Routes) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /v1/vrfs/%s/routes: %v, %+v", v, err, doc)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, r := range doc.Routes {
			if r.Local {
				out[v+" "+r.Prefix.String()] = r.Label
			}
		}
	}
	return out
}

// TestLabelsSurviveRestart runs the daemon binary three times on one state
// directory: labels are the same for every VRF (per-VRF mode) and prefix
// (per-prefix mode) after a clean stop (SIGTERM) and after kill -9, though
// each start lists the VRFs and prefixes in another order; a VRF that
// appears meanwhile gets a label none of the old ones had, and the label
// of a VRF that went is not reused while held down.
func TestLabelsSurviveRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peregrined")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sock, state := filepath.Join(dir, "pe.sock"), filepath.Join(dir, "state")
	start := func(vrfs, green []string) (*exec.Cmd, *bytes.Buffer) {
		t.Helper()
		cfg := writeFile(t, dir, "pe.yml", labelsConfig(sock, state, vrfs, green))
		cmd := exec.Command(bin, "-c", cfg)
		logs := &bytes.Buffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, logs
	}

	green := []string{"10.7.1.0/24", "10.7.2.0/24", "2001:db8:7::/64"}
	cmd, logs := start([]string{"red", "blue", "green", "gone"}, green)
	first := vrfLabels(t, sock, []string{"red", "blue", "green", "gone"})
	if len(first) != 6 {
		t.Fatalf("first start: labels %v, want 6 (red, blue, 3 green prefixes, gone)", first)
	}
	goneLabel := first["gone 10.4.0.0/24"]

	// Clean stop, then a start with the VRFs and green's prefixes
	// reversed, gone removed and yellow added first.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, logs)
	}
	rev := []string{green[2], green[1], green[0]}
	cmd, logs = start([]string{"yellow", "green", "blue", "red"}, rev)
	second := vrfLabels(t, sock, []string{"yellow", "green", "blue", "red"})
	yellow := second["yellow 10.6.0.0/24"]
	delete(second, "yellow 10.6.0.0/24")
	want := maps.Clone(first)
	delete(want, "gone 10.4.0.0/24")
	if !maps.Equal(second, want) {
		t.Errorf("labels after SIGTERM and start:\n got %v\nwant %v\n%s", second, want, logs)
	}
	for k, l := range first {
		if l == yellow {
			t.Errorf("new vrf yellow got label %d, which %s had (gone's is held down)", yellow, k)
		}
	}

	// kill -9, then a start in the first order, gone back: it gets its
	// held label again.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	cmd, logs = start([]string{"red", "blue", "green", "gone", "yellow"}, green)
	third := vrfLabels(t, sock, []string{"red", "blue", "green", "gone", "yellow"})
	want = maps.Clone(first)
	want["yellow 10.6.0.0/24"] = yellow
	if !maps.Equal(third, want) {
		t.Errorf("labels after kill -9 and start:\n got %v\nwant %v\n%s", third, want, logs)
	}
	if third["gone 10.4.0.0/24"] != goneLabel {
		t.Errorf("gone came back with %d, want its held %d", third["gone 10.4.0.0/24"], goneLabel)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

// TestCorruptLabelStateRefusesStart: a damaged labels file stops the
// daemon with an error naming the file, rather than guessing labels.
func TestCorruptLabelStateRefusesStart(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(state, labelstore.FileName)
	if err := os.WriteFile(path, []byte("peregrine labels 1\nrange 2000-2999\nnext 2002\nsum 00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "pe.yml", labelsConfig(filepath.Join(dir, "pe.sock"), state, []string{"red"}, nil))
	var errb bytes.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"-c", cfg}, &bytes.Buffer{}, &errb) }()
	select {
	case code := <-exit:
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("peregrined started with a corrupt labels file")
	}
	if !strings.Contains(errb.String(), path) || !strings.Contains(errb.String(), "move the file aside") {
		t.Errorf("stderr does not name %s and the way out:\n%s", path, errb.String())
	}
}

// TestUnusableStateDirRefusesStart: a state directory that cannot be made
// (a file is in its way) stops a daemon with VRFs, naming the path.
func TestUnusableStateDirRefusesStart(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "pe.yml", labelsConfig(filepath.Join(dir, "pe.sock"), state, []string{"red"}, nil))
	var errb bytes.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"-c", cfg}, &bytes.Buffer{}, &errb) }()
	select {
	case code := <-exit:
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("peregrined started without a usable state directory")
	}
	if !strings.Contains(errb.String(), state) {
		t.Errorf("stderr does not name %s:\n%s", state, errb.String())
	}
}
