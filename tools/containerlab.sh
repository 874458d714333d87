#!/usr/bin/env bash
# Builds containerlab CLAB_VERSION into OUT (make's $(TOOLS)/containerlab).
#
# usage: tools/containerlab.sh OUT [WORKDIR]
#
# containerlab is not built from tools/go.mod like the other tools:
# - `go install github.com/srl-labs/containerlab@v0.60.0` is refused (its
#   go.mod has replace directives, and the proxy refuses a version list of
#   one of its dependencies, inet.af/netaddr, whose vanity host is gone);
#   building its own module with that dependency replaced by its GitHub
#   path works;
# - containerlab 0.60 reads /proc/modules to see whether a kernel module is
#   loaded and fails when the file is missing. A kernel built without
#   loadable modules (these CI machines' kernel) has no /proc/modules:
#   everything it has is built in. The patch below makes a missing
#   /proc/modules mean "built in" instead of an error.
# Its module source is copied from the module cache into WORKDIR (default
# build/containerlab-src), edited there and built with -mod=mod, so the
# module cache is never written to.
set -euo pipefail

CLAB_VERSION=${CLAB_VERSION:-v0.60.0}
NETADDR=github.com/inetaf/netaddr@v0.0.0-20230525184311-b8eac61e914a
out=${1:?usage: tools/containerlab.sh OUT [WORKDIR]}
work=${2:-build/containerlab-src}
go=${GO:-go}

dir=$("$go" mod download -json "github.com/srl-labs/containerlab@$CLAB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "containerlab.sh: go mod download gave no directory for containerlab@$CLAB_VERSION" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$(dirname "$work")"
cp -r "$dir" "$work"
chmod -R u+w "$work"
cd "$work"

"$go" mod edit -replace "inet.af/netaddr=$NETADDR"

# The /proc/modules patch (see above). Applied by inserting a check right
# after the os.Open; the grep proves it landed, so an upstream change to
# that line fails here instead of building an unpatched binary.
f=utils/kernel_module.go
sed -i 's|^\tf, err := os.Open("/proc/modules")$|&\n\tif os.IsNotExist(err) {\n\t\treturn true, nil // no loadable modules: everything is built in\n\t}|' "$f"
grep -q 'no loadable modules: everything is built in' "$f" || { echo "containerlab.sh: patching $f failed" >&2; exit 1; }

# Flags and tags as containerlab's release build (.goreleaser.yml) sets them.
ldflags="-s -w -X github.com/srl-labs/containerlab/cmd.version=${CLAB_VERSION#v}"
tags="podman exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper exclude_graphdriver_overlay containers_image_openpgp"
case "$out" in /*) ;; *) out=$OLDPWD/$out ;; esac
GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out" .
echo "built $out (containerlab $CLAB_VERSION)"
