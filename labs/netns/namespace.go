package netns

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The namespace primitives below are what a Lab is built of. They are
// exported for labs whose namespaces outlive the program that made them
// (labs/clab names them clab-LAB-NODE and finds them again by name), and
// take namespace names as `ip netns` knows them.

// netnsDir is where `ip netns add` bind-mounts named namespaces.
const netnsDir = "/run/netns"

// AddNamespace creates the network namespace ns and brings its loopback up.
// If the loopback cannot be brought up, the namespace is removed again.
//
//	ip netns add NS; ip -n NS link set lo up
func AddNamespace(ns string) error {
	if _, err := ip("netns", "add", ns); err != nil {
		return err
	}
	if _, err := ip("-n", ns, "link", "set", "lo", "up"); err != nil {
		return errors.Join(err, RemoveNamespace(ns, 0))
	}
	return nil
}

// LinkNamespaces joins namespaces aNS and bNS with a veth pair named aIf in
// aNS and bIf in bNS, both up. The pair is created inside the namespaces,
// so it never appears in the host's. Interface names follow the kernel's
// rules (1 to 15 bytes).
//
//	ip link add AIF netns A type veth peer name BIF netns B
func LinkNamespaces(aNS, aIf, bNS, bIf string) error {
	if len(aIf) > 15 || len(bIf) > 15 || aIf == "" || bIf == "" {
		return errors.New("interface names must be 1 to 15 bytes")
	}
	if _, err := ip("link", "add", aIf, "netns", aNS, "type", "veth", "peer", "name", bIf, "netns", bNS); err != nil {
		return err
	}
	for _, e := range []struct{ ns, ifname string }{{aNS, aIf}, {bNS, bIf}} {
		if _, err := ip("-n", e.ns, "link", "set", e.ifname, "up"); err != nil {
			return err
		}
	}
	return nil
}

// NamespaceExists reports whether a named network namespace ns exists.
func NamespaceExists(ns string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, ns))
	return err == nil
}

// Namespaces returns the names of the named network namespaces that start
// with prefix.
func Namespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// RemoveNamespace ends every process left in ns, then deletes it (and with
// it its end of every veth pair). With a grace period the processes get
// SIGTERM first and SIGKILL only if they are still there when it ends, so
// a daemon can save its state; with none they get SIGKILL at once. A
// namespace that no longer exists is not an error.
//
//	kill [-TERM] $(ip netns pids NS); kill -9 $(ip netns pids NS); ip netns del NS
func RemoveNamespace(ns string, grace time.Duration) error {
	if !NamespaceExists(ns) {
		return nil
	}
	if grace > 0 {
		pids, err := namespacePIDs(ns)
		if err != nil {
			return err
		}
		signal(pids, syscall.SIGTERM)
		waitEmpty(ns, len(pids), grace)
	}
	pids, err := namespacePIDs(ns)
	if err != nil {
		return err
	}
	signal(pids, syscall.SIGKILL)
	// Wait (briefly) for the kills to land so that nothing outlives the
	// namespace's name; a zombie whose parent is elsewhere may linger and
	// is harmless.
	waitEmpty(ns, len(pids), 2*time.Second)
	if _, err := ip("netns", "del", ns); err != nil {
		return err
	}
	return nil
}

// namespacePIDs lists the processes running in ns.
//
//	ip netns pids NS
func namespacePIDs(ns string) ([]int, error) {
	out, err := ip("netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, s := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(s); err == nil && pid > 1 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func signal(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// waitEmpty waits up to timeout for ns to hold no process; had is how many
// it held when signalled (none: nothing to wait for).
func waitEmpty(ns string, had int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); had > 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pids, err := namespacePIDs(ns); err != nil || len(pids) == 0 {
			return
		}
	}
}
