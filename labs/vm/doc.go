// Command vm runs Go test binaries inside a qemu VM booting Debian's
// linux-image-amd64: the kernel this project's kernel backend needs (MPLS
// forwarding, VRF devices, XFRM), which the CI machines' own kernel lacks.
//
//	go run ./labs/vm -pkg ./fib/kernel [-pkg ...]
//
// It downloads the kernel and busybox-static packages with apt-get
// download (the host is not changed; qemu-system-x86 must be installed),
// unpacks them under -cache, extracts the ELF vmlinux from vmlinuz (qemu
// boots it directly, the fastest way), builds an initramfs of busybox, the
// modules the tests need with their dependencies, and each package's test
// binary (CGO_ENABLED=0 go test -c) with its testdata, boots it under
// software emulation (KVM does not work on these machines) and reports the
// tests' output and result from the serial console. A boot takes a few
// seconds; the cache makes later runs skip the downloads.
//
// Inside the VM each test binary runs as root in /pkg/<name> (its testdata
// there) with PEREGRINE_VM=1 in the environment: tests that need the VM's
// kernel skip without it.
package main
