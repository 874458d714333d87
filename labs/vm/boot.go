package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// boot runs qemu on vmlinux and initrd, copies the serial console to
// stdout and returns the exit status the init script printed.
func boot(ctx context.Context, vmlinux, initrd string, memMiB int, timeout time.Duration, outDir string) (int, error) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return 0, errors.New("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// KVM does not work on these machines: software emulation (tcg). The
	// microvm machine boots fastest; it needs the TSC frequency and the
	// delay-loop calibration given, or it hangs calibrating them.
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-M", "microvm,pit=on,pic=on,rtc=on", "-accel", "tcg", "-cpu", "max", "-smp", "1",
		"-m", fmt.Sprint(memMiB), "-nographic", "-no-reboot",
		"-kernel", vmlinux, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 lpj=4000000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	code := -1
	files := newOutFiles(outDir)
	defer files.close()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fmt.Println(line)
		if rest, ok := strings.CutPrefix(line, "PEREGRINE-VM-RESULT rc="); ok {
			fmt.Sscan(rest, &code)
		}
		if err := files.line(line); err != nil {
			return 0, err
		}
	}
	werr := cmd.Wait()
	fmt.Printf("vm: qemu ran %v\n", time.Since(start).Round(time.Millisecond))
	if code < 0 {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("the VM did not finish within %v", timeout)
		}
		return 0, fmt.Errorf("the VM ended without a result line (qemu: %v)", werr)
	}
	return code, nil
}
