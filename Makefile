# SPDX-License-Identifier: GPL-2.0
#
# vforkacct: build the module, run the demo and the test suite.
#
#   make                 build vforkacct.ko for the running kernel, or the
#                        default cached kernel when no headers are installed
#   make KVER=<release>  build against one kernel (.build/<release>/)
#   make modules-all     build for every kernel of the matrix, W=1 -Werror
#   make demo            the main job: a demo in the test VM
#   make check           the whole test suite, on every kernel of the matrix
#   make check-debug     the selftests on a debug kernel (KASAN, kmemleak,
#                        lockdep...) built once from linux-source-6.1
#   make bench           benchmark in the test VM (.build/bench/)
#   make lint            checkpatch.pl --strict on module/
#   make clean

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KCACHE := $(TOP)/.cache/kernels
RUNNING := $(shell uname -r)

ifeq ($(KVER),)
ifneq ($(wildcard /lib/modules/$(RUNNING)/build/Makefile),)
KVER := $(RUNNING)
else
KVER = $(shell $(TOP)/scripts/kernels default)
endif
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
	@test -f $(KDIR)/Makefile || { echo "no kernel build tree for $(KVER) (run: scripts/kernels fetch)" >&2; exit 1; }
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

# The debug kernel is built, not downloaded: about 10 minutes the first
# time, so it has a target of its own (see README.md, "Debug kernel").
check-debug: deps
	@$(TOP)/scripts/debug-kernel fetch
	@k=$$($(TOP)/scripts/debug-kernel release) && set -o pipefail && mkdir -p $(TOP)/.build && \
	$(MAKE) --no-print-directory module KVER=$$k W=1 KCFLAGS=-Werror 2>&1 | tee $(TOP)/.build/build-$$k.log && \
	if grep -q 'warning:' $(TOP)/.build/build-$$k.log; then \
		echo "check-debug: warnings building for $$k" >&2; exit 1; fi
	@$(MAKE) --no-print-directory selftests
	@VFA_KERNELS=$$($(TOP)/scripts/debug-kernel release) VFA_NO_HOST_TESTS=1 \
		VFA_NO_RUNNER_TESTS=1 VFA_DEBUG_SELFTEST=1 VFA_TIMEOUT=7200 \
		VFA_TEST_TIMEOUT=1800 $(TOP)/scripts/check

demo: kernels
	@$(MAKE) --no-print-directory module KVER=$$($(TOP)/scripts/kernels default)
	@$(MAKE) --no-print-directory selftests
	@$(TOP)/scripts/demo

bench: kernels
	@$(TOP)/scripts/bench/run

clean:
	rm -rf $(TOP)/.build $(TOP)/vforkacct.ko
