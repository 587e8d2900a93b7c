/* SPDX-License-Identifier: MIT */
/*
 * Ring throughput: one producer thread and one consumer thread move
 * VM_PKT_DATA_INBAND packets of 64 B, 1500 B and 64 KiB payload through one
 * Hyper-V ring (libvmbus/ring.c, layout per Linux drivers/hv/ring_buffer.c)
 * with a 1 MiB data area, 32 packets per write batch and per read-index
 * publish, signalling decisions included, both sides polling.
 *
 * Baselines measured in the same run:
 *  - DPDK rte_ring, single producer / single consumer, bursts of 32: the
 *    producer copies each payload into a preallocated slot and enqueues the
 *    slot pointer; the consumer dequeues and copies the payload out. The
 *    ring holds about as many payload bytes as the Hyper-V ring (at least
 *    16 entries); slots rotate, with 64 more slots than ring entries so a
 *    slot is never rewritten while the consumer may still copy from it.
 *  - single-threaded memcpy for the 64 KiB case, doing the same data
 *    movement as the ring: each payload is copied into the next slot of a
 *    1 MiB window (the ring's data size) and copied out again, on one core.
 *    A plain memcpy between two cache-resident 64 KiB buffers would measure
 *    the L1/L2 cache, not the work a ring transfer has to do.
 * Each measurement runs REPS times, alternating with its baseline, and the
 * fastest run counts: on a shared machine a spinning thread that loses its
 * CPU stalls its peer, and the best run is the one least disturbed.
 * Output: one JSON object per line: case, value, unit, baseline, ratio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ring.h>

#include <vmbus/ring.h>

#define RING_DATA_SIZE	(1u << 20)
#define BURST		32u
#define REPS		5

struct bench_case {
	const char *name;
	size_t payload;
	uint64_t count;
};

static const struct bench_case cases[] = {
	{ "64B", 64, 1000000 },
	{ "1500B", 1500, 150000 },
	{ "64KiB", 65536, 10000 },
};

struct run {
	size_t payload;
	uint64_t count;
	/* Hyper-V ring: each side's view on its own cache lines, as two
	 * partitions would have them */
	struct vmbus_ring w __attribute__((aligned(128)));
	struct vmbus_ring r __attribute__((aligned(128)));
	uint8_t pad[128] __attribute__((aligned(128)));
	/* rte_ring */
	struct rte_ring *rr;
	uint8_t *slots;
	unsigned int nslots;
	/* shared */
	volatile int go;
	uint64_t errors;
	uint64_t sink;
};

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static inline void relax(void)
{
	__builtin_ia32_pause();
}

static void wait_go(struct run *run)
{
	while (!run->go)
		relax();
}

/* ---- Hyper-V ring ------------------------------------------------------- */

static void *vmbus_producer(void *arg)
{
	struct run *run = arg;
	uint8_t *src = calloc(1, run->payload);
	uint64_t seq = 0;
	bool sig;

	pin(0);
	wait_go(run);
	while (seq < run->count) {
		unsigned int n = 0;

		vmbus_ring_write_batch_begin(&run->w);
		while (n < BURST && seq < run->count) {
			memcpy(src, &seq, sizeof(seq));
			if (vmbus_ring_send_inband(&run->w, src, run->payload, seq, 0,
						   &sig))
				break;
			seq++;
			n++;
		}
		vmbus_ring_write_batch_end(&run->w, &sig);
		if (!n)
			relax();
	}
	free(src);
	return NULL;
}

static void *vmbus_consumer(void *arg)
{
	struct run *run = arg;
	uint8_t *dst = calloc(1, run->payload + 8);
	struct vmbus_ring_pkt pkt;
	uint64_t expect = 0, got;
	unsigned int n = 0;
	bool sig;

	pin(1);
	vmbus_ring_mask(&run->r);	/* polling: writers need not signal */
	wait_go(run);
	while (expect < run->count) {
		if (vmbus_ring_peek(&run->r, &pkt)) {
			if (n) {
				vmbus_ring_publish(&run->r, &sig);
				n = 0;
			}
			relax();
			continue;
		}
		vmbus_ring_copy(&run->r, &pkt, pkt.offset, dst,
				vmbus_ring_pkt_payload_len(&pkt));
		memcpy(&got, dst, sizeof(got));
		if (got != expect)
			run->errors++;
		expect++;
		vmbus_ring_advance(&run->r, &pkt);
		if (++n == BURST) {
			vmbus_ring_publish(&run->r, &sig);
			n = 0;
		}
	}
	vmbus_ring_publish(&run->r, &sig);
	run->sink += dst[run->payload - 1];
	free(dst);
	return NULL;
}

static double run_threads(struct run *run, void *(*prod)(void *),
			  void *(*cons)(void *))
{
	pthread_t a, b;
	double t0, t1;

	run->go = 0;
	pthread_create(&b, NULL, cons, run);
	pthread_create(&a, NULL, prod, run);
	t0 = now_sec();
	__atomic_store_n(&run->go, 1, __ATOMIC_RELEASE);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	t1 = now_sec();
	return t1 - t0;
}

static double bench_vmbus(const struct bench_case *c, uint64_t *errors)
{
	struct vmbus_ring_ctrl *ctrl = aligned_alloc(4096, sizeof(*ctrl));
	uint8_t *data = aligned_alloc(4096, RING_DATA_SIZE);
	struct run run;
	double secs;

	memset(&run, 0, sizeof(run));
	run.payload = c->payload;
	run.count = c->count;
	memset(data, 0, RING_DATA_SIZE);
	vmbus_ring_view_contig(&run.w, ctrl, data, RING_DATA_SIZE);
	vmbus_ring_init(&run.w, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_view_contig(&run.r, ctrl, data, RING_DATA_SIZE);
	vmbus_ring_attach(&run.r);
	secs = run_threads(&run, vmbus_producer, vmbus_consumer);
	*errors += run.errors;
	free(ctrl);
	free(data);
	return secs;
}

/* ---- rte_ring ----------------------------------------------------------- */

static void *rte_producer(void *arg)
{
	struct run *run = arg;
	uint8_t *src = calloc(1, run->payload);
	void *objs[BURST];
	uint64_t seq = 0;
	unsigned int slot = 0;

	pin(0);
	wait_go(run);
	while (seq < run->count) {
		unsigned int n = 0, done = 0, i;

		while (n < BURST && seq + n < run->count)
			n++;
		for (i = 0; i < n; i++) {
			uint64_t s = seq + i;
			uint8_t *p = run->slots + (size_t)slot * run->payload;

			memcpy(src, &s, sizeof(s));
			memcpy(p, src, run->payload);
			objs[i] = p;
			if (++slot == run->nslots)
				slot = 0;
		}
		while (done < n) {
			unsigned int k = rte_ring_sp_enqueue_burst(run->rr, objs + done,
								   n - done, NULL);
			if (!k)
				relax();
			done += k;
		}
		seq += n;
	}
	free(src);
	return NULL;
}

static void *rte_consumer(void *arg)
{
	struct run *run = arg;
	uint8_t *dst = calloc(1, run->payload);
	void *objs[BURST];
	uint64_t expect = 0, got;

	pin(1);
	wait_go(run);
	while (expect < run->count) {
		unsigned int n, i;

		n = rte_ring_sc_dequeue_burst(run->rr, objs, BURST, NULL);
		if (!n) {
			relax();
			continue;
		}
		for (i = 0; i < n; i++) {
			memcpy(dst, objs[i], run->payload);
			memcpy(&got, dst, sizeof(got));
			if (got != expect)
				run->errors++;
			expect++;
		}
	}
	run->sink += dst[run->payload - 1];
	free(dst);
	return NULL;
}

static double bench_rte(const struct bench_case *c, uint64_t *errors, int *err)
{
	unsigned int entries = 16;
	struct run run;
	ssize_t sz;
	double secs;

	/* About as many payload bytes in flight as the 1 MiB Hyper-V ring. */
	while (entries * 2 * (c->payload + 24) <= RING_DATA_SIZE)
		entries *= 2;
	memset(&run, 0, sizeof(run));
	run.payload = c->payload;
	run.count = c->count;
	sz = rte_ring_get_memsize(entries);
	if (sz < 0) {
		*err = (int)sz;
		return 0;
	}
	run.rr = aligned_alloc(RTE_CACHE_LINE_SIZE,
			       ((size_t)sz + RTE_CACHE_LINE_SIZE - 1) &
			       ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
	*err = rte_ring_init(run.rr, "bench", entries,
			     RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*err)
		return 0;
	run.nslots = entries + 2 * BURST;
	run.slots = aligned_alloc(64, (size_t)run.nslots * c->payload);
	memset(run.slots, 0, (size_t)run.nslots * c->payload);
	secs = run_threads(&run, rte_producer, rte_consumer);
	*errors += run.errors;
	free(run.slots);
	free(run.rr);
	return secs;
}

/* ---- memcpy ------------------------------------------------------------- */

static double bench_memcpy(size_t len, uint64_t count)
{
	size_t slots = RING_DATA_SIZE / len;
	uint8_t *src = aligned_alloc(4096, len), *dst = aligned_alloc(4096, len);
	uint8_t *win = aligned_alloc(4096, RING_DATA_SIZE);
	volatile uint8_t sink;
	double t0, t1;
	uint64_t i;

	memset(src, 1, len);
	memset(dst, 0, len);
	memset(win, 0, RING_DATA_SIZE);
	t0 = now_sec();
	for (i = 0; i < count; i++) {
		uint8_t *slot = win + (i % slots) * len;

		src[0] = (uint8_t)i;
		memcpy(slot, src, len);
		memcpy(dst, slot, len);
		__asm__ __volatile__("" ::: "memory");
	}
	t1 = now_sec();
	sink = dst[0];
	(void)sink;
	free(src);
	free(dst);
	free(win);
	return t1 - t0;
}

static void emit(const char *name, double value, const char *unit,
		 double baseline)
{
	printf("{\"case\": \"%s\", \"value\": %.3f, \"unit\": \"%s\", "
	       "\"baseline\": %.3f, \"ratio\": %.3f}\n",
	       name, value, unit, baseline, baseline > 0 ? value / baseline : 0.0);
	fflush(stdout);
}

int main(void)
{
	uint64_t errors = 0;
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bench_case *c = &cases[i];
		double t_vm = 1e30, t_rte = 1e30, t;
		char name[96];
		int k;

		for (k = 0; k < REPS; k++) {
			t = bench_vmbus(c, &errors);
			if (t < t_vm)
				t_vm = t;
			t = bench_rte(c, &errors, &err);
			if (err) {
				fprintf(stderr, "rte_ring_init: %d\n", err);
				return 1;
			}
			if (t < t_rte)
				t_rte = t;
		}
		if (c->payload < 65536) {
			snprintf(name, sizeof(name),
				 "inband_%s_ring1MiB_vs_rte_ring_spsc_burst32", c->name);
			emit(name, c->count / t_vm / 1e6, "Mpps",
			     c->count / t_rte / 1e6);
		} else {
			double bytes = (double)c->count * c->payload;
			double t_mc = 1e30;

			for (k = 0; k < REPS; k++) {
				t = bench_memcpy(c->payload, c->count * 4);
				if (t < t_mc)
					t_mc = t;
			}

			snprintf(name, sizeof(name),
				 "inband_%s_ring1MiB_vs_memcpy", c->name);
			emit(name, bytes / t_vm / 1e9, "GB/s",
			     4 * bytes / t_mc / 1e9);
			snprintf(name, sizeof(name),
				 "inband_%s_ring1MiB_vs_rte_ring_spsc_burst32", c->name);
			emit(name, bytes / t_vm / 1e9, "GB/s", bytes / t_rte / 1e9);
		}
	}
	if (errors) {
		fprintf(stderr, "sequence errors: %llu\n", (unsigned long long)errors);
		return 1;
	}
	return 0;
}
