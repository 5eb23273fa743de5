# omtp - the two commands of the README, and the steps they are made of.
#
#   make run     install missing packages, build, start omtpd on ./var (SQLite)
#   make check   install missing packages, build, run every test (also under
#                ASan+UBSan), fuzz each decoder briefly, cross-check with @tars/stream

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_REL  ?= build-release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

# cmake --build runs make below us: keep its output to the progress lines
MAKEFLAGS += --no-print-directory

.PHONY: all deps build build-asan build-fuzz build-release web run check test test-asan fuzz interop format format-check bench clean install deb

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DOMTP_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

# Release (-O3, no debug info): compiled by `make check` because the optimizer
# finds warnings (maybe-uninitialized) the other builds do not
build-release: deps
	@cmake -S . -B $(BUILD_REL) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_REL) -j $(JOBS)

build-fuzz: deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DOMTP_FUZZ=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS)

# make install [PREFIX=/usr/local] [DESTDIR=]: binaries, man pages, the config
# as $(sysconfdir)/omtp/omtpd.conf (/etc/omtp when PREFIX=/usr), the systemd
# unit and a logrotate snippet (cmake/install.cmake, docs/operations.md)
PREFIX  ?= /usr/local
DESTDIR ?=
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# make deb: omtpd_VERSION_ARCH.deb in $(BUILD) (scripts/deb.sh; dpkg -i installs it)
deb: build
	@bash scripts/deb.sh $(BUILD)

# the web chat app (web/ -> web/dist, served by omtpd's WebSocket listener):
# npm ci of the pinned toolchain, type check, vite build; skipped when current
web: deps
	@bash scripts/web.sh

# only what `make run` needs (omtpd, omtp, omtp-bench, the web app): a quicker first run
run: deps web
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target omtpd omtp_cli omtp-bench
	@bash scripts/run.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

fuzz: build-fuzz
	@bash tests/fuzz/run.sh $(BUILD_FUZZ)

interop: build
	@bash tests/interop/run.sh $(BUILD)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

check:
	@bash scripts/check.sh

bench: build
	@bash bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_REL)
