// Package labs will run containerlab topology files without Docker, in
// network namespaces joined by veth pairs, and the VM runner for kernel
// tests. Nothing is implemented yet; see the project's issue "Labs and
// operations".
package labs
