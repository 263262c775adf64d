# Rotator: see README.md.
GO      ?= go
PKGS    := ./...
GOFLAGS_BUILD := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='

.PHONY: all build test lint bench demo clean

all: lint test

## test: unit, real-server and moto tests (ROTATOR_REQUIRE_DB / ROTATOR_REQUIRE_MOTO turn skips into failures)
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 30m $(PKGS)

## lint: go vet and gofmt
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi

clean:
	rm -rf dist
