package esptransport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Mmsg runs sendmmsg or recvmmsg (trap is unix.SYS_SENDMMSG or
// unix.SYS_RECVMMSG) over hdrs without blocking, retrying EINTR, in the
// form syscall.RawConn's Read and Write callbacks want: ready is false
// when the socket would block and the caller should wait for it. n is
// how many messages went through; errno is the error of a call that
// failed, with n 0. The ESP sockets and the userspace backend's MPLS
// packet sockets share it. hdrs must not be empty.
func Mmsg(trap, fd uintptr, hdrs []unix.Mmsghdr, flags int) (n int, errno unix.Errno, ready bool) {
	for {
		r, _, e := unix.Syscall6(trap, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), uintptr(flags), 0, 0)
		switch e {
		case 0:
			return int(r), 0, true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, 0, false
		}
		return 0, e, true
	}
}
