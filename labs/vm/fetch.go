package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type kernel struct {
	version string // e.g. 6.1.0-56-amd64
	vmlinux string // the ELF kernel qemu boots
	modDir  string // lib/modules/VERSION
}

// ensureKernel unpacks the package linux-image-amd64 depends on into
// cache/kernel and extracts vmlinux, unless done before.
func ensureKernel(ctx context.Context, cache string) (*kernel, error) {
	dir := filepath.Join(cache, "kernel")
	if k, err := findKernel(dir); err == nil {
		return k, nil
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends linux-image-amd64: %w", err)
	}
	var pkg string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			pkg = f[1]
		}
	}
	if pkg == "" {
		return nil, fmt.Errorf("linux-image-amd64 depends on no linux-image package:\n%s", out)
	}
	if err := download(ctx, dir, pkg); err != nil {
		return nil, err
	}
	k, err := findKernel(dir)
	if err != nil {
		return nil, err
	}
	if err := extractVmlinux(filepath.Join(dir, "boot", "vmlinuz-"+k.version), k.vmlinux); err != nil {
		return nil, err
	}
	return k, nil
}

func findKernel(dir string) (*kernel, error) {
	mods, _ := filepath.Glob(filepath.Join(dir, "lib", "modules", "*"))
	if len(mods) != 1 {
		return nil, errors.New("no unpacked kernel")
	}
	k := &kernel{version: filepath.Base(mods[0]), modDir: mods[0], vmlinux: filepath.Join(dir, "vmlinux")}
	if _, err := os.Stat(k.vmlinux); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return k, nil
}

// ensureBusybox returns the static busybox binary of busybox-static.
func ensureBusybox(ctx context.Context, cache string) (string, error) {
	dir := filepath.Join(cache, "busybox")
	bin := filepath.Join(dir, "bin", "busybox")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := download(ctx, dir, "busybox-static"); err != nil {
		return "", err
	}
	return bin, nil
}

// download fetches a package with apt-get download (no root needed, the
// host untouched) and unpacks its files into dir.
func download(ctx context.Context, dir, pkg string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "vm-deb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "apt-get", "download", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: %d .deb files", pkg, len(debs))
	}
	// dpkg-deb --fsys-tarfile X | tar -x -C dir
	unpack := exec.CommandContext(ctx, "sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2"`, "sh", debs[0], dir)
	if out, err := unpack.CombinedOutput(); err != nil {
		return fmt.Errorf("unpacking %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// extractVmlinux writes the ELF kernel inside a bzImage: the xz stream
// that starts at the first xz magic, decompressed. qemu boots an ELF
// vmlinux directly, faster than through a boot loader.
func extractVmlinux(vmlinuz, out string) error {
	data, err := os.ReadFile(vmlinuz)
	if err != nil {
		return err
	}
	i := bytes.Index(data, []byte("\xfd7zXZ\x00"))
	if i < 0 {
		return fmt.Errorf("%s: no xz stream", vmlinuz)
	}
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(data[i:])
	var elf, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &elf, &stderr
	// xz complains about the bytes after the stream: the ELF is complete.
	_ = cmd.Run()
	if !bytes.HasPrefix(elf.Bytes(), []byte("\x7fELF")) {
		return fmt.Errorf("%s: the xz stream is no ELF kernel: %s", vmlinuz, stderr.String())
	}
	return os.WriteFile(out, elf.Bytes(), 0o644)
}
