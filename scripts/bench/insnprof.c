// SPDX-License-Identifier: GPL-2.0
/*
 * insnprof.so: a QEMU TCG plugin (QEMU 7.2's plugin API, version 1) that
 * counts, for every translated block, how many times it ran.  Each time
 * the guest runs the block at `mark` (a user-space address: the marker
 * function of forkmark.c), the counts so far go to `out`.N (N = 0, 1, ...)
 * as lines "vaddr instructions executions".  Two dumps around a loop give
 * the instructions each guest function ran in it, exactly: no sampling.
 * Plugin arguments: mark=ADDRESS,out=PREFIX.  For scripts/bench/insnprof.
 * The few API declarations it needs are written out here: Debian ships
 * the plugin-enabled QEMU without its plugin header.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct {
	const char *target_name;
	struct {
		int min, cur;
	} version;
	bool system_emulation;
} qemu_info_t;

__attribute__((visibility("default"))) int qemu_plugin_version = 1;
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
		void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
		void (*cb)(unsigned int, void *), int flags, void *udata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
		int op, void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

#define BITS	21
#define SLOTS	(1u << BITS)

/* A block, by its address and length (the same address can start two). */
struct block {
	uint64_t vaddr, insns, runs;
};

static struct block *blocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mark;
static const char *out = "insnprof";
static int dumps;

static void dump(unsigned int vcpu, void *udata)
{
	char path[4096];
	uint32_t i;
	FILE *f;

	(void)vcpu;
	(void)udata;
	snprintf(path, sizeof(path), "%s.%d", out, dumps++);
	f = fopen(path, "w");
	if (!f)
		return;
	for (i = 0; i < SLOTS; i++)
		if (blocks[i].runs)
			fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				blocks[i].vaddr, blocks[i].insns,
				blocks[i].runs);
	fclose(f);
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb);
	uint64_t n = qemu_plugin_tb_n_insns(tb);
	uint32_t h = (va * 0x9E3779B97F4A7C15ull + n) >> (64 - BITS);
	struct block *b;

	(void)id;
	pthread_mutex_lock(&lock);
	for (;; h = (h + 1) & (SLOTS - 1)) {
		b = &blocks[h];
		if (!b->insns) {
			b->vaddr = va;
			b->insns = n;
			break;
		}
		if (b->vaddr == va && b->insns == n)
			break;
	}
	pthread_mutex_unlock(&lock);
	/* Op 0: QEMU_PLUGIN_INLINE_ADD_U64 (not atomic: use one TCG thread). */
	qemu_plugin_register_vcpu_tb_exec_inline(tb, 0, &b->runs, 1);
	if (mark && va == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, dump, 0, NULL);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			int argc, char **argv)
{
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 0);
		else if (!strncmp(argv[i], "out=", 4))
			out = argv[i] + 4;
	}
	blocks = calloc(SLOTS, sizeof(*blocks));
	if (!blocks)
		return 1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	return 0;
}
