package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/peregrine-net/peregrine/labs/peers"
)

// testBinary is one package's compiled tests and its testdata directory.
type testBinary struct {
	name     string // short name, the directory in the VM
	path     string
	testdata string // "" if the package has none
}

// buildTests compiles each package's tests as a static binary.
func buildTests(ctx context.Context, dir string, pkgs []string) ([]testBinary, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []testBinary
	for _, pkg := range pkgs {
		src, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("go list %s: %w", pkg, err)
		}
		pdir := strings.TrimSpace(string(src))
		name := strings.ReplaceAll(strings.Trim(strings.TrimPrefix(pkg, "./"), "/"), "/", "-")
		bin := filepath.Join(dir, name+".test")
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go test -c %s: %v\n%s", pkg, err, b)
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%s has no tests", pkg)
		}
		tb := testBinary{name: name, path: bin}
		if fi, err := os.Stat(filepath.Join(pdir, "testdata")); err == nil && fi.IsDir() {
			tb.testdata = filepath.Join(pdir, "testdata")
		}
		out = append(out, tb)
	}
	return out, nil
}

// initScript is /init: it loads the modules, runs every test binary in its
// package directory and prints the result line the host waits for.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /run && mount -t tmpfs run /run
for m in $(cat /modules.order); do insmod /lib/modules/$m.ko || echo "vm: insmod $m failed"; done
ip link set lo up
export PEREGRINE_VM=1 PATH=/bin HOME=/tmp
%src=0
for d in /pkg/*; do
	echo "=== VM PACKAGE $(basename $d)"
	cd $d && ./test.bin -test.v -test.count=1 %s || rc=1
done
echo "PEREGRINE-VM-RESULT rc=$rc"
poweroff -f
`

// writeInitramfs writes a gzipped newc cpio archive with busybox, the
// modules, the test binaries and /init.
func writeInitramfs(path, busybox string, mods []module, bins []testBinary, cmds []string, run, bench string, env []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	w := &cpioWriter{w: gz}
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "tmp", "lib", "lib/modules", "pkg", "etc"} {
		w.dir(d)
	}
	w.fileFrom("bin/busybox", busybox, 0o755)
	for _, c := range cmds {
		w.fileFrom("bin/"+filepath.Base(c), c, 0o755)
	}
	var order []string
	for _, m := range mods {
		w.fileFrom("lib/modules/"+m.name+".ko", m.path, 0o644)
		order = append(order, m.name)
	}
	w.file("modules.order", []byte(strings.Join(order, "\n")+"\n"), 0o644)
	runFlag := ""
	if run != "" {
		runFlag = "-test.run '" + strings.ReplaceAll(run, "'", "") + "'"
	}
	if bench != "" {
		runFlag = "-test.run '^$' -test.benchtime 1x -test.bench '" + strings.ReplaceAll(bench, "'", "") + "'"
	}
	if err := w.hostBinary("sbin/ip-iproute2", "ip"); err != nil {
		return err
	}
	if err := w.frr(); err != nil {
		return err
	}
	// iproute2's tc reads back the kernel backend's tc filters.
	if err := w.hostBinary("sbin/tc", "tc"); err != nil {
		return err
	}
	if err := w.gobgp(); err != nil {
		return err
	}
	w.file("init", []byte(fmt.Sprintf(initScript, exportLines(env), runFlag)), 0o755)
	for _, b := range bins {
		w.dir("pkg/" + b.name)
		w.fileFrom("pkg/"+b.name+"/test.bin", b.path, 0o755)
		if b.testdata != "" {
			if err := w.tree("pkg/"+b.name+"/testdata", b.testdata); err != nil {
				return err
			}
		}
	}
	w.trailer()
	if w.err != nil {
		return w.err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

// cpioWriter writes the "newc" format the kernel unpacks an initramfs
// from: a 110-byte ASCII header, the name, the data, each padded to 4.
type cpioWriter struct {
	w   io.Writer
	ino int
	err error
}

func (c *cpioWriter) entry(name string, mode uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, data...)
	buf = pad4(buf)
	_, c.err = c.w.Write(buf)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (c *cpioWriter) dir(name string) { c.entry(name, 0o040755, nil) }

func (c *cpioWriter) file(name string, data []byte, perm uint32) {
	c.entry(name, 0o100000|perm, data)
}

func (c *cpioWriter) fileFrom(name, src string, perm uint32) {
	data, err := os.ReadFile(src)
	if err != nil {
		c.err = err
		return
	}
	c.file(name, data, perm)
}

// tree copies a directory tree, in a stable order.
func (c *cpioWriter) tree(name, src string) error {
	var paths []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(src, p)
		target := name
		if rel != "." {
			target = name + "/" + filepath.ToSlash(rel)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			c.dir(target)
		} else {
			c.fileFrom(target, p, 0o644)
		}
	}
	return c.err
}

func (c *cpioWriter) trailer() { c.entry("TRAILER!!!", 0, nil) }

// hostBinary copies a program of this host into the archive at name, with
// the shared libraries ldd lists, at their own paths: iproute2's ip, for
// tests that compare with it (busybox's ip lacks -batch and encap).
func (c *cpioWriter) hostBinary(name, program string) error {
	path, err := exec.LookPath(program)
	if err != nil {
		return fmt.Errorf("%s not found on this host (apt-get install iproute2)", program)
	}
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %w", path, err)
	}
	dirs := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		lib := ""
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		}
		if lib == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return err
		}
		dir := strings.TrimPrefix(filepath.Dir(lib), "/")
		parts := strings.Split(dir, "/")
		for i := range parts {
			d := strings.Join(parts[:i+1], "/")
			if !dirs[d] {
				dirs[d] = true
				c.dir(d)
			}
		}
		c.fileFrom(strings.TrimPrefix(lib, "/"), real, 0o755)
	}
	c.fileFrom(name, path, 0o755)
	return c.err
}

// frr copies FRR's zebra, staticd and bgpd of this host, with their
// libraries and YANG models, where Debian's frr package has them, for tests
// that run FRR as another vendor's PE with the VM kernel's MPLS and VRFs.
// Without the frr package nothing is copied and those tests skip.
func (c *cpioWriter) frr() error {
	if _, err := os.Stat("/usr/lib/frr/zebra"); err != nil {
		return nil
	}
	for _, d := range []string{"usr", "usr/lib", "usr/lib/frr", "usr/bin", "usr/share", "var", "var/run", "var/run/frr", "var/tmp", "var/tmp/frr"} {
		c.dir(d)
	}
	// zebra and vtysh look users up: root, and FRR's own.
	c.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nfrr:x:100:101::/nonexistent:/bin/false\n"), 0o644)
	c.file("etc/group", []byte("root:x:0:\nfrr:x:101:\nfrrvty:x:102:frr,root\n"), 0o644)
	for _, p := range []string{"/usr/lib/frr/zebra", "/usr/lib/frr/staticd", "/usr/lib/frr/bgpd"} {
		if err := c.hostBinary(strings.TrimPrefix(p, "/"), p); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/usr/share/yang"); err == nil {
		return c.tree("usr/share/yang", "/usr/share/yang")
	}
	return c.err
}

// gobgp copies GoBGP's gobgpd and its CLI gobgp (bin/tools, `make
// tools`) into /bin, for tests that run gobgpd as a far PE independent of
// Peregrine's own BGP. Without them nothing is copied and those tests skip.
func (c *cpioWriter) gobgp() error {
	for _, name := range []string{"gobgpd", "gobgp"} {
		path, err := peers.Tool(name)
		if err != nil {
			return nil
		}
		if err := c.hostBinary("bin/"+name, path); err != nil {
			return err
		}
	}
	return c.err
}

// buildCommands builds each command package as a static binary in dir.
func buildCommands(ctx context.Context, dir string, pkgs []string) ([]string, error) {
	var out []string
	for _, pkg := range pkgs {
		bin := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		out = append(out, bin)
	}
	return out, nil
}

// exportLines is /init's export line for each KEY=VALUE of env, the value
// single-quoted (main checked the keys).
func exportLines(env []string) string {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	return b.String()
}

// validEnvName says whether k can be a shell variable's name.
func validEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
