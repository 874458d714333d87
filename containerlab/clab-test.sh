#!/usr/bin/env bash
# clab-test: the repository's containerlab topologies deployed for real, by
# containerlab with Docker, from the image containerlab/Dockerfile builds,
# and checked as `make demo` checks the Docker-free runner's labs.
#
# usage: containerlab/clab-test.sh [-broken] [TOPOLOGY.clab.yml ...]
#   (default: every containerlab/*/*.clab.yml, then the broken-config
#   self-test)
#   -broken  deploy l3vpn-ipsec with pe1's config spoiled (an unknown key in
#            a VRF) and pe2's key file readable by others, and expect it to
#            pass: it must fail, with peregrined's own error lines.
#
# Run from the repository root, as root (make clab-test). Environment:
#   CLAB_CACHE  cache directory (build/clab): the private dockerd's data
#               root (the images), the base images' root filesystems, the
#               labs' working copies
#   CLAB        containerlab binary (bin/tools/containerlab)
#   CLAB_BUILD  command that builds $CLAB if it is missing (make sets it)
#   PEREGRINE_LAB  the lab runner, whose `check -docker` is the verdict
#               (bin/peregrine-lab)
#   CLAB_GOPROXY_PORT  loopback port serving the host's module cache to the
#               image build (47613)
#
# What it does, and leaves behind:
#   1. starts a private dockerd (its own data root, exec root, socket and
#      pid file, no docker0 bridge, no iptables or sysctl changes) whose
#      default runtime is runc-nosysresource; the host's Docker, if any, is
#      not touched;
#   2. makes the base images the topologies and the Dockerfile name, where
#      missing, from Debian packages (debootstrap; no registry needed):
#      debian:12-slim, golang:1.26 (that plus this host's Go), alpine:3.20
#      (the CEs: a Debian root with iproute2 and ping that sleeps), and
#      quay.io/frrouting/frr:8.4.4 (Debian's FRR 8.4.4);
#   3. builds peregrine:latest from containerlab/Dockerfile;
#   4. per topology: copies its directory (key files 0600, which git does
#      not keep), `containerlab deploy`, `peregrine-lab check -docker`,
#      `containerlab destroy --cleanup`;
#   5. on exit, whatever happened: destroys the labs, stops dockerd and
#      removes its exec root. Images stay in the cache: a second run takes
#      about a minute.
set -euo pipefail

say() { echo "clab-test: $*"; }
skip() {
	say "SKIP: $*"
	exit 0
}
die() {
	say "FAIL: $*" >&2
	exit 1
}

broken=0
topos=()
for a in "$@"; do
	case "$a" in
	-broken) broken=1 ;;
	-*) die "unknown flag $a (usage: clab-test.sh [-broken] [TOPOLOGY.clab.yml ...])" ;;
	*) topos+=("$a") ;;
	esac
done

root=$(pwd)
[ -f containerlab/Dockerfile ] || die "run from the repository root"
cache=$(realpath -m "${CLAB_CACHE:-build/clab}")
clab=$(realpath -m "${CLAB:-bin/tools/containerlab}")
peregrine_lab=$(realpath -m "${PEREGRINE_LAB:-bin/peregrine-lab}")

# What cannot run here skips, naming what is missing.
[ "$(id -u)" = 0 ] || skip "needs root (dockerd, containerlab)"
for t in dockerd runc containerd; do
	command -v $t >/dev/null || skip "no $t (apt-get install docker.io)"
done
command -v debootstrap >/dev/null || skip "no debootstrap (apt-get install debootstrap)"
command -v jq >/dev/null || skip "no jq (apt-get install jq): runc-nosysresource edits runc's JSON with it"
# Built only now that everything else is known to be here.
if [ ! -x "$clab" ] && [ -n "${CLAB_BUILD:-}" ]; then
	say "building containerlab: $CLAB_BUILD"
	$CLAB_BUILD
fi
[ -x "$clab" ] || die "no containerlab at $clab (make bin/tools/containerlab)"
[ -x "$peregrine_lab" ] || die "no lab runner at $peregrine_lab (make build)"
# The docker CLI of the docker.io package, which matches its dockerd.
docker=$(dirname "$(command -v dockerd)")/../bin/docker
[ -x "$docker" ] || docker=$(command -v docker) || skip "no docker CLI (apt-get install docker.io)"

if [ ${#topos[@]} -eq 0 ] && [ $broken = 0 ]; then
	topos=(containerlab/*/*.clab.yml)
	selftest=1
else
	selftest=0
fi

start=$(date +%s)
mkdir -p "$cache"
# dockerd's data root holds images' Go trees (golang:1.26's GOROOT and
# module cache); a go.mod of its own keeps them out of `go ... ./...`
# run at the top of the repository after this test.
[ -e "$cache/go.mod" ] || printf 'module peregrine.invalid/clabcache\n' >"$cache/go.mod"
# The exec root holds unix sockets: keep its path short.
run=$(mktemp -d /run/pgclab.XXXX)
export DOCKER_HOST=unix://$run/docker.sock
deployed=()
dockerd_pid=
goproxy_pid=
port=

cleanup() {
	local rc=$?
	set +e
	for t in "${deployed[@]}"; do
		[ -n "$t" ] || continue
		"$clab" destroy -t "$t" --cleanup >/dev/null 2>&1 || say "destroy $t failed"
	done
	[ -z "$goproxy_pid" ] || kill "$goproxy_pid" 2>/dev/null
	if [ -n "$dockerd_pid" ]; then
		# Anything a crashed earlier step left in the private daemon.
		ids=$("$docker" ps -aq 2>/dev/null)
		[ -n "$ids" ] && "$docker" rm -f $ids >/dev/null 2>&1
		# A network's bridge lives in this host's namespace and outlives
		# the daemon: remove the networks (containerlab's "clab") first.
		"$docker" network prune -f >/dev/null 2>&1
		kill -TERM "$dockerd_pid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$dockerd_pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$dockerd_pid" 2>/dev/null; then
			say "dockerd $dockerd_pid did not stop; killing it"
			kill -KILL "$dockerd_pid"
		fi
	fi
	# dockerd unmounts its overlays on a clean stop; a killed one may not.
	grep -o " $run[^ ]*\| $cache/docker[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$run"
	say "done in $(($(date +%s) - start)) s (exit $rc)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The private dockerd.
runtime=$root/containerlab/runc-nosysresource
say "starting a private dockerd (data root $cache/docker, socket $run/docker.sock)"
dockerd --data-root "$cache/docker" --exec-root "$run/exec" -H "$DOCKER_HOST" \
	--pidfile "$run/docker.pid" --bridge=none --iptables=false --ip-forward=false \
	--ip-masq=false --userland-proxy=false --storage-driver=overlay2 \
	--add-runtime "nosysresource=$runtime" --default-runtime=nosysresource \
	>"$cache/dockerd.log" 2>&1 &
dockerd_pid=$!
for i in $(seq 1 150); do
	"$docker" version >/dev/null 2>&1 && break
	kill -0 $dockerd_pid 2>/dev/null || die "dockerd exited: $(tail -5 "$cache/dockerd.log")"
	[ "$i" = 150 ] && die "dockerd did not answer within 30 s: $(tail -5 "$cache/dockerd.log")"
	sleep 0.2
done
# A run killed before its cleanup leaves containers in the data root.
ids=$("$docker" ps -aq)
[ -z "$ids" ] || "$docker" rm -f $ids >/dev/null

# 2. Base images from Debian packages, each made once and kept in the data
# root. The root filesystems are cached as tarballs: a data root wiped by
# hand is refilled in seconds.
mirror=http://deb.debian.org/debian
rootfs() { # rootfs NAME PACKAGES: $cache/rootfs-NAME.tar
	local name=$1 pkgs=$2 dir=$cache/rootfs-$1
	if [ ! -s "$cache/rootfs-$name.tar" ]; then
		say "debootstrap bookworm ($name: ${pkgs:-minbase})" >&2 # stdout is the result
		rm -rf "$dir"
		debootstrap --variant=minbase ${pkgs:+--include=$pkgs} bookworm "$dir" "$mirror" >"$cache/debootstrap-$name.log" 2>&1 ||
			die "debootstrap $name failed: $(tail -5 "$cache/debootstrap-$name.log")"
		# TLS to the module proxy from inside a build needs the CAs.
		mkdir -p "$dir/etc/ssl/certs"
		cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
		rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*_Packages
		tar -C "$dir" -cf "$cache/rootfs-$name.tar.tmp" .
		mv "$cache/rootfs-$name.tar.tmp" "$cache/rootfs-$name.tar"
		rm -rf "$dir"
	fi
	echo "$cache/rootfs-$name.tar"
}
has_image() { "$docker" image inspect "$1" >/dev/null 2>&1; }
path='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
if ! has_image debian:12-slim; then
	"$docker" import -c "ENV $path" -c 'CMD ["bash"]' "$(rootfs base iproute2,iputils-ping)" debian:12-slim >/dev/null
	say "image debian:12-slim made"
fi
if ! has_image alpine:3.20; then
	"$docker" import -c "ENV $path" -c 'CMD ["sleep","infinity"]' "$(rootfs base iproute2,iputils-ping)" alpine:3.20 >/dev/null
	say "image alpine:3.20 made (a Debian root with iproute2 and ping: what the CEs need)"
fi
if ! has_image golang:1.26; then
	goroot=$(go env GOROOT)
	# The rootfs with this host's Go appended at /usr/local/go.
	tmp=$(mktemp -d "$cache/golang.XXXX")
	cp "$(rootfs base iproute2,iputils-ping)" "$tmp/golang.tar"
	tar -C "$goroot/.." -rf "$tmp/golang.tar" --transform "s,^$(basename "$goroot"),usr/local/go,S" "$(basename "$goroot")"
	"$docker" import -c "ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		-c "ENV GOPATH=/go" -c 'WORKDIR /go' "$tmp/golang.tar" golang:1.26 >/dev/null
	rm -rf "$tmp"
	say "image golang:1.26 made ($(go env GOVERSION) from this host)"
fi
if ! has_image quay.io/frrouting/frr:8.4.4; then
	"$docker" import -c "ENV $path" \
		-c 'CMD ["/bin/sh","-c","/usr/lib/frr/frrinit.sh start; exec sleep infinity"]' \
		"$(rootfs frr frr,iproute2,iputils-ping)" quay.io/frrouting/frr:8.4.4 >/dev/null
	say "image quay.io/frrouting/frr:8.4.4 made (Debian's FRR 8.4.4)"
fi

# 3. The image, from the repository's Dockerfile. --network host: the
# daemon has no bridge; the build reaches apt and the module proxy as this
# host does. The modules come from this host's module cache where it has
# them (make build has just filled it), served on loopback as a GOPROXY
# (its download directory has a proxy's layout), else from the proxy.
build_args=(--build-arg "VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)")
modcache=$(go env GOMODCACHE)/cache/download
# A fixed port: the GOPROXY build argument is part of the build cache's
# key, so a new port each run would rebuild the image each run.
gp_port=${CLAB_GOPROXY_PORT:-47613}
if command -v python3 >/dev/null && [ -d "$modcache" ]; then
	python3 -u -m http.server --bind 127.0.0.1 --directory "$modcache" "$gp_port" >"$cache/goproxy.log" 2>&1 &
	goproxy_pid=$!
	for _ in $(seq 1 50); do
		grep -q "Serving HTTP" "$cache/goproxy.log" && port=$gp_port && break
		kill -0 $goproxy_pid 2>/dev/null || break # the port is taken: use the public proxy
		sleep 0.1
	done
	[ -n "$port" ] && build_args+=(--build-arg "GOPROXY=http://127.0.0.1:$port,https://proxy.golang.org,direct")
fi
say "docker build -t peregrine:latest -f containerlab/Dockerfile . ${port:+(modules: the host module cache on 127.0.0.1:$port)}"
t0=$(date +%s)
"$docker" build --network host "${build_args[@]}" -t peregrine:latest -f containerlab/Dockerfile . >"$cache/build.log" 2>&1 ||
	die "docker build failed: $(tail -20 "$cache/build.log")"
say "image peregrine:latest built in $(($(date +%s) - t0)) s"

# 4. The labs. Each runs from a copy of its directory: key files must be
# 0600, and containerlab writes its lab directory next to the file.
copy_lab() { # copy_lab TOPOLOGY: prints the copy's topology file
	local src dir
	src=$(dirname "$1")
	dir=$cache/labs/$(basename "$src")
	rm -rf "$dir"
	mkdir -p "$cache/labs"
	cp -r "$src" "$dir"
	find "$dir" -name '*.key' -exec chmod 600 {} +
	echo "$dir/$(basename "$1")"
}

# lab TOPOLOGY: deploy, check, destroy; returns the check's status.
lab() {
	local t=$1 rc=0
	say "== $(basename "$t")"
	deployed+=("$t")
	t0=$(date +%s)
	if ! "$clab" deploy -t "$t" --reconfigure >"$t.deploy.log" 2>&1; then
		say "containerlab deploy failed: $(grep -i 'erro\|fata' "$t.deploy.log" | tail -5)"
		rc=1
	else
		say "deployed in $(($(date +%s) - t0)) s"
	fi
	# The verdict: what make demo checks, through docker exec. It also
	# reports a node whose daemon is not running, with its last lines.
	"$peregrine_lab" check -docker "$docker" -t "$t" || rc=1
	"$clab" destroy -t "$t" --cleanup >/dev/null 2>&1 || say "destroy $(basename "$t") failed"
	deployed=("${deployed[@]/$t/}")
	return $rc
}

# The broken copy: an unknown key in one PE's config, a key file others
# may read in the other's. Both must stop the daemon, and say so.
spoil() { # spoil COPY-TOPOLOGY
	local dir
	dir=$(dirname "$1")
	sed -i 's/^    interfaces: \[eth1\]$/&\n    colour: red/' "$dir/pe1/peregrined.yml"
	grep -q 'colour: red' "$dir/pe1/peregrined.yml" || die "spoiling pe1's config failed"
	chmod 644 "$dir/pe2/from-pe1.key"
}
spoiled_messages=('vrfs[0].colour: unknown key' 'key-file: "from-pe1.key": mode 0644 lets others read it')

failed=0
for t in "${topos[@]}"; do
	c=$(copy_lab "$t")
	lab "$c" || failed=1
done
if [ $broken = 1 ]; then
	c=$(copy_lab containerlab/l3vpn-ipsec/l3vpn-ipsec.clab.yml)
	spoil "$c"
	lab "$c" || failed=1
fi
if [ $selftest = 1 ]; then
	say "== self-test: l3vpn-ipsec with a broken pe1 and pe2 must fail, with peregrined's own words"
	c=$(copy_lab containerlab/l3vpn-ipsec/l3vpn-ipsec.clab.yml)
	spoil "$c"
	deployed+=("$c") # lab runs in a subshell here: the trap must know
	out=$(lab "$c" 2>&1) && die "the broken lab passed the check:\n$out"
	echo "$out" | sed 's/^/  | /'
	for m in "${spoiled_messages[@]}"; do
		grep -qF "$m" <<<"$out" || die "the broken lab's output lacks peregrined's line \"$m\""
	done
	say "self-test: the broken lab failed, naming both errors"
fi
[ $failed = 0 ] || die "see above"
say "PASS: ${#topos[@]} topologies deployed by containerlab $("$clab" version 2>/dev/null | awk '/version:/{print $2}') and checked"
