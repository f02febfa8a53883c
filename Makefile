# Sesame developer tasks. `make` (or `make help`) lists them.
#
# Every target is a thin wrapper over the go command, so the same thing can be
# typed by hand. Variables can be overridden: `make fuzz FUZZTIME=1m`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# golangci-lint is pinned in a separate module so its ~100 dependencies stay
# out of the product's go.mod (DEPENDENCIES.md).
GOLANGCI_LINT ?= $(GO) tool -modfile=tools/go.mod golangci-lint

# Databases for the full test suite. The defaults match the local services on
# the development and CI machines; override them in the environment.
export SESAME_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export SESAME_TEST_MYSQL_DSN ?= root@tcp(127.0.0.1:3306)/test

TEST_TIMEOUT ?= 15m
BENCH ?= .
BENCH_TIMEOUT ?= 60m
FUZZTIME ?= 20s
SOAK_RUN ?= Soak
SOAK_TIMEOUT ?= 60m
PKGS ?= ./...

.PHONY: help
help: ## Show this list of targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the server locally (go run ./cmd/sesame serve)
	$(GO) run ./cmd/sesame serve

.PHONY: build
build: ## Build bin/sesame
	$(GO) build -o bin/sesame ./cmd/sesame

.PHONY: test
test: ## Run the full test suite with -race against real PostgreSQL/MariaDB
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

.PHONY: test-short
test-short: ## Run the quick tests only (-short; no external services needed)
	$(GO) test -short $(PKGS)

.PHONY: cover
cover: ## Run the quick tests with coverage into coverage.out and print a summary
	$(GO) test -short -coverprofile=coverage.out $(PKGS)
	$(GO) tool cover -func=coverage.out | tail -n 1

.PHONY: lint
lint: ## Run go vet and golangci-lint (pinned in tools/go.mod)
	$(GO) vet $(PKGS)
	$(GOLANGCI_LINT) run $(PKGS)

.PHONY: fmt
fmt: ## Format the code with the configured formatters (gofmt, goimports)
	$(GOLANGCI_LINT) fmt

.PHONY: bench
bench: ## Run the Go benchmarks (BENCH=regexp, default all), then the end-to-end `sesame bench`
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -timeout $(BENCH_TIMEOUT) $(PKGS)
	$(GO) run ./cmd/sesame bench

.PHONY: fuzz
fuzz: ## Run every Fuzz* target for FUZZTIME each (default 20s)
	FUZZTIME='$(FUZZTIME)' GO='$(GO)' ./scripts/fuzz.sh $(PKGS)

.PHONY: soak
soak: ## Run long-running tests built with -tags soak (test names matching SOAK_RUN, default Soak)
	$(GO) test -tags soak -run '$(SOAK_RUN)' -count=1 -timeout $(SOAK_TIMEOUT) $(PKGS)

.PHONY: tidy
tidy: ## go mod tidy for the main and the tools module
	$(GO) mod tidy
	cd tools && $(GO) mod tidy

.PHONY: clean
clean: ## Remove build and coverage output
	rm -rf bin/ coverage.out coverage.html
