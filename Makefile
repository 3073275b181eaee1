# Two commands, any machine with Go: `make run` and `make test`.
GO        ?= go
# An execution count, not a duration: Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" failure when a -fuzztime duration ends
# under CPU contention (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME  ?= 30000x
# Fuzz targets run briefly by `make test` (package:target); seeds are committed
# under each package's testdata/fuzz.
FUZZ_TARGETS = ./gateway/template:FuzzCheck ./gateway/auth:FuzzVerifyAccess ./gateway/auth:FuzzParseRefreshToken ./gateway:FuzzDecodeJSON ./gateway/webhook:FuzzParse ./gateway/app:FuzzNormalizeEmail ./gateway/media:FuzzReceive ./gateway/media:FuzzReadFiles ./gateway/exotelhook:FuzzParse ./gateway:FuzzNormalizePhone ./actors/agentsession:FuzzParseFrame ./persistence/sealed:FuzzOpen ./cluster:FuzzDecodeEnvelope

# golangci-lint, pinned: `go run` builds it once into the module cache, so a
# fresh machine needs nothing installed by hand.
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.PHONY: run test test-unit test-faults test-console test-cluster test-sqlite-cgo fuzz vet lint cover build bench bench-quick clean proto

# A development admin is created when none is configured, so a newcomer can
# log in at once (development only; set your own for anything shared).
run:
	ADMIN_EMAIL="$${ADMIN_EMAIL:-admin@example.com}" ADMIN_PASSWORD="$${ADMIN_PASSWORD:-change-me-now}" $(GO) run ./cmd/engine

build:
	$(GO) build -o bin/engine ./cmd/engine

test: vet test-unit fuzz

# The bench is a module of its own (bench/go.mod), so its peers' modules stay
# out of the engine's; vet and test cover both modules.
vet:
	$(GO) vet ./...
	$(GO) vet -tags faults ./cmd/engine/faults/
	$(GO) vet -tags multinode ./cluster/
	$(GO) vet -tags browser ./gateway/console/e2e/
	cd bench && $(GO) vet ./...

# -parallel 4: cmd/engine's end-to-end tests mostly wait on timers and the
# sandboxes, so more of them at once than the 2 cores shortens the run.
# RACE_EXEMPT: SQLite's pure-Go driver is C translated to Go; under the race
# detector (and the checkptr checks it implies) every memory access of the
# translated SQLite library (modernc.org/sqlite/lib) is instrumented and the
# store's contract suite runs about 4x slower. That one third-party package
# is built without instrumentation; every package of ours and every other
# dependency, modernc.org/libc included, is still built with -race. (Exempting
# modernc.org/libc too made the race detector report the encoding/json type
# cache, which sync.Map guards, as a race: not done.)
# grpclog too: protoactor's remote.Start swaps gRPC's global logger on every
# start (inlined into protoactor's remote, hence -l there, which stays
# instrumented), unsynchronized with the gRPC goroutines that log through it;
# the cluster's tests run several nodes, and rejoins, in one process. Nothing
# of ours touches grpclog. Run the cluster's tests with these flags.
RACE_EXEMPT = -gcflags='modernc.org/sqlite/lib=-race=false' -gcflags='google.golang.org/grpc/grpclog/...=-race=false' -gcflags='github.com/asynkron/protoactor-go/remote=-l'
# LONG_TESTS are named first: go test starts the packages' runs in the order
# they are named, and these three take about half of the run's time; last
# in line, the Mongo store's suite (FerretDB's CPU) alone set its length.
LONG_TESTS = ./persistence/mongostore/ ./cmd/engine/ ./persistence/sqlitestore/
test-unit:
	$(GO) test -race $(RACE_EXEMPT) -count=1 -parallel 4 -timeout 15m $(LONG_TESTS) ./...
	cd bench && $(GO) test -race $(RACE_EXEMPT) -count=1 -timeout 5m ./...

# The fault and attack suite (cmd/engine/faults, build tag faults): one test
# per line of the reliability list against the built engine; writes
# cmd/engine/faults/faults-report.md and .json. Run by .ci/run after make test.
test-faults:
	$(GO) test -tags faults -count=1 -timeout 15m ./cmd/engine/faults/

# The agent console's browser tests (gateway/console/e2e, build tag
# browser): headless Chromium (Debian's chromium, or CHROMIUM_PATH) driven
# by chromedp against the built engine and its sandbox; they rewrite the
# screenshots under gateway/console/e2e/screenshots. Without chromium they
# skip loudly (fail with ENGINE_REQUIRE_SERVICES=1). Run by .ci/run after
# test-faults.
test-console:
	$(GO) test -tags browser -count=1 -timeout 10m ./gateway/console/e2e/

# The multi-node tests (cluster/, build tag multinode): three engine
# processes on loopback sharing etcd, MongoDB (FerretDB on the local
# PostgreSQL), Redis and RabbitMQ; a SIGKILL, a 20 s SIGSTOP, a partition in
# network namespaces (needs root and iproute2), a rolling restart and
# sockets on every node. About two minutes. .ci/run runs them after make
# test; a failure fails the run. CLUSTERTEST_LOG_LEVEL=debug traces every
# webhook by wamid, CLUSTERTEST_KEEP_LOGS=1 keeps each node's log under /tmp
# even when the tests pass.
test-cluster:
	$(GO) test -tags multinode -count=1 -timeout 20m -v ./cluster/

# The SQLite store built on mattn/go-sqlite3 (cgo) instead of modernc (pure
# Go, the default): the same suite on the other driver, so the alternative
# the bench compares (bench/README.md) stays correct. Needs gcc; run by .ci/run.
test-sqlite-cgo:
	CGO_ENABLED=1 $(GO) test -tags sqlite_cgo,sqlite_fts5 -count=1 -timeout 10m ./persistence/sqlitestore/

# staticcheck, unused, errcheck, misspell, goimports and govet as configured in
# .golangci.yml, over both modules.
lint:
	$(GOLANGCI_LINT) run ./...
	cd bench && $(GOLANGCI_LINT) run ./...

# Statement coverage of every package by the whole suite (end-to-end tests
# count for the packages they drive), without the race detector, then the
# total. coverage.out keeps the profile (go tool cover -html=coverage.out).
cover:
	@$(GO) test -count=1 -timeout 9m -coverpkg=./... -coverprofile=coverage.out ./... > coverage.log 2>&1 || { grep -E '^(FAIL|---)' coverage.log; exit 1; }
	@tail -n +2 coverage.out | awk '{ split($$1, a, ":"); f[$$1] = a[1]; n[$$1] = $$2; if ($$3 > 0) hit[$$1] = 1 } \
		END { for (k in n) { p = f[k]; sub(/\/[^\/]*$$/, "", p); sub(/^github.com\/wacc\/engine\/?/, "", p); if (p == "") p = "."; \
			all[p] += n[k]; T += n[k]; if (hit[k]) { cov[p] += n[k]; C += n[k] } } \
			for (p in all) printf "%-45s %6.1f%%\n", p, 100 * cov[p] / all[p] | "sort"; close("sort"); \
			printf "%-45s %6.1f%%\n", "total", 100 * C / T }'

# Two targets at a time: most of each is building and linking its
# instrumented test binary, which a second core shortens; a failing
# target's output is printed whole and fails the step.
fuzz:
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P 2 -I{} sh -c '\
		pkg=$${1%%:*}; name=$${1##*:}; \
		if out=$$($(GO) test -run "^$$" -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); then \
			echo "fuzz $$pkg $$name for $(FUZZTIME): ok"; \
		else echo "$$out"; echo "fuzz $$pkg $$name for $(FUZZTIME): FAILED"; exit 1; fi' _ {}

# Load scenarios with their peers, results and charts under bench/results
# (see bench/README.md); BENCH_ARGS adds flags, e.g. BENCH_ARGS='ingest --conns 128'.
# make bench includes the 1M-conversation density run (about six minutes
# more); BENCH_DENSITY_1M=0 leaves it out.
bench:
	cd bench && BENCH_DENSITY_1M="$${BENCH_DENSITY_1M:-1}" $(GO) run . run $(BENCH_ARGS)

bench-quick:
	cd bench && $(GO) run . run --quick $(BENCH_ARGS)

# Regenerates every generated protobuf file (committed): the cluster's
# envelopes (cluster/wire.pb.go) and the conversation commands and results
# they carry (cluster/command.pb.go), with Debian's protoc
# (apt-get install protobuf-compiler) and the protoc-gen-go of go.mod's
# protobuf version.
PROTOC_GEN_GO_VERSION = $(shell $(GO) list -m -f '{{.Version}}' google.golang.org/protobuf)
proto:
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	protoc --plugin=protoc-gen-go=$(CURDIR)/bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative cluster/wire.proto cluster/command.proto

clean:
	rm -rf bin data coverage.out coverage.log
