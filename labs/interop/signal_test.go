package interop_test

import "syscall"

func signalHUP(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
