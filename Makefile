# Rotator: see README.md.
GO      ?= go
PKGS    := ./...
# Every functions/<name>/main.go is a Lambda function (runtime provided.al2023).
FUNCTIONS := $(patsubst functions/%/main.go,%,$(sort $(wildcard functions/*/main.go)))
ARCHES  := arm64 amd64
# Reproducible, static, stripped bootstraps: internal/lambdabuild uses the
# same flags (a test checks) for the builds that tests and the benchmark run.
GOFLAGS_BUILD := -trimpath -buildvcs=false -tags lambda.norpc -ldflags='-s -w -buildid='
BUILD_ENV := GOFLAGS= CGO_ENABLED=0 GOOS=linux
# CA_BUNDLE=/path/to/global-bundle.pem (AWS's RDS CA bundle, downloaded by
# you) puts that file into every zip as rds-ca-bundle.pem, next to
# bootstrap: the PostgreSQL functions then verify servers against it
# (verify-full) by default. Never commit a bundle to this repository.
CA_BUNDLE ?=
MKZIP_FLAGS := $(if $(CA_BUNDLE),-ca-bundle '$(CA_BUNDLE)')

.PHONY: all help build $(ARCHES:%=build-%) test hygiene-summary test-postgres test-containers test-cdk fuzz lint bench demo clean

## all: lint and test (what make alone runs)
all: lint test

## help: this list: the "## target: text" comments of this Makefile
help:
	@echo 'make TARGET, where TARGET is one of:'
	@awk '/^## [a-z-]+:/ { sub(/^## /, ""); n = index($$0, ":"); printf "  %-14s %s\n", substr($$0, 1, n - 1), substr($$0, n + 2); next } \
	  /^##  / { sub(/^## +/, ""); printf "  %-14s   %s\n", "", $$0 }' $(firstword $(MAKEFILE_LIST)) | sed 's/[$$][$$]/$$/g'

## build: dist/<arch>/<function>/bootstrap and dist/<arch>/<function>.zip for linux/arm64 and linux/amd64
##   (CA_BUNDLE=/path/to/global-bundle.pem adds rds-ca-bundle.pem to each zip)
build: $(ARCHES:%=build-%)
	@cd dist && for a in $(ARCHES); do for f in $(FUNCTIONS); do \
	  printf '%-48s %10s bytes  zip %10s bytes\n' "$$a/$$f/bootstrap" "$$(wc -c < $$a/$$f/bootstrap)" "$$(wc -c < $$a/$$f.zip)"; \
	done; done

$(ARCHES:%=build-%): build-%:
	@set -e; for f in $(FUNCTIONS); do \
	  echo "go build dist/$*/$$f/bootstrap"; \
	  $(BUILD_ENV) GOARCH=$* $(GO) build $(GOFLAGS_BUILD) -o dist/$*/$$f/bootstrap ./functions/$$f; \
	  $(GO) run ./internal/tools/mkzip -o dist/$*/$$f.zip $(MKZIP_FLAGS) dist/$*/$$f/bootstrap; \
	done

## test: unit, real-server, moto and end-to-end Lambda tests (ROTATOR_REQUIRE_DB / ROTATOR_REQUIRE_MOTO turn skips into failures),
##   fuzz seeds, then the secret hygiene summary (every package with a rotation test must report; leaks must be 0)
HYGIENE_DIR ?= $(CURDIR)/.hygiene
test:
	$(GO) vet $(PKGS)
	@rm -rf '$(HYGIENE_DIR)' && mkdir -p '$(HYGIENE_DIR)'
	ROTATOR_HYGIENE_DIR='$(HYGIENE_DIR)' $(GO) test -count=1 -timeout 30m $(PKGS)
	@$(MAKE) --no-print-directory hygiene-summary

## hygiene-summary: sum the counts make test's binaries wrote (rotatortest.Hygienic); fails on a leak or on a
##   package that uses rotatortest's server or Rotate in its tests and reported nothing
hygiene-summary:
	@set -e; missing=; \
	for d in $$(grep -rlE --include='*_test.go' 'rotatortest\.(Rotate|NewServer)\(|keytest\.Run\(' . | xargs -n1 dirname | sort -u); do \
	  f='$(HYGIENE_DIR)'/$$(echo $${d#./} | tr / _).hygiene; \
	  [ -s "$$f" ] || missing="$$missing $${d#./}"; \
	done; \
	cat '$(HYGIENE_DIR)'/*.hygiene 2>/dev/null | awk -v missing="$$missing" ' \
	  { pkgs++; values += $$2; lines += $$3; leaks += $$4; if ($$4 > 0) bad = bad " " $$1 } \
	  END { printf "secret hygiene: %d packages, %d values tracked, %d lines scanned, %d leaks\n", pkgs, values, lines, leaks; \
	        if (missing != "") { print "secret hygiene: no report from:" missing; exit 1 } \
	        if (leaks > 0) { print "secret hygiene: leaks in:" bad; exit 1 } }'

## test-postgres: the PostgreSQL tests only, e.g. against another major version:
##   ROTATOR_TEST_POSTGRES_BINDIR=$$(bash .ci/postgres17) make test-postgres
test-postgres:
	$(GO) test -count=1 -timeout 30m -run Postgres ./engines/postgres/ ./integration/ ./cmd/rotator/

## test-containers: the PostgreSQL and MySQL/MariaDB suites (rotations, attack cases, Lambda end-to-end, demo) with every server in a container;
##   needs a Docker engine; where Docker Hub is out of reach: eval "$$(.ci/docker)" && make test-containers
test-containers:
	GO=$(GO) bash .ci/test-containers

## test-cdk: the CDK constructs (cdk/, a module of its own): go vet, the assertion and cdk-nag tests, `cdk synth` of the example app
##   with the npm CLI of cdk/_npm (npm ci there first), cfn-lint on every template; needs node and cfn-lint
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true
test-cdk:
	cd cdk && $(GO) vet ./...
	cd cdk && $(CDK_ENV) $(GO) test -count=1 -timeout 20m ./...
	rm -rf cdk/cdk.out cdk/cdk.out.dist
	cd cdk && $(CDK_ENV) _npm/node_modules/.bin/cdk synth --quiet --no-notices -c placeholderDist=cdk.out.dist -o cdk.out
	@n=$$(ls cdk/cdk.out/*.template.json | wc -l); echo "cfn-lint: $$n templates"; test "$$n" -ge 5
	@rc=0; cfn-lint cdk/cdk.out/*.template.json || rc=$$?; \
	  if [ $$((rc & 3)) -ne 0 ]; then echo "cfn-lint: errors (exit $$rc)"; exit 1; fi; \
	  echo "cfn-lint: no errors (exit $$rc: warnings or notes at most)"

## fuzz: every fuzz target (func Fuzz... in a _test.go) explored for FUZZTIME each (default 10s); make test runs their seeds only
##   (testdata/fuzz/<FuzzName>/ and the f.Add calls); a failing input is written there: commit it as a new seed once fixed
FUZZTIME ?= 10s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  pkg=./$$(dirname $${f#./}); \
	  for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## lint: go vet and gofmt
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi

## bench: the performance budget (ARCHITECTURE.md): prints a table, writes bench/results.json, fails on a budget exceeded; then the secret cache against a GetSecretValue per request
bench:
	ROTATOR_REQUIRE_DB=1 $(GO) test -count=1 -timeout 20m -run '^$$' -bench '^BenchmarkBudget$$' -benchtime 1x ./bench
	@echo "secret cache: a hit, 16 concurrent misses, and a plain GetSecretValue per request (calls/op = Secrets Manager calls)"
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkCache$$' -benchmem ./client/secretcache

## demo: a throwaway PostgreSQL, the local Secrets Manager, a single-user and an alternating-users rotation (no Docker or AWS account needed)
demo:
	$(GO) run ./cmd/rotator demo

## clean: remove dist/ and the CDK example's cdk/cdk.out
clean:
	rm -rf dist cdk/cdk.out cdk/cdk.out.dist
