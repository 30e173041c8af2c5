# jplan's build. `make demo` runs the main job; `make test` runs every test
# (CI runs exactly that through .ci/run).
GO      ?= go
BIN     := bin/jplan
FUZZTIME ?= 15s

.PHONY: all build test lint examples unit fuzz demo docs clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/jplan

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
	$(GO) test -count=1 -timeout 45m ./...

# Fuzz parse+validate for a bounded time; a crash fails the build and
# leaves the input under testdata/fuzz for a regression test.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzValidate$$' -fuzztime=$(FUZZTIME) ./eval

# The main job: the examples validated, then a real run of the in-memory
# register — once linearizable, once with stale reads, which the checker
# must catch. (The cluster demo replaces this when the cluster runner
# lands.)
demo: build
	$(BIN) validate examples/
	$(BIN) run --store store examples/memory.hcl
	-$(BIN) run --store store -var stale_reads=true examples/memory.hcl
	@echo
	@echo "Reports: store/memory-register/*/report.html"

# Regenerate the function reference in docs/language.md.
docs:
	$(GO) run ./builtins/internal/gendoc

clean:
	rm -rf bin
