# jplan's build. `make demo` runs the main job; `make test` runs every test
# (CI runs exactly that through .ci/run).
GO      ?= go
BIN     := bin/jplan
FUZZTIME ?= 15s

.PHONY: all build test lint examples unit fuzz demo demo-memory cluster-image cluster-up cluster-down docs clean

all: build

# jplan, and the static helpers it uploads to nodes for some faults.
build:
	$(GO) build -o $(BIN) ./cmd/jplan
	CGO_ENABLED=0 $(GO) build -o bin/jplan-agent ./cmd/jplan-agent
	CGO_ENABLED=0 $(GO) build -o bin/jplan-faultfs ./cmd/jplan-faultfs

# Every test: formatting and vet, the examples, unit and integration tests
# (integration tests need Docker; JPLAN_REQUIRE_DOCKER=1 makes them fail
# instead of skip when it is missing), and a bounded fuzzing run.
test: lint examples unit fuzz

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The examples must stay valid and formatted.
examples: build
	$(BIN) validate examples/
	$(BIN) fmt -check examples/

unit:
	./scripts/ensure-chromium.sh && $(GO) test -count=1 -timeout 45m ./...

# Fuzz parse+validate for a bounded time; a crash fails the build and
# leaves the input under testdata/fuzz for a regression test.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzValidate$$' -fuzztime=$(FUZZTIME) ./eval

# The main job: a local 5-node Debian cluster in Docker (the node image is
# built here with debootstrap on first use; no registry needed), then the
# etcd example on it: a register under partitions and crashes, checked for
# linearizability. The report is in store/etcd-register/latest/report.html.
demo: build
	$(BIN) validate examples/
	$(BIN) cluster up
	$(BIN) run --nodes-file .cluster/nodes.json examples/etcd.hcl

# No Docker? The same pipeline on jplan's in-memory register: linearizable,
# then with stale reads, which the checker must catch.
demo-memory: build
	$(BIN) run examples/memory.hcl
	-$(BIN) run -var stale_reads=true examples/memory.hcl

cluster-image:
	./scripts/cluster/build-image.sh

cluster-up: build
	$(BIN) cluster up

cluster-down: build
	$(BIN) cluster down

# Regenerate the function reference in docs/language.md.
docs:
	$(GO) run ./builtins/internal/gendoc

clean:
	rm -rf bin
