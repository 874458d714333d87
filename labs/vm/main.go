package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type pkgList []string

func (p *pkgList) String() string     { return strings.Join(*p, ",") }
func (p *pkgList) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var pkgs pkgList
	cache := flag.String("cache", "build/vm", "cache `dir` for the kernel, busybox and the initramfs")
	timeout := flag.Duration("timeout", 8*time.Minute, "give up on the VM after this long")
	mem := flag.Int("m", 1024, "VM memory in MiB")
	run := flag.String("run", "", "passed to each test binary as -test.run")
	bench := flag.String("bench", "", "run the benchmarks matching this `pattern` (once each) instead of the tests")
	flag.Var(&pkgs, "pkg", "Go `package` whose tests run in the VM (repeatable)")
	var cmds pkgList
	flag.Var(&cmds, "cmd", "Go `command` package built into the VM's /bin (repeatable), e.g. ./cmd/peregrined")
	var env pkgList
	flag.Var(&env, "env", "`KEY=VALUE` exported to the test binaries in the VM (repeatable)")
	outDir := flag.String("out", "", "`dir` where console lines \"PEREGRINE-VM-OUT FILE: TEXT\" are written, TEXT as a line of FILE")
	flag.Parse()
	if len(pkgs) == 0 {
		fmt.Fprintln(os.Stderr, "vm: at least one -pkg is required")
		os.Exit(2)
	}
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || !validEnvName(k) {
			fmt.Fprintf(os.Stderr, "vm: -env: %q is not KEY=VALUE with KEY of letters, digits and _\n", kv)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	code, err := vmTest(ctx, options{cache: *cache, pkgs: pkgs, timeout: *timeout, memMiB: *mem, run: *run, bench: *bench, cmds: cmds, env: env, outDir: *outDir})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vm: %v\n", err)
		os.Exit(2)
	}
	os.Exit(code)
}

type options struct {
	cache   string
	pkgs    []string
	timeout time.Duration
	memMiB  int
	run     string
	bench   string
	cmds    []string
	env     []string // KEY=VALUE, exported by /init
	outDir  string   // "" or where PEREGRINE-VM-OUT lines go
}

// vmTest prepares everything, boots, and returns the tests' exit status.
func vmTest(ctx context.Context, o options) (int, error) {
	cache, err := filepath.Abs(o.cache)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	k, err := ensureKernel(ctx, cache)
	if err != nil {
		return 0, err
	}
	bb, err := ensureBusybox(ctx, cache)
	if err != nil {
		return 0, err
	}
	mods, err := resolveModules(k.modDir, vmModules)
	if err != nil {
		return 0, err
	}
	bins, err := buildTests(ctx, filepath.Join(cache, "tests"), o.pkgs)
	if err != nil {
		return 0, err
	}
	cmds, err := buildCommands(ctx, filepath.Join(cache, "bin"), o.cmds)
	if err != nil {
		return 0, err
	}
	initrd := filepath.Join(cache, "initrd.cpio.gz")
	if err := writeInitramfs(initrd, bb, mods, bins, cmds, o.run, o.bench, o.env); err != nil {
		return 0, err
	}
	fmt.Printf("vm: kernel %s, %d modules, %d test binaries, prepared in %v\n", k.version, len(mods), len(bins), time.Since(start).Round(time.Millisecond))
	return boot(ctx, k.vmlinux, initrd, o.memMiB, o.timeout, o.outDir)
}
