# Hardened inter-agency fund gateway: build, tests, benchmarks, install.
# Outputs go under build/ (release) and build/san/ (ASan+UBSan); nothing else is written.

PREFIX    ?= /usr
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
SYSCONFDIR?= /etc
STATEDIR  ?= /var/lib/gateway
UNITDIR   ?= /lib/systemd/system
# Read by systemd-sysusers and systemd-tmpfiles from /usr/lib only, whatever PREFIX is.
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DESTDIR   ?=

CC        ?= gcc
FUZZ_CC   ?= clang
PYTHON    ?= python3

PKGS      := openssl libevent libevent_openssl jansson inih libseccomp libsystemd sqlite3 libxml-2.0
# Recursively expanded on purpose: pkg-config must run after scripts/deps.sh.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread

LLHTTP_INC := /usr/share/include/llhttp
LLHTTP_SRC := /usr/share/llhttp

# The warnings relayd builds with, plus -Wextra; unused parameters are the norm in
# libevent callbacks, so that one warning is off.
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wpointer-arith \
	-Wcast-qual -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations \
	-Wsign-compare -Wformat=2 -Wformat-security -Wwrite-strings -Wvla \
	-Wimplicit-fallthrough
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
BASE_CFLAGS = -std=c17 -D_GNU_SOURCE -I. -Igateway -I$(LLHTTP_INC) $(PKG_CFLAGS)
REL_CFLAGS  = -O2 -g $(HARDEN) $(WARN) $(BASE_CFLAGS)
REL_LDFLAGS = -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
SAN_CFLAGS  = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined $(WARN) $(BASE_CFLAGS)
SAN_LDFLAGS = -fsanitize=address,undefined
# llhttp is third-party generated code: built apart, with its own (quiet) flags,
# in its strict variant (a compile-time switch; no lenient flags are ever set).
LLHTTP_CFLAGS = -std=c17 -O2 -g -fPIE -fstack-protector-strong -I$(LLHTTP_INC) -w \
	-DLLHTTP_STRICT_MODE=1

LIB_SRCS  = $(filter-out gateway/main.c gateway/witness/witnessd.c,$(wildcard \
	gateway/*.c gateway/net/*.c gateway/relay/*.c gateway/keeper/*.c \
	gateway/courier/*.c gateway/witness/*.c adapters/*.c))
# The supervision console's files, embedded by an assembler block (.incbin)
# in the library: relay workers can open no file.
CONSOLE_ASM    = gateway/relay/console_assets.S
CONSOLE_ASSETS = $(wildcard console/*.html console/*.js console/*.css console/*.svg)
CTL_SRCS  = $(wildcard gateway/ctl/*.c)
# gatewayctl's commands without its main(), for unit tests of them.
CTLLIB_SRCS = $(filter-out gateway/ctl/gatewayctl.c,$(CTL_SRCS))
TEST_SRCS = $(wildcard tests/unit/test_*.c)
STUB_SRCS = $(wildcard tests/stubs/*.c)
BENCH_SRCS= $(wildcard tests/bench/*.c)
KBENCH_SRCS= $(wildcard tests/bench/keeper/*.c)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)

# $(call variant,DIR,CFLAGS,LDFLAGS,LLHTTP_EXTRA): the same programs built into DIR.
define variant
$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	@$$(CC) $(2) -MMD -MP -c $$< -o $$@
$(1)/obj/%.o: %.S
	@mkdir -p $$(@D)
	@echo "  AS      $$@"
	@$$(CC) -Wa,-I. -c $$< -o $$@
$(1)/obj/gateway/relay/console_assets.o: $$(CONSOLE_ASSETS)
$(1)/llhttp/%.o: $$(LLHTTP_SRC)/%.c
	@mkdir -p $$(@D)
	@$$(CC) $$(LLHTTP_CFLAGS) $(4) -c $$< -o $$@
$(1)/libllhttp.a: $(1)/llhttp/llhttp.o $(1)/llhttp/api.o $(1)/llhttp/http.o
	@ar rcs $$@ $$^
$(1)/libgw.a: $$(patsubst %.c,$(1)/obj/%.o,$$(LIB_SRCS)) \
	    $$(patsubst %.S,$(1)/obj/%.o,$$(CONSOLE_ASM))
	@mkdir -p $$(@D)
	@rm -f $$@
	@ar rcs $$@ $$^
$(1)/gatewayd: $(1)/obj/gateway/main.o $(1)/libgw.a $(1)/libllhttp.a
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS)
$(1)/witnessd: $(1)/obj/gateway/witness/witnessd.o $(1)/libgw.a $(1)/libllhttp.a
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS)
$(1)/gatewayctl: $$(patsubst %.c,$(1)/obj/%.o,$$(CTL_SRCS)) $(1)/libgw.a $(1)/libllhttp.a
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS)
$(1)/stubd: $$(patsubst %.c,$(1)/obj/%.o,$$(STUB_SRCS)) $(1)/libgw.a $(1)/libllhttp.a
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS)
$(1)/loadgen: $$(patsubst %.c,$(1)/obj/%.o,$$(BENCH_SRCS)) $(1)/libgw.a $(1)/libllhttp.a
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS)
$(1)/keeper_bench: $$(patsubst %.c,$(1)/obj/%.o,$$(KBENCH_SRCS)) $(1)/libgw.a $(1)/libllhttp.a
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS)
$(1)/libctl.a: $$(patsubst %.c,$(1)/obj/%.o,$$(CTLLIB_SRCS))
	@rm -f $$@
	@ar rcs $$@ $$^
$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/libctl.a $(1)/libgw.a $(1)/libllhttp.a
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	@$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS) -lcmocka
endef

$(eval $(call variant,build,$(REL_CFLAGS),$(REL_LDFLAGS),))
-include $(shell find build -name '*.d' 2>/dev/null)
$(eval $(call variant,build/san,$(SAN_CFLAGS),$(SAN_LDFLAGS),$(SAN_LDFLAGS)))

PROGS      = gatewayd witnessd $(if $(CTL_SRCS),gatewayctl) $(if $(STUB_SRCS),stubd) \
	$(if $(BENCH_SRCS),loadgen) $(if $(KBENCH_SRCS),keeper_bench)
UNIT_TESTS = $(patsubst tests/unit/%.c,%,$(TEST_SRCS))

.SECONDARY:

.DEFAULT_GOAL := all

.PHONY: all deps build build-san pki check unit unit-san integration faults run demo bench soak fuzz \
	hostile install clean _build _check

all: deps
	@$(MAKE) --no-print-directory _build

deps:
	@sh scripts/deps.sh

_build: $(addprefix build/,$(PROGS)) $(addprefix build/tests/,$(UNIT_TESTS)) \
	build/failsync.so build/powercut.so

# LD_PRELOAD shims of the fault tests, test code never installed: failing
# syncs on demand, and power cuts that lose what no fsync covered
# (tests/crash).
build/failsync.so: tests/faults/failsync.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) -std=c17 -D_GNU_SOURCE -O2 -fPIC -shared $(WARN) -o $@ $< -ldl
build/powercut.so: tests/crash/powercut.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) -std=c17 -D_GNU_SOURCE -O2 -g -fPIC -shared $(WARN) -I. -o $@ $< -ldl -lpthread

build-san: $(addprefix build/san/,$(PROGS)) $(addprefix build/san/tests/,$(UNIT_TESTS))

pki:
	@sh certs/gen.sh certs/dev

# The README's test command: every unit test, plain and under ASan+UBSan, then the
# integration suite against the real daemon (sanitized build).
check: deps
	@$(MAKE) --no-print-directory _check

_check: _build build-san pki
	@sh scripts/run-tests.sh

unit: _build
	@sh scripts/run-tests.sh unit

integration: _build build-san pki
	@sh scripts/run-tests.sh integration

# The hostile-peer suite alone (tests/integration/test_hostile_*.py, also part
# of the integration suite): peers that misbehave on the wire.
hostile: _build build-san pki
	@sh scripts/run-tests.sh hostile

# Fault injection, full figures (kill -9 of every role under load, disk full,
# 2,000 slow connections, upstream resets and hangs, broken reloads, 50 power
# cuts); root.
faults: deps
	@$(MAKE) --no-print-directory _build build-san pki
	@FAULTS_MODE=full sh tests/faults/run.sh

# The README's main command: gateway plus stub agencies on loopback.
run: deps
	@$(MAKE) --no-print-directory _build pki
	@sh scripts/run-dev.sh

# One clean month of all 14 cities through a fresh gateway and the stub agencies
# (release build), then the month's reconciliation table and the alerts.
demo: all
	@$(MAKE) --no-print-directory pki
	@GATEWAYD=build/gatewayd STUBD=build/stubd python3 tests/scenarios/demo.py

# Every part, even after one failed (exit 1 then), tables in build/bench/, charts and the
# generated sections of BENCHMARKS.md (tests/bench/all.sh; BENCH_SECONDS shortens it).
bench: deps
	@$(MAKE) --no-print-directory _build pki
	@BENCH_VIA="make bench" sh tests/bench/all.sh

# A simulated year (SOAK_ENTRIES, default 20 million entries); not in make check.
soak: deps
	@$(MAKE) --no-print-directory _build pki
	@python3 tests/soak/soak.py

FUZZ_TIME ?= 60
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_TIME)

# Every path below is under $(DESTDIR): with DESTDIR set, nothing is written
# outside it (and no user, owner or service is touched). Without DESTDIR and as
# root, the gateway user and the folders' owners are made at the end, as a
# package's postinst would (systemd-sysusers, systemd-tmpfiles). An existing
# gateway.conf is never overwritten; gateway.conf.example always is.
GW_ETC = $(DESTDIR)$(SYSCONFDIR)/gateway

install: build/gatewayd build/witnessd build/gatewayctl
	install -d -m 0755 "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(BINDIR)" \
		"$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(SYSUSERSDIR)" "$(DESTDIR)$(TMPFILESDIR)"
	install -d -m 0750 "$(GW_ETC)"
	install -d -m 0700 "$(DESTDIR)$(STATEDIR)"
	install -m 0755 build/gatewayd "$(DESTDIR)$(SBINDIR)/gatewayd"
	install -m 0755 build/witnessd "$(DESTDIR)$(SBINDIR)/witnessd"
	install -m 0755 build/gatewayctl "$(DESTDIR)$(BINDIR)/gatewayctl"
	install -m 0640 config/gateway.conf.example "$(GW_ETC)/gateway.conf.example"
	[ -e "$(GW_ETC)/gateway.conf" ] || install -m 0640 config/gateway.conf.example "$(GW_ETC)/gateway.conf"
	install -m 0640 config/accounts.conf "$(GW_ETC)/accounts.conf.example"
	if [ -d config/schemas ]; then \
		rm -rf "$(GW_ETC)/schemas" && cp -R config/schemas "$(GW_ETC)/schemas" && \
		find "$(GW_ETC)/schemas" -type d -exec chmod 0755 {} + && \
		find "$(GW_ETC)/schemas" -type f -exec chmod 0644 {} +; fi
	install -m 0644 systemd/gatewayd.service "$(DESTDIR)$(UNITDIR)/gatewayd.service"
	install -m 0644 systemd/witnessd.service "$(DESTDIR)$(UNITDIR)/witnessd.service"
	install -m 0640 config/witness.conf "$(GW_ETC)/witness.conf.example"
	install -m 0644 systemd/gateway.sysusers "$(DESTDIR)$(SYSUSERSDIR)/gateway.conf"
	install -m 0644 systemd/gateway.tmpfiles "$(DESTDIR)$(TMPFILESDIR)/gateway.conf"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
		echo "systemd-sysusers $(SYSUSERSDIR)/gateway.conf"; \
		systemd-sysusers "$(SYSUSERSDIR)/gateway.conf" && \
		echo "systemd-tmpfiles --create $(TMPFILESDIR)/gateway.conf" && \
		systemd-tmpfiles --create "$(TMPFILESDIR)/gateway.conf"; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	elif [ -z "$(DESTDIR)" ]; then \
		echo "as root, run: systemd-sysusers $(SYSUSERSDIR)/gateway.conf &&" \
		    "systemd-tmpfiles --create $(TMPFILESDIR)/gateway.conf"; fi

clean:
	rm -rf build
