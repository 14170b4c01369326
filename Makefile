# tcpfsm build. Out of tree: everything lands in $(BUILD).
#   make            build $(BUILD)/tcpfsm
#   make run        install missing packages, build, start live tracing
#   make test       install missing packages, build, run every test
#   make unit       cmocka unit tests only (no root; no libbpf linked, the
#                   layers of src/ checked: tools/check-layers.sh)
#   make integration root integration tests only
#   make sanitize   unit (and, as root, integration) tests under ASan+UBSan
#   make fuzz       run both fuzzers (sock_diag parser, replayed recordings),
#                   FUZZ_SECONDS each, one after the other
#   make fuzz-check build the fuzzers, run their committed corpora once (seconds)
#   make bench      the tracing overhead benchmark (root)
#   make install    PREFIX=/usr/local DESTDIR= (binary, man page, completion,
#                   the systemd unit of tcpfsm serve)
#   make uninstall  the same PREFIX and DESTDIR
#   make check-man  the man page is clean and documents every option
#   make check-install  install into a scratch DESTDIR, render, uninstall
#   make check-layers   src/core includes nothing of src/cmd, libbpf only in
#                   the BPF side, private headers private (tools/check-layers.sh)
#   make vmlinux    regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel
#   make vmtest     the integration tests on Debian's KERNEL=6.1 (or 6.12,
#                   or a linux-image package name) in QEMU (root)
#   make vmsmoke    the smoke test (tests/vm/smoke.sh) on KERNEL=6.1 in QEMU

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
# from git when built from a clone, else this literal (tools/version.sh)
VERSION_BASE := 0.1.0
VERSION := $(shell tools/version.sh $(VERSION_BASE))
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# tcpfsm serve's unit (tools/tcpfsm-serve.service)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
KERNEL ?= 6.1

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
override CFLAGS += $(WARN) -std=gnu11 -D_GNU_SOURCE
# the core sees only its own headers (and include/): src/cmd's are not on
# its path; the commands and the tests see both (tools/check-layers.sh)
override CPPFLAGS += -Iinclude -Isrc/core -I$(BUILD) $(LIBBPF_CFLAGS) -MMD -MP
CMD_CPPFLAGS := -Isrc/cmd
LDLIBS += $(LIBBPF_LIBS) -lelf -lz -lm

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
	-Iinclude -Ivmlinux/$(ARCH) $(LIBBPF_CFLAGS)

# src/core: the pure core and the system I/O, as two static libraries:
#   libtcpfsm.a      everything but the BPF side (no libbpf, no skeleton)
#   libtcpfsm-bpf.a  the live event source and serve's kernel side (libbpf)
# src/cmd: the commands and the CLI; libtcpfsm-cmd.a is all of it but
# main.o. The binary links main.o and the three; the unit tests and the
# fuzzers link only libtcpfsm-cmd.a and libtcpfsm.a: no libbpf
# (tools/check-nolibbpf.sh checks their dynamic section).
BPF_SRCS := src/core/loader.c src/core/serve_bpf.c
CORE_SRCS := $(filter-out $(BPF_SRCS),$(wildcard src/core/*.c))
CMD_SRCS := $(filter-out src/cmd/main.c,$(wildcard src/cmd/*.c))
CORE_LIB := $(BUILD)/libtcpfsm.a
BPF_LIB := $(BUILD)/libtcpfsm-bpf.a
CMD_LIB := $(BUILD)/libtcpfsm-cmd.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(filter-out %.bpf.c,$(wildcard tools/*.c))
TOOL_BINS := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)
SKEL := $(BUILD)/tcpfsm.skel.h
BPF_OBJ := $(BUILD)/tcpfsm.bpf.o

.PHONY: all run test unit integration sanitize sanitize-unit fuzz fuzz-check bench \
	install uninstall clean deps vmlinux check-man check-install check-layers vmtest vmsmoke FORCE

all: $(BUILD)/tcpfsm $(TOOL_BINS)

# Keep intermediates (the unit tests' objects: without this make deletes
# them and recompiles every one on the next 'make unit'); a rule that fails
# leaves no half-written target behind.
.SECONDARY:
.DELETE_ON_ERROR:

$(BPF_OBJ): bpf/tcpfsm.bpf.c | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $@.d -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name tcpfsm_bpf > $@.tmp && mv $@.tmp $@

# tcpfsm serve: its own object (aggregation in the kernel), its own skeleton
SERVE_SKEL := $(BUILD)/serve.skel.h
$(BUILD)/serve.bpf.o: bpf/serve.bpf.c | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $@.d -c $< -o $@
$(SERVE_SKEL): $(BUILD)/serve.bpf.o
	$(BPFTOOL) gen skeleton $< name serve_kern > $@.tmp && mv $@.tmp $@
$(BUILD)/src/core/serve_bpf.o: $(SERVE_SKEL)

# Only the BPF side includes a skeleton: the rest builds without clang's
# BPF target and bpftool.
$(BUILD)/src/core/loader.o: $(SKEL)
$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(if $(filter cmd/%,$*),$(CMD_CPPFLAGS)) $(CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_SRCS:%.c=$(BUILD)/%.o)
$(BPF_LIB): $(BPF_SRCS:%.c=$(BUILD)/%.o)
$(CMD_LIB): $(CMD_SRCS:%.c=$(BUILD)/%.o)
$(BUILD)/%.a:
	@rm -f $@
	$(AR) rcs $@ $^

# Rewritten only when the version changes: only version.o is rebuilt then.
$(BUILD)/version.h: FORCE | $(BUILD)
	@echo '#define TCPFSM_VERSION "$(VERSION)"' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/src/cmd/version.o: $(BUILD)/version.h
FORCE:

# the libraries in their order: commands, BPF side, core
$(BUILD)/tcpfsm: $(BUILD)/src/cmd/main.o $(CMD_LIB) $(BPF_LIB) $(CORE_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CMD_CPPFLAGS) $(CFLAGS) -c $< -o $@

# no libbpf: what a test needs is in the core or the commands
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(CMD_LIB) $(CORE_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(CMOCKA_LIBS) -lm

$(BUILD)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ -lpthread

# the cost floor of in-kernel aggregation (tools/bench-serve.sh)
$(BUILD)/floor.bpf.o: tools/floor.bpf.c tools/floor.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -Itools -c $< -o $@
$(BUILD)/floor.skel.h: $(BUILD)/floor.bpf.o
	$(BPFTOOL) gen skeleton $< name floor_bpf > $@.tmp && mv $@.tmp $@
$(BUILD)/tools/floor: tools/floor.c tools/floor.h $(BUILD)/floor.skel.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itools $(CFLAGS) $< -o $@ $(LDLIBS)

$(BUILD):
	@mkdir -p $@

deps:
	@tools/deps.sh

# built as the user who runs make; traced as root (through sudo if need be)
run: deps
	@$(MAKE) --no-print-directory all
	@if [ "$$(id -u)" = 0 ]; then exec $(BUILD)/tcpfsm trace; \
	else exec sudo $(BUILD)/tcpfsm trace; fi

unit: $(UNIT_BINS)
	@tools/run-unit.sh $(UNIT_BINS)
	@tools/check-nolibbpf.sh $(UNIT_BINS)
	@tools/check-layers.sh

check-layers:
	@tools/check-layers.sh

integration: all
	@tools/run-integration.sh $(BUILD)

# Every test: unit tests, the same under ASan+UBSan, the fuzzers' corpora,
# root integration, then the smoke test on Debian 12's stock kernel (6.1).
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@tools/run-unit.sh $(UNIT_BINS)
	@tools/check-nolibbpf.sh $(UNIT_BINS)
	@tools/check-layers.sh
	@$(PYTHON) tools/check-man.py $(BUILD)
	@tools/check-install.sh $(BUILD)
	@$(MAKE) --no-print-directory sanitize-unit
	@$(MAKE) --no-print-directory fuzz-check
	@tools/run-integration.sh $(BUILD)
	@if [ "$${TCPFSM_SKIP_INTEGRATION:-}" = 1 ] && [ "$$(id -u)" != 0 ]; then \
		echo "VM smoke test skipped (TCPFSM_SKIP_INTEGRATION=1; it needs root)" >&2; \
	else $(MAKE) --no-print-directory vmsmoke KERNEL=6.1; fi

# Another kernel: a Debian kernel package booted in QEMU over this root
# filesystem (tools/vmtest.sh), running the tests there.
vmtest: all
	@tools/vmtest.sh -k $(KERNEL) -- tools/run-integration.sh $(BUILD)

vmsmoke: all
	@tools/vmtest.sh -k $(KERNEL) -t 300 -- tests/vm/smoke.sh $(BUILD)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
# this make again, building into $(BUILD)-san under ASan+UBSan
SAN_MAKE = $(MAKE) --no-print-directory BUILD=$(BUILD)-san CFLAGS="$(SAN_FLAGS)" \
	LDFLAGS="-fsanitize=address,undefined"

# unit tests under the sanitizers: part of both test and sanitize
sanitize-unit:
	@$(SAN_MAKE) unit

sanitize: sanitize-unit
	@if [ "$$(id -u)" = 0 ]; then $(SAN_MAKE) integration; fi

# '+': fuzz.sh runs make for the BPF skeleton, which may share our jobs
fuzz:
	+@tools/fuzz.sh $(FUZZ_SECONDS) $(BUILD)-fuzz

fuzz-check:
	+@tools/fuzz.sh --check $(BUILD)-fuzz

bench: all
	@tools/bench-trace.sh $(BUILD)

install: $(BUILD)/tcpfsm
	install -D -m 0755 $(BUILD)/tcpfsm $(DESTDIR)$(BINDIR)/tcpfsm
	install -D -m 0644 src/tcpfsm.8 $(DESTDIR)$(MANDIR)/man8/tcpfsm.8
	install -D -m 0644 tools/tcpfsm.bash-completion $(DESTDIR)$(BASHCOMPDIR)/tcpfsm
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|' tools/tcpfsm-serve.service > \
		$(DESTDIR)$(SYSTEMDUNITDIR)/tcpfsm-serve.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tcpfsm-serve.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tcpfsm $(DESTDIR)$(MANDIR)/man8/tcpfsm.8 \
		$(DESTDIR)$(BASHCOMPDIR)/tcpfsm \
		$(DESTDIR)$(SYSTEMDUNITDIR)/tcpfsm-serve.service

# the man page: groff finds nothing to warn about, and it documents every
# command, option and JSON field the binary has (tools/check-man.py)
check-man: all
	@$(PYTHON) tools/check-man.py $(BUILD)

# make install DESTDIR=... puts the three files where they belong, man
# renders the page, make uninstall removes them
check-install: all
	@tools/check-install.sh $(BUILD)

vmlinux:
	@tools/gen-vmlinux.sh $(ARCH)

clean:
	rm -rf $(BUILD) $(BUILD)-san $(BUILD)-fuzz

-include $(wildcard $(BUILD)/src/*/*.d $(BUILD)/tests/*.d $(BUILD)/tools/*.d $(BUILD)/*.d)
