# SPDX-License-Identifier: GPL-2.0
#
# vforkacct: build the module, run the demo and the test suite.
#
#   make                 build vforkacct.ko for the running kernel (needs
#                        linux-headers-$(uname -r))
#   make KVER=<release>  build against one kernel (.build/<release>/)
#   make modules-all     build for every kernel of the matrix, W=1 -Werror
#   make demo            the main job: a demo in the test VM
#   make check           the whole test suite, on every kernel of the matrix
#   make check-debug     the selftests on a debug kernel (KASAN, kmemleak,
#                        lockdep...) built once from linux-source-6.1
#   make bench           benchmark in the test VM (.build/bench/), and the
#                        CLI's report on a 1M-record log (host)
#   make lint            checkpatch.pl --strict on module/
#   make clean

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KCACHE := $(TOP)/.cache/kernels
RUNNING := $(shell uname -r)

# Without KVER: the running kernel (its headers must be installed).
ifeq ($(KVER),)
KVER := $(RUNNING)
endif

KDIR = $(if $(wildcard $(KCACHE)/$(KVER)/build/Makefile),$(KCACHE)/$(KVER)/build,/lib/modules/$(KVER)/build)
BDIR = $(TOP)/.build/$(KVER)
# Kernels built by a newer toolchain are built against in a root of their
# own suite (scripts/buildroot); arm64 kernels with the cross compiler.
KROOT = $(shell $(TOP)/scripts/kernels root $(KVER))
KARCH = $(shell $(TOP)/scripts/kernels arch $(KVER))
KRUN = $(if $(filter-out host,$(KROOT)),$(TOP)/scripts/buildroot run $(KROOT) --)
KCROSS = $(if $(filter arm64,$(KARCH)),ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
# MSRC: where the module's sources are (a test builds a modified copy).
MSRC ?= $(TOP)
SRCS = $(MSRC)/Kbuild $(wildcard $(MSRC)/module/*.[ch])
W ?= 1

.PHONY: all module modules-all deps kernels selftests check check-debug demo lint bench clean

all: module
	cp $(BDIR)/vforkacct.ko $(TOP)/vforkacct.ko

# Kbuild writes objects beside the sources: build each kernel in its own
# folder of symlinks so the kernels of the matrix never mix objects.
module: $(SRCS)
	@test -f $(KDIR)/Makefile || { \
		echo "vforkacct: no headers for kernel $(KVER): install linux-headers-$(KVER)" \
		     "(Debian, Ubuntu), or build for a kernel of the test matrix with" \
		     "make KVER=<release> (scripts/kernels list; scripts/kernels fetch)" >&2; exit 1; }
	@mkdir -p $(BDIR)/module
	@rm -f $(BDIR)/module/*.[ch]
	@ln -sf $(MSRC)/Kbuild $(BDIR)/Kbuild
	@ln -sf $(MSRC)/module/*.[ch] $(BDIR)/module/
	$(KRUN) $(MAKE) -C $(KDIR) M=$(BDIR) W=$(W) $(KCROSS) modules

modules-all:
	@set -eo pipefail; mkdir -p $(TOP)/.build; \
	for k in $$($(TOP)/scripts/kernels list); do \
		echo "== $$k"; \
		$(MAKE) --no-print-directory module KVER=$$k W=1 KCFLAGS=-Werror 2>&1 | tee $(TOP)/.build/build-$$k.log; \
		if grep -q 'warning:' $(TOP)/.build/build-$$k.log; then \
			echo "modules-all: warnings building for $$k" >&2; exit 1; fi; \
	done

deps:
	@$(TOP)/scripts/deps

kernels: deps
	@$(TOP)/scripts/kernels fetch

# Native test programs, and cross-built static ones when the matrix has
# an arm64 kernel.
selftests:
	@$(MAKE) --no-print-directory -C $(TOP)/selftests
	@if $(TOP)/scripts/kernels list | grep -q -- '-arm64$$'; then \
		$(MAKE) --no-print-directory -C $(TOP)/selftests ARCH=arm64; fi

lint:
	@$(TOP)/scripts/lint

check: kernels
	@$(MAKE) --no-print-directory modules-all
	@$(MAKE) --no-print-directory selftests
	@$(MAKE) --no-print-directory lint
	@$(TOP)/scripts/check

# The debug kernels (KASAN and KCSAN) are built, not downloaded: about 10
# minutes each the first time, so they have a target of their own (see
# README.md, "Debug kernels").
check-debug: deps
	@for v in $$($(TOP)/scripts/debug-kernel variants); do \
		$(TOP)/scripts/debug-kernel fetch $$v || exit 1; done
	@set -o pipefail && mkdir -p $(TOP)/.build && \
	for v in $$($(TOP)/scripts/debug-kernel variants); do \
		k=$$($(TOP)/scripts/debug-kernel release $$v) || exit 1; \
		$(MAKE) --no-print-directory module KVER=$$k W=1 KCFLAGS=-Werror 2>&1 | tee $(TOP)/.build/build-$$k.log || exit 1; \
		if grep -q 'warning:' $(TOP)/.build/build-$$k.log; then \
			echo "check-debug: warnings building for $$k" >&2; exit 1; fi; \
	done
	@$(MAKE) --no-print-directory selftests
	@VFA_KERNELS="$$(for v in $$($(TOP)/scripts/debug-kernel variants); do \
		$(TOP)/scripts/debug-kernel release $$v; done)" VFA_NO_HOST_TESTS=1 \
		VFA_NO_RUNNER_TESTS=1 VFA_DEBUG_SELFTEST=1 VFA_TIMEOUT=7200 \
		VFA_TEST_TIMEOUT=1800 $(TOP)/scripts/check

demo: kernels
	@$(MAKE) --no-print-directory module KVER=$$($(TOP)/scripts/kernels default)
	@$(MAKE) --no-print-directory selftests
	@$(TOP)/scripts/demo

bench: kernels
	@$(TOP)/scripts/bench/run
	@# The CLI reading a full 1,048,576-record log (host side): a target
	@# missed is reported (exit 1), only a failed run fails the bench.
	@$(TOP)/scripts/bench/cli-report | tee $(TOP)/.build/bench/cli-report.txt; \
		test $${PIPESTATUS[0]} != 2
	@# PREEMPT_RT latency beside a 65,000-VMA forking parent (rt.md), and
	@# probe time per fork with 2 and 32 vCPUs (cpus.md).
	@$(TOP)/scripts/bench/rt
	@$(TOP)/scripts/bench/cpus

clean:
	rm -rf $(TOP)/.build $(TOP)/vforkacct.ko

# ----------------------------------------------------------------------
# install, uninstall, deb: vforkacct on a real server (issue 14).
#
#   make install [DESTDIR=dir] [KVER=release] [MODULE_VIA=dkms|kbuild|source|none]
#                     the module through DKMS (the default when dkms is
#                     installed; else built and copied to
#                     /lib/modules/KVER/updates/ + depmod) for KVER (default:
#                     the running kernel), the CLI as /usr/sbin/vforkacct,
#                     the bpftrace tools in /usr/share/vforkacct/, man pages,
#                     bash completion, systemd units, /etc/vforkacct.conf:
#                     see scripts/install
#   make uninstall [DESTDIR=dir]
#                     removes all of it (dkms remove, every kernel)
#   make deb          Debian packages vforkacct and vforkacct-dkms in
#                     .build/deb/, checked by lintian: see scripts/debpkg
#
# The module is installed for KVER when given (command line or
# environment), else for the running kernel: never for the cached matrix
# kernel `make` falls back to.
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(TOP)/dkms.conf)
DESTDIR ?=
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/vforkacct
MANDIR ?= $(PREFIX)/share/man
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
UNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
MODULE_VIA ?= auto
INSTALL_KVER = $(if $(filter command line environment environment override,$(origin KVER)),$(KVER),$(RUNNING))
INSTALL_KDIR = $(if $(wildcard $(KCACHE)/$(INSTALL_KVER)/build/Makefile),$(KCACHE)/$(INSTALL_KVER)/build,/lib/modules/$(INSTALL_KVER)/build)
INSTALL_ENV = DESTDIR="$(DESTDIR)" VERSION="$(VERSION)" SBINDIR="$(SBINDIR)" \
	DATADIR="$(DATADIR)" MANDIR="$(MANDIR)" SYSCONFDIR="$(SYSCONFDIR)" \
	UNITDIR="$(UNITDIR)" COMPDIR="$(COMPDIR)" MODULE_VIA="$(MODULE_VIA)" MAKE="$(MAKE)"

.PHONY: install uninstall deb

install:
	@$(INSTALL_ENV) KVER="$(INSTALL_KVER)" KDIR="$(INSTALL_KDIR)" $(TOP)/scripts/install install

uninstall:
	@$(INSTALL_ENV) $(TOP)/scripts/install uninstall

deb:
	@$(TOP)/scripts/debpkg
