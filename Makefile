# Vigil: `make run` runs the supervisor with the server on 127.0.0.1:1337;
# `make test` builds and runs every test.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
OPENPGPJS := server/testdata/openpgpjs/node_modules

.PHONY: build run run-server test bench lint clean

# Static binaries, as in the container image: no libc to map (vigil's idle
# RSS is about 1.4 MiB smaller) and nothing to install beside them.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/vigil ./supervisor
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/vigil-server ./server

run: build
	mkdir -p data
	./$(BIN)/vigil -config configs/vigil.toml

# The server alone, without the supervisor.
run-server: build
	mkdir -p data
	./$(BIN)/vigil-server -config configs/server.toml

test: build lint $(OPENPGPJS)
	@for tool in redis-server systemd-notify systemd-socket-activate unshare node chromium; do \
	  command -v $$tool >/dev/null || echo "WARNING: $$tool is not installed: the tests that need it are SKIPPED (CI installs it; see .ci/run)"; \
	done
	$(GO) test -race -count=1 -timeout 12m ./...

# openpgp.js, for the web-client test (server/openpgpjs_test.go), pinned by
# its package-lock.json. Without npm, or offline, that test is skipped.
$(OPENPGPJS): server/testdata/openpgpjs/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix server/testdata/openpgpjs --no-audit --no-fund || \
	  echo "WARNING: npm ci failed: the openpgp.js client test is SKIPPED"; \
	else echo "WARNING: npm is not installed: the openpgp.js client test is SKIPPED (CI installs it; see .ci/run)"; fi

bench: build
	bash bench/run.sh

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
