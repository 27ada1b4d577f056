# Thin wrapper over CMake/CTest. `make run` and `make test` install missing
# Debian packages first (scripts/install-deps.sh, needs root for that).
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DEB_BUILD ?= build-deb
JOBS ?= $(shell nproc)
DB ?= sqlite:sipward.db
HTTP ?= 127.0.0.1:8080
SIP ?= 127.0.0.1:5060
# SIP over WebSocket, for the web console's softphone (and browsers).
SIP_WS ?= 127.0.0.1:5066

.PHONY: all deps build run test asan fuzz format format-check clean bench docs deb \
	console-shots

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DSIPWARD_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Local development: applications may live on this machine (localhost).
run: build
	@echo "sipward: web console at http://$(HTTP)/console/ (sign in with an account: the first one is printed below on the first start)"
	SIPWARD_WEBHOOK_ALLOW_PRIVATE=$${SIPWARD_WEBHOOK_ALLOW_PRIVATE:-true} \
		SIPWARD_SIP_WS=$${SIPWARD_SIP_WS:-$(SIP_WS)} \
		./$(BUILD)/sipward serve --db $(DB) --http $(HTTP) --sip $(SIP)

# Everything: the suite on the normal build, again under ASan+UBSan, the
# fuzz corpora replayed, and the formatting check. CTest prints the summary.
test: deps
	@cmake -S . -B $(BUILD) -DSIPWARD_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cmake -S . -B $(ASAN_BUILD) -DSIPWARD_WERROR=ON -DSIPWARD_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DSIPWARD_FUZZ=ON \
		-DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@cmake -S . -B $(BUILD) -DSIPWARD_ASAN_DIR=$(CURDIR)/$(ASAN_BUILD) \
		-DSIPWARD_FUZZ_DIR=$(CURDIR)/$(FUZZ_BUILD) >/dev/null
	@cd $(BUILD) && ctest --output-on-failure -j 2

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DSIPWARD_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DSIPWARD_FUZZ=ON \
		-DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@for f in fuzz_body fuzz_sip_msg fuzz_sip_auth fuzz_http fuzz_sip_txn \
		fuzz_app_doc fuzz_sip_sdp fuzz_sip_resolve fuzz_sip_ws \
		fuzz_media_bencode fuzz_log_json; do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$f && \
		./$(FUZZ_BUILD)/tests/fuzz/$$f -max_total_time=$${FUZZ_SECONDS:-60} \
			-max_len=4096 $(FUZZ_BUILD)/corpus/$$f \
			tests/fuzz/corpus/$$f || exit 1; \
	done

# The benchmark harness (bench/README.md): installs the peers and load
# generators of deps/debian-packages-bench.txt, builds, and runs
# bench/run.sh; results in bench/results/<date>/summary.md. Options through
# BENCH_ARGS, e.g. make bench BENCH_ARGS="--only sip,http" or "--quick".
bench: build
	@./scripts/install-deps.sh deps/debian-packages-bench.txt
	./bench/run.sh --bin $(BUILD)/sipward $(BENCH_ARGS)

# Regenerates what docs/ derives from the code: the option table of
# docs/config.md (from src/cfg/cfg.c) and the metric table of
# docs/operations.md (sipward --metrics-doc).
docs: build
	@/usr/bin/python3 scripts/config-doc.py --write $(BUILD)/sipward docs/config.md
	@/usr/bin/python3 scripts/config-doc.py --write $(BUILD)/sipward docs/operations.md

# The Debian package (debian/, docs/package.md), built by debhelper in
# $(DEB_BUILD)/cmake: $(DEB_BUILD)/sipward_<version>_<arch>.deb, with its
# .buildinfo and .changes beside it (nothing is written to ..).
deb: deps
	@rm -f $(DEB_BUILD)/sipward_*
	@mkdir -p $(DEB_BUILD)
	@v=$$(dpkg-parsechangelog -S Version) && a=$$(dpkg-architecture -qDEB_HOST_ARCH) && \
		SIPWARD_DEB_DIR=$(CURDIR)/$(DEB_BUILD) \
		DEB_BUILD_OPTIONS="parallel=$(JOBS) $${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b \
		--buildinfo-option=-u$(CURDIR)/$(DEB_BUILD) \
		--changes-option=-u$(CURDIR)/$(DEB_BUILD) \
		--buildinfo-file=$(CURDIR)/$(DEB_BUILD)/sipward_$${v}_$${a}.buildinfo \
		--changes-file=$(CURDIR)/$(DEB_BUILD)/sipward_$${v}_$${a}.changes
	@ls $(DEB_BUILD)/sipward_*.deb

# Screenshots of every page of the web console at desktop and phone width
# (docs/console.md shows them): a throwaway server, a real browser.
console-shots: build
	@/usr/bin/python3 scripts/console-shots.py --bin $(BUILD)/sipward --out docs/console

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(DEB_BUILD)
