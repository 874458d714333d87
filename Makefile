# Peregrine's build. `make help` lists the targets.
GO        ?= go
BIN       ?= bin
TOOLS     ?= $(BIN)/tools
FUZZTIME  ?= 60s
PKGS      := ./...

.PHONY: clab-test bench-vm vm-test demo-down walk all build test test-short bench fuzz lint tools demo clean help interop-bgp interop-ike e2e bench-lab bench-bgp bench-bgp-ce bench-scale bench-scale-vm soak

all: build

help:
	@echo "make demo      two PEs, an FRR route reflector, four FRR CEs in namespaces: BGP, ESP, pings, verdict (root)"
	@echo "make demo-down remove the demo lab"
	@echo "make walk      follow one packet through the MPLS and ESP engines"
	@echo "make test      lint, then every test with the race detector (what CI runs)"
	@echo "make build     build bin/peregrined, bin/peregrine and the lab runner bin/peregrine-lab"
	@echo "make bench     run the benchmarks (ESP against raw AEAD, MPLS ops)"
	@echo "make fuzz      run every fuzz target for FUZZTIME (default 60s) each"
	@echo "make lint      gofmt, go vet, staticcheck"
	@echo "make interop-bgp  Peregrine against FRR, BIRD and gobgpd in namespaces (root)"
	@echo "make vm-test   the kernel backend's tests in a qemu VM with Debian's kernel"
	@echo "make clab-test the containerlab topologies deployed by containerlab with Docker, checked (root; apt: docker.io debootstrap jq)"
	@echo "make e2e       two PEs and four CEs in namespaces: ping, TCP, isolation, nothing in clear (root)"
	@echo "make interop-ike  Peregrine's IKEv2 against strongSwan in namespaces (root)"
	@echo "make bench-scale  cost of a userspace-backend peregrined per VRF count: CSV and plot in build/bench-scale (root)"
	@echo "make bench-scale PES=16  the many-PE lab: 16 PEs x VRFS_PER_PE (50) VRFs, two FRR RRs: convergence, RR UPDATEs/s, RSS per PE, pings (root)"
	@echo "make bench-scale-vm  the same for the kernel backend in the qemu VM: build/bench-scale-vm"
	@echo "make bench-bgp BGP import time, CPU and memory per route against gobgpd, FRR and BIRD"
	@echo "make bench-bgp-ce PE-CE: a gobgpd CE's BENCH_N routes to a gobgpd RR as VPNv4, Peregrine's PE against gobgpd's"
	@echo "make soak      two IKE-keyed PEs for SOAK (30m) under route flaps, reloads, rekeys, pings and iperf3: lost pings, restarts, resource slopes (root)"
	@echo "make bench-lab CE-to-CE iperf3 through Peregrine vs kernel forwarding vs wireguard-go (root); BEFORE=REV adds REV's peregrined"
	@echo "make tools     build staticcheck, gobgpd, wireguard-go and containerlab into bin/tools"

build:
	$(GO) build -o $(BIN)/ ./cmd/peregrined ./cmd/peregrine ./cmd/peregrine-lab

test: lint
	$(GO) test -race -count=1 -timeout 45m $(PKGS)
	# GoBGP v3.37.0 races marking a restarting neighbor's paths stale
	# (bgp/graceful_test.go says where): its graceful-restart tests skip
	# under -race and run here without it. So do the tests that a stopped
	# GoBGP server lets go of its RIB: race builds leave that out
	# (bgp/ribrelease_race.go says why).
	$(GO) test -count=1 -run 'TestGracefulRestart|TestStopReleasesRoutes|TestCEServerRemovalReleasesRoutes' ./bgp/
	$(MAKE) vm-test
	$(MAKE) clab-test

# The kernel backend's tests in a qemu VM booting Debian's linux-image-amd64
# (MPLS, VRF, XFRM and AH, which this host's kernel lacks). Needs
# qemu-system-x86 (apt); downloads the kernel into build/vm once.
VM_PKGS ?= ./labs/vm ./fib/kernel ./ipsec/ah
VM_CMDS ?= ./cmd/peregrined
vm-test:
	$(GO) run ./labs/vm -timeout 40m $(addprefix -pkg ,$(VM_PKGS)) $(addprefix -cmd ,$(VM_CMDS))

# The kernel backend programming and withdrawing 100,000 VRF routes next
# to ip -batch (speedups over it, medians of 3 rounds), in
# the VM. Not run by CI.
bench-vm:
	$(GO) run ./labs/vm -m 2048 -bench . -pkg ./fib/kernel

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Peregrine's BGP against real FRR, BIRD and gobgpd in network namespaces.
interop-bgp: $(TOOLS)/gobgpd
	$(GO) test -race -count=1 -v ./labs/interop/ ./labs/peers/

# wireguard-go (the module's root package) is bench-lab's reference. Keep the
# explicit file name: -o DIR/ would name it "wireguard".
$(TOOLS)/wireguard-go: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(TOOLS)/wireguard-go golang.zx2c4.com/wireguard

# CE-to-CE TCP throughput in network namespaces (root; apt: iperf3
# wireguard-tools, both installed by .ci/run).
# Not run by CI. e.g. make bench-lab BENCHLAB_FLAGS="-t 5 -rounds 5"
# BEFORE=REV (a commit, tag or branch) also builds cmd/peregrined of REV,
# from `git archive` into build/before/, and runs it as variant
# peregrine-before, alternating with the tree's binary in every round;
# the report ends with before/after lines (throughput and CPU, ratios to
# before). e.g. make bench-lab BEFORE=c7c10e4
BEFORE ?=
bench-lab: $(TOOLS)/wireguard-go
	$(GO) build -o $(BIN)/benchlab ./labs/benchlab
ifneq ($(BEFORE),)
	rm -rf build/before && mkdir -p build/before/src
	git archive --format=tar "$$(git rev-parse --verify '$(BEFORE)^{commit}')" | tar -x -C build/before/src
	cd build/before/src && $(GO) build -o ../peregrined ./cmd/peregrined
endif
	$(BIN)/benchlab -wireguard-go $(abspath $(TOOLS))/wireguard-go $(if $(BEFORE),-peregrined-before $(abspath build/before/peregrined)) $(BENCHLAB_FLAGS)

# What a userspace-backend peregrined costs per VRF count: bring-up,
# reload, RSS, heap, threads, goroutines, pings through the first and last
# VRF (root; gnuplot-nox for the plot). Not run by CI.
# e.g. make bench-scale VRFS="0 100 500"
# With PES, the many-PE lab instead (labs/scalebench/pes.go): PES PEs of
# VRFS_PER_PE VRFs each, two FRR route reflectors, manual-key ESP between
# every pair; convergence time, UPDATEs/s at each RR, RSS and CPU per PE,
# pings with isolation. e.g. make bench-scale PES=16
VRFS ?= 0 100 500 1000 2000
PES ?=
VRFS_PER_PE ?= 50
bench-scale: build $(TOOLS)/gobgpd
	$(GO) run ./labs/scalebench $(if $(PES),-pes $(PES) -vrfs-per-pe $(VRFS_PER_PE),-vrfs "$(VRFS)") -peregrined $(abspath $(BIN))/peregrined -out build/bench-scale

# bench-scale's kernel half: a kernel-backend peregrined per VRF count
# (VRF devices, CE dummies, 10 static routes and one imported VPNv4 route
# each) in the qemu VM; emulated (TCG), so read the growth per VRF, not the
# absolute times. CSV and plot in build/bench-scale-vm. Not run by CI.
# e.g. make bench-scale-vm SCALE_VM_VRFS="100 500"
SCALE_VM_VRFS ?= 100 500 1000 2000
bench-scale-vm:
	$(GO) run ./labs/vm -m 3072 -timeout 150m -bench KernelScale -pkg ./fib/kernel -cmd ./cmd/peregrined \
		-env 'PEREGRINE_SCALE_VRFS=$(SCALE_VM_VRFS)' -out build/bench-scale-vm
	$(GO) run ./labs/scalebench -plot build/bench-scale-vm/scale.csv -title 'kernel backend, qemu TCG'

# The long run (labs/soak/doc.go): the two-PE IKE lab for SOAK with a
# gobgpd flapping 10,000 VPNv4 routes, pings at 100/s and an iperf3
# stream in both VRFs, a VRF added or removed by SIGHUP every minute,
# children rekeyed every 30 s, the IKE SA every 5 min; /metrics sampled
# every 10 s. Writes build/soak/summary.txt, soak.csv and soak.png
# (gnuplot-nox). Root; not run by make test or CI. e.g. make soak SOAK=3m
SOAK         ?= 30m
SOAK_TIMEOUT ?= 3h
soak: $(TOOLS)/gobgpd
	SOAK=$(SOAK) $(GO) test -count=1 -v -timeout $(SOAK_TIMEOUT) -run '^TestSoak$$' ./labs/soak/

# Peregrine's BGP import time for BENCH_N VPNv4 routes from a gobgpd peer,
# next to a second gobgpd, FRR's bgpd and BIRD 2 (where installed;
# BENCH_FLAGS=-field=false leaves them out) receiving the same routes in the
# same run, each with its wall and CPU time against gobgpd's and its settled
# RSS per route; three runs, judged by their medians (-runs). e.g. make
# bench-bgp BENCH_N=1000000 BENCH_FLAGS=-runs=1 (a run of a million routes
# takes minutes here).
BENCH_N     ?= 100000
BENCH_FLAGS ?=
bench-bgp: build $(TOOLS)/gobgpd
	$(GO) run ./labs/bgpbench -n $(BENCH_N) -peregrined $(abspath $(BIN))/peregrined -gobgpd $(abspath $(TOOLS))/gobgpd $(BENCH_FLAGS)

# PE-CE mode (-mode pece): a gobgpd CE announces BENCH_N IPv4 prefixes to
# a PE's VRF, timed until a gobgpd route reflector holds them all as VPNv4;
# the PE is Peregrine's speaker (in the benchmark's process), then gobgpd
# with the same VRF, alternating, three runs of each, judged by medians.
# e.g. make bench-bgp-ce BENCH_N=200 BENCH_FLAGS=-runs=1 for a quick run.
bench-bgp-ce: $(TOOLS)/gobgpd
	$(GO) run ./labs/bgpbench -mode pece -n $(BENCH_N) -gobgpd $(abspath $(TOOLS))/gobgpd $(BENCH_FLAGS)

# Two PEs, four CEs in VRFs red and blue, ESP on the core (root).
e2e:
	$(GO) test -race -count=1 -v -run E2E ./labs/interop/

# Peregrine's IKEv2 against strongSwan in namespaces (root; apt: charon-systemd).
# IKEv2 against strongSwan (rekeys under traffic, wrong PSK, cookie flood),
# then two peregrined keyed by IKE carrying VPN traffic (root; apt: see .ci/run).
interop-ike:
	$(GO) test -race -count=1 -v ./ipsec/ike/interop/
	$(GO) test -race -count=1 -v -run E2EIKE ./labs/interop/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

# Each fuzz target runs on its own: go test accepts one -fuzz pattern per package.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

lint: $(TOOLS)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(TOOLS)/staticcheck $(PKGS)

tools: $(TOOLS)/staticcheck $(TOOLS)/gobgpd $(TOOLS)/wireguard-go $(TOOLS)/containerlab

# Built from tools/go.mod: `go install ...@version` is refused by the module
# proxy here for some modules, and a pinned go.sum is better anyway.
$(TOOLS)/staticcheck: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(TOOLS)/ honnef.co/go/tools/cmd/staticcheck

# gobgpd and gobgp are test peers for the BGP interop tests.
$(TOOLS)/gobgpd: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(TOOLS)/ github.com/osrg/gobgp/v3/cmd/gobgpd github.com/osrg/gobgp/v3/cmd/gobgp

# containerlab, for make clab-test: built from its own module with one
# dependency replaced and one file patched; tools/containerlab.sh says why.
# The binary is kept in build/ (a clean bin/ copies it back) and its module
# source is copied to build/containerlab-src.
CLAB_VERSION ?= v0.60.0
CLAB_CACHED  := build/containerlab-$(CLAB_VERSION)
$(TOOLS)/containerlab: $(CLAB_CACHED)
	@mkdir -p $(TOOLS)
	cp $< $@
$(CLAB_CACHED): tools/containerlab.sh
	CLAB_VERSION=$(CLAB_VERSION) GO=$(GO) tools/containerlab.sh $@ build/containerlab-src

# Every containerlab/*/*.clab.yml deployed by containerlab with Docker, from
# the image containerlab/Dockerfile builds, and checked as make demo checks
# (peregrine-lab check -docker); then a lab with broken node configs must
# fail naming peregrined's errors. A private dockerd with its data root in
# build/clab (the images: a second run takes about a minute); the host's
# Docker is not touched. Skips, naming the package, without root, docker.io,
# debootstrap or jq; containerlab is built only when the rest is there.
# CLAB_FLAGS=-broken runs only the broken lab, expecting it to pass (to see
# the failure); CLAB_TOPOS= picks topology files.
CLAB_FLAGS ?=
CLAB_TOPOS ?=
clab-test: build
	CLAB=$(TOOLS)/containerlab CLAB_BUILD='$(MAKE) --no-print-directory $(TOOLS)/containerlab' \
	  PEREGRINE_LAB=$(BIN)/peregrine-lab containerlab/clab-test.sh $(CLAB_FLAGS) $(CLAB_TOPOS)

# The main job: the l3vpn-ipsec containerlab topology in network namespaces
# (no Docker), BGP through an FRR route reflector, FRR CEs with eBGP to
# their PE (as-override: every site is AS 65100), pings CE loopback to
# loopback in both VRFs (IPv4, IPv6) across the ESP core, the CE sessions,
# show output and a verdict. The lab stays up
# until `make demo-down`; DEMO_FLAGS=-destroy removes it at the end.
DEMO_TOPO  ?= containerlab/l3vpn-ipsec/l3vpn-ipsec.clab.yml
DEMO_FLAGS ?=
demo: build
	@chmod 600 $(dir $(DEMO_TOPO))*/*.key  # git keeps no file modes; peregrined insists on 0600
	$(BIN)/peregrine-lab demo -t $(DEMO_TOPO) $(DEMO_FLAGS)

demo-down: build
	$(BIN)/peregrine-lab destroy -t $(DEMO_TOPO)

# Follow one packet through the MPLS and ESP engines, checked by tshark.
walk: build
	$(BIN)/peregrine walk

clean:
	rm -rf $(BIN)
