# tcpfsm build. Out of tree: everything lands in $(BUILD).
#   make            build $(BUILD)/tcpfsm
#   make run        install missing packages, build, start live tracing
#   make test       install missing packages, build, run every test
#   make unit       cmocka unit tests only (no root)
#   make integration root integration tests only
#   make sanitize   unit (and, as root, integration) tests under ASan+UBSan
#   make fuzz       run both fuzzers (sock_diag parser, replayed recordings),
#                   FUZZ_SECONDS each, one after the other
#   make fuzz-check build the fuzzers, run their committed corpora once (seconds)
#   make bench      the tracing overhead benchmark (root)
#   make install    PREFIX=/usr/local DESTDIR=
#   make install-serve  also the systemd unit for tcpfsm serve
#   make vmlinux    regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
VERSION := 0.1.0

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
override CFLAGS += $(WARN) -std=gnu11 -D_GNU_SOURCE -DTCPFSM_VERSION='"$(VERSION)"'
override CPPFLAGS += -Iinclude -Isrc -I$(BUILD) $(LIBBPF_CFLAGS) -MMD -MP
LDLIBS += $(LIBBPF_LIBS) -lelf -lz -lm

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall \
	-Iinclude -Ivmlinux/$(ARCH) $(LIBBPF_CFLAGS)

SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS := $(filter-out $(BUILD)/src/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)
SKEL := $(BUILD)/tcpfsm.skel.h
BPF_OBJ := $(BUILD)/tcpfsm.bpf.o

.PHONY: all run test unit integration sanitize sanitize-unit fuzz fuzz-check bench \
	install install-serve clean deps vmlinux

all: $(BUILD)/tcpfsm $(TOOL_BINS)

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
$(BUILD)/src/serve_bpf.o: $(SERVE_SKEL)

# The skeleton must exist before anything that may include it compiles;
# -MMD then records which objects really depend on it.
$(BUILD)/src/%.o: src/%.c | $(SKEL)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tcpfsm: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: tests/unit/%.c | $(SKEL)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ -lpthread

$(BUILD):
	@mkdir -p $@

deps:
	@tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/tcpfsm trace

unit: $(UNIT_BINS)
	@tools/run-unit.sh $(UNIT_BINS)

integration: all
	@tools/run-integration.sh $(BUILD)

# Every test: unit tests, the same under ASan+UBSan, the fuzzers' corpora,
# then root integration.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@tools/run-unit.sh $(UNIT_BINS)
	@$(MAKE) --no-print-directory sanitize-unit
	@$(MAKE) --no-print-directory fuzz-check
	@tools/run-integration.sh $(BUILD)

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
	install -D -m 0755 $(BUILD)/tcpfsm $(DESTDIR)$(PREFIX)/bin/tcpfsm

# tcpfsm serve's systemd unit, apart from install (see tools/tcpfsm-serve.service)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
install-serve: install
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|' tools/tcpfsm-serve.service > \
		$(DESTDIR)$(SYSTEMDUNITDIR)/tcpfsm-serve.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tcpfsm-serve.service

vmlinux:
	@tools/gen-vmlinux.sh $(ARCH)

clean:
	rm -rf $(BUILD) $(BUILD)-san $(BUILD)-fuzz

-include $(wildcard $(BUILD)/src/*.d $(BUILD)/tests/*.d $(BUILD)/*.d)
