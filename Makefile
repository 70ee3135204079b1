# signindiag — see README.md. `make help` lists the targets.
GO        ?= go
BIN       ?= bin/signindiag
# Tests read the local services' addresses from this file (make services-up).
SERVICES_ENV := .services.env
# The linter is pinned: a new version brings new checks, taken on purpose.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT         := bin/golangci-lint

.PHONY: help build lint test test-unit test-integration bench bench-e2e bench-spikes bench-api bench-embedded soak services-up services-down chromium screenshots demo demo-kafka run migrate fmt vet tidy up down

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## Build bin/signindiag
	$(GO) build -o $(BIN) ./cmd/signindiag

test: services-up chromium ## Start local Kafka + ClickHouse (and install Chromium for the page tests), then run every test (unit and integration)
	set -a; . ./$(SERVICES_ENV); set +a; $(GO) test -race -count=1 -timeout 30m ./...

test-unit: ## Unit tests only (no services)
	$(GO) test -short -race -count=1 ./...

test-integration: services-up ## Integration tests only
	set -a; . ./$(SERVICES_ENV); set +a; $(GO) test -count=1 -run 'Test.*' ./sinks/... ./cmd/...

bench: ## Benchmarks: decoding and the internal-topic codec (each vs encoding/json in the same run), window updates, 6 runs each, one core
	$(GO) test -run '^$$' -bench Decode -benchmem -count 6 -cpu 1 ./schemas/entra/
	$(GO) test -run '^$$' -bench . -benchmem -count 6 -cpu 1 ./pipeline/window/
	$(GO) test -run '^$$' -bench . -benchmem -count 6 -cpu 1 ./schemas/wire/

bench-e2e: services-up ## End-to-end benchmark at volume (1M events; EVENTS, RUNS, BASELINE_REF, PROFILE); see BENCHMARKS.md
	bash scripts/bench-e2e.sh

bench-spikes: services-up ## Failure-spike queries at 10M sign-ins over 30 days: p50/p99 of 7d/15m and 24h/5m series (EVENTS, RUNS; drops its database)
	set -a; . ./$(SERVICES_ENV); set +a; $(GO) run ./cmd/bench-spikes -events $${EVENTS:-10000000} -runs $${RUNS:-20}

bench-api: services-up ## Query API lookups at 10M sign-ins: p50/p99 and rows read (EVENTS, RUNS, REUSE=1, BASELINE_REF); see BENCHMARKS.md
	bash scripts/bench-api.sh

soak: services-up ## Soak: SOAK_DURATION (10m) of loadgen at SOAK_RATE sign-ins/s (5000) on a private broker, a fault every SOAK_FAULT_EVERY (1m); checks by id, RSS per minute; see BENCHMARKS.md
	set -a; . ./$(SERVICES_ENV); set +a; SOAK_DURATION=$${SOAK_DURATION:-10m} $(GO) test -tags soak -count=1 -v -run '^TestSoak$$' -timeout $${SOAK_TIMEOUT:-3h} ./cmd/signindiag/

bench-embedded: ## The embedded path: ingest --input of 1M Graph sign-ins into SQLite (EVENTS, RUNS, BASELINE binary for pairs), then lookups by correlationId; see BENCHMARKS.md
	$(GO) build -o $(BIN) ./cmd/signindiag
	$(GO) run ./cmd/bench-embedded -binary $(BIN) -events $${EVENTS:-1000000} -runs $${RUNS:-3} $${BASELINE:+-baseline $$BASELINE}

services-up: ## Start local Kafka (KRaft, from Maven Central) and ClickHouse (Debian package); writes .services.env
	bash scripts/services-up.sh

chromium: ## Install Debian's chromium for the page's browser tests (no-op when a Chromium is on PATH)
	bash scripts/chromium-up.sh

screenshots: services-up chromium ## Refresh the page's screenshots in docs/screenshots (PNG, from the browser test)
	set -a; . ./$(SERVICES_ENV); set +a; SIGNINDIAG_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run TestDiagnosticPageInHeadlessChromium ./cmd/signindiag/

services-down: ## Stop the local services and remove their data
	bash scripts/services-down.sh

demo: ## The whole product with nothing but Go: generated traffic, embedded store (./signindiag-data), API and page on :8080
	$(GO) run ./cmd/signindiag demo

demo-kafka: ## The same on local Kafka and ClickHouse: start them, run signindiag, send the sample sign-ins, show the diagnosis
	bash scripts/demo.sh

run: build services-up ## Run `signindiag run` against the local services
	set -a; . ./$(SERVICES_ENV); set +a; ./$(BIN) run

migrate: build services-up ## Apply the ClickHouse schema to the local server
	set -a; . ./$(SERVICES_ENV); set +a; ./$(BIN) migrate

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

lint: ## golangci-lint (pinned GOLANGCI_LINT_VERSION, installed into ./bin when missing) with .golangci.yml: staticcheck, revive, errorlint, gosec, depguard layering
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q 'version $(GOLANGCI_LINT_VERSION:v%=%) ' || \
		{ echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into ./bin"; \
		  GOBIN=$(CURDIR)/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); }
	$(GOLANGCI_LINT) run ./...

vet: ## go vet
	$(GO) vet ./...

tidy: ## go mod tidy
	$(GO) mod tidy

up: ## docker compose up (needs Docker)
	docker compose up --build --wait

down: ## docker compose down
	docker compose down
