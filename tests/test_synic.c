/* SPDX-License-Identifier: MIT */
/*
 * Tests for the host-side SynIC model (libvmbus/synic.c): MSR programming
 * the way Linux does it (drivers/hv/hv.c hv_synic_enable_regs), message
 * slots and EOM the way Linux frees them (vmbus_drv.c vmbus_signal_eom),
 * event flags, the connection table, and HvPostMessage/HvSignalEvent
 * checks with the statuses of the TLFS, KVM and QEMU.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/synic.h>

#define RAM_PAGES	16u
#define RAM_SIZE	(RAM_PAGES * HV_PAGE_SIZE)
#define SIMP_GPA	0x2000ull
#define SIEFP_GPA	0x3000ull
#define INPUT_GPA	0x4000ull
#define VMBUS_SINT	2u
#define MAX_IRQS	64

struct irq {
	uint32_t vp, sint;
	uint8_t vector;
};

static uint8_t *ram;
static struct vmbus_synic_flat_ram flat;
static struct vmbus_synic *syn;
static struct irq irqs[MAX_IRQS];
static unsigned int nirq;	/* total raised; irqs[] keeps the first MAX_IRQS */

static void record_irq(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	unsigned int i = __atomic_fetch_add(&nirq, 1, __ATOMIC_RELAXED);

	(void)opaque;
	if (i < MAX_IRQS)
		irqs[i] = (struct irq){ vp, sint, vector };
}

static void make_synic(uint32_t vps, uint32_t limit)
{
	struct vmbus_synic_config cfg = {
		.vp_count = vps,
		.queue_limit = limit,
		.mem = { vmbus_synic_flat_map, &flat },
		.raise = record_irq,
	};

	ck_assert_int_eq(vmbus_synic_new(&cfg, &syn), 0);
}

static void setup(void)
{
	ram = aligned_alloc(HV_PAGE_SIZE, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0xaa, RAM_SIZE);
	flat = (struct vmbus_synic_flat_ram){ ram, RAM_SIZE };
	nirq = 0;
	make_synic(2, 0);
}

static void teardown(void)
{
	vmbus_synic_free(syn);
	syn = NULL;
	free(ram);
}

static uint64_t rd(uint32_t vp, uint32_t msr)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_int_eq(vmbus_synic_rdmsr(syn, vp, msr, &v), 0);
	return v;
}

static void wr(uint32_t vp, uint32_t msr, uint64_t val)
{
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, vp, msr, val), 0);
}

/* hv_synic_enable_regs(): read-modify-write of SIMP, SIEFP, SINT2, SCONTROL. */
static void linux_enable(uint32_t vp, uint64_t simp_gpa, uint64_t siefp_gpa)
{
	uint64_t v;

	v = rd(vp, HV_X64_MSR_SIMP);
	v = (v & ~HV_MSR_PFN_MASK) | simp_gpa | HV_MSR_ENABLE;
	wr(vp, HV_X64_MSR_SIMP, v);
	v = rd(vp, HV_X64_MSR_SIEFP);
	v = (v & ~HV_MSR_PFN_MASK) | siefp_gpa | HV_MSR_ENABLE;
	wr(vp, HV_X64_MSR_SIEFP, v);
	v = rd(vp, HV_X64_MSR_SINT0 + VMBUS_SINT);
	v = (v & ~(HV_SINT_VECTOR_MASK | HV_SINT_MASKED)) |
	    HYPERVISOR_CALLBACK_VECTOR;
	wr(vp, HV_X64_MSR_SINT0 + VMBUS_SINT, v);
	v = rd(vp, HV_X64_MSR_SCONTROL);
	wr(vp, HV_X64_MSR_SCONTROL, v | HV_SCONTROL_ENABLE);
}

static struct hv_message *slot_at(uint64_t simp_gpa, uint32_t sint)
{
	return &((struct hv_message_page *)(ram + simp_gpa))->sint_message[sint];
}

static struct hv_message *slot(uint32_t sint)
{
	return slot_at(SIMP_GPA, sint);
}

/* vmbus_signal_eom(): free the slot, full barrier, EOM only if pending. */
static void guest_free(uint32_t vp, struct hv_message *m)
{
	__atomic_store_n(&m->header.message_type, HVMSG_NONE, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->header.flags, __ATOMIC_RELAXED) &
	    HV_MESSAGE_FLAG_PENDING)
		wr(vp, HV_X64_MSR_EOM, 0);
}

static uint32_t payload_u32(const struct hv_message *m)
{
	uint32_t v;

	memcpy(&v, m->payload, sizeof(v));
	return v;
}

static int post_u32(uint32_t vp, uint32_t sint, uint32_t val)
{
	return vmbus_synic_post(syn, vp, sint, HV_MESSAGE_TYPE_VMBUS, 0, &val,
				sizeof(val));
}

static bool event_bit(uint64_t siefp_gpa, uint32_t sint, uint32_t flag)
{
	const struct hv_synic_event_flags_page *p =
		(const void *)(ram + siefp_gpa);

	return p->sintevent_flags[sint].flags[flag / 8] & (1u << (flag % 8));
}

/* ---- MSRs ---------------------------------------------------------------- */

START_TEST(msr_power_on_and_linux_programming)
{
	uint32_t i;

	ck_assert_uint_eq(rd(0, HV_X64_MSR_SVERSION), HV_SYNIC_VERSION_1);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SCONTROL), 0);
	for (i = 0; i < HV_SINT_COUNT; i++)
		ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + i), HV_SINT_MASKED);

	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIMP), SIMP_GPA | HV_MSR_ENABLE);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIEFP), SIEFP_GPA | HV_MSR_ENABLE);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + VMBUS_SINT), 0xf3);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + 3), HV_SINT_MASKED);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SCONTROL), HV_SCONTROL_ENABLE);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_EOM), 0);
	/* Enabling zeroes both pages (the RAM was 0xaa). */
	for (i = 0; i < HV_PAGE_SIZE; i++) {
		ck_assert_uint_eq(ram[SIMP_GPA + i], 0);
		ck_assert_uint_eq(ram[SIEFP_GPA + i], 0);
	}
	/* The other VP is untouched. */
	ck_assert_uint_eq(rd(1, HV_X64_MSR_SIMP), 0);
	ck_assert_uint_eq(nirq, 0);
	/* Auto-EOI and polling are stored and read back. */
	wr(0, HV_X64_MSR_SINT0 + 5, 0x40 | HV_SINT_AUTO_EOI | HV_SINT_POLLING);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + 5),
			  0x40 | HV_SINT_AUTO_EOI | HV_SINT_POLLING);
}
END_TEST

START_TEST(msr_hostile_writes)
{
	uint64_t v;

	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	/* Reserved bits: #GP, old value kept. */
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SCONTROL, 3), -EINVAL);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SCONTROL), HV_SCONTROL_ENABLE);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SIMP,
					   SIMP_GPA | 0x2 | HV_MSR_ENABLE), -EINVAL);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SIEFP,
					   SIEFP_GPA | 0x800), -EINVAL);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIMP), SIMP_GPA | HV_MSR_ENABLE);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SINT0 + 4,
					   0x40 | (1ull << 19)), -EINVAL);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SINT0 + 4,
					   0x40 | (1ull << 63)), -EINVAL);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + 4), HV_SINT_MASKED);
	/* Vector < 16 only while masked. */
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SINT0 + 4, 0x0f), -EINVAL);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SINT0 + 4, 0), -EINVAL);
	wr(0, HV_X64_MSR_SINT0 + 4, HV_SINT_MASKED | 0x0f);
	wr(0, HV_X64_MSR_SINT0 + 4, 0x10);
	/* SVERSION is read-only. */
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SVERSION, 1), -EINVAL);
	/* Not SynIC MSRs: fall through. */
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_GUEST_OS_ID, 1), -ENOENT);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, 0x40000085, 0), -ENOENT);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, 0x400000a0, 0), -ENOENT);
	ck_assert_int_eq(vmbus_synic_rdmsr(syn, 0, 0x4000008f, &v), -ENOENT);
	ck_assert_int_eq(vmbus_synic_rdmsr(syn, 0, HV_X64_MSR_HYPERCALL, &v), -ENOENT);
	/* VP out of range. */
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 2, HV_X64_MSR_EOM, 0), -EINVAL);
	ck_assert_int_eq(vmbus_synic_rdmsr(syn, 7, HV_X64_MSR_SIMP, &v), -EINVAL);
}
END_TEST

START_TEST(msr_page_outside_ram)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	/* Enabling a page that is not RAM faults (KVM does the same). */
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SIMP,
					   RAM_SIZE | HV_MSR_ENABLE), -EINVAL);
	ck_assert_int_eq(vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_SIEFP,
					   0xfffffffffffff000ull | HV_MSR_ENABLE),
			 -EINVAL);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIMP), SIMP_GPA | HV_MSR_ENABLE);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIEFP), SIEFP_GPA | HV_MSR_ENABLE);
	/* Still delivering into the old page. */
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 7), 0);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, 1);
	/* A disabled page may point anywhere; it is never touched. */
	wr(0, HV_X64_MSR_SIMP, RAM_SIZE);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIMP), RAM_SIZE);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 8), 0);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 1);
}
END_TEST

START_TEST(msr_move_and_rewrite_page)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 1), 0);
	/* Rewriting the same value keeps the page (and the message in it). */
	wr(0, HV_X64_MSR_SIMP, SIMP_GPA | HV_MSR_ENABLE);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, 1);
	/* Moving it zeroes the new page; later messages land there. */
	memset(ram + 0x5000, 0x55, HV_PAGE_SIZE);
	wr(0, HV_X64_MSR_SIMP, 0x5000 | HV_MSR_ENABLE);
	ck_assert_uint_eq(ram[0x5000 + 100], 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 2), 0);
	ck_assert_uint_eq(slot_at(0x5000, VMBUS_SINT)->header.message_type, 1);
	ck_assert_uint_eq(payload_u32(slot_at(0x5000, VMBUS_SINT)), 2);
}
END_TEST

/* ---- Messages ------------------------------------------------------------ */

START_TEST(deliver_into_empty_slot)
{
	uint8_t payload[40];
	struct hv_message *m;
	unsigned int i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(vmbus_synic_post(syn, 0, VMBUS_SINT, 1, 0x1234,
					  payload, sizeof(payload)), 0);
	m = slot(VMBUS_SINT);
	ck_assert_uint_eq(m->header.message_type, HV_MESSAGE_TYPE_VMBUS);
	ck_assert_uint_eq(m->header.payload_size, sizeof(payload));
	ck_assert_uint_eq(m->header.flags, 0);
	ck_assert_uint_eq(m->header.sender, 0x1234);
	ck_assert_mem_eq(m->payload, payload, sizeof(payload));
	ck_assert_uint_eq(nirq, 1);
	ck_assert_uint_eq(irqs[0].vp, 0);
	ck_assert_uint_eq(irqs[0].sint, VMBUS_SINT);
	ck_assert_uint_eq(irqs[0].vector, 0xf3);
	/* Other slots untouched. */
	ck_assert_uint_eq(slot(VMBUS_SINT + 1)->header.message_type, 0);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 0);
}
END_TEST

START_TEST(second_message_queues_and_sets_pending)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 100), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 200), 0);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 100);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.flags, HV_MESSAGE_FLAG_PENDING);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 1);
	ck_assert_uint_eq(nirq, 1);
	/* EOM while the slot is still busy changes nothing. */
	wr(0, HV_X64_MSR_EOM, 0);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 100);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 1);
	ck_assert_uint_eq(nirq, 1);
}
END_TEST

START_TEST(eom_after_free_delivers_next)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 100), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 200), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 300), 0);
	guest_free(0, slot(VMBUS_SINT));
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 200);
	/* One more behind it: still pending. */
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.flags, HV_MESSAGE_FLAG_PENDING);
	ck_assert_uint_eq(nirq, 2);
	guest_free(0, slot(VMBUS_SINT));
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 300);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.flags, 0);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 0);
	ck_assert_uint_eq(nirq, 3);
	ck_assert_uint_eq(irqs[2].vector, 0xf3);
}
END_TEST

START_TEST(freed_without_eom_retry_delivers)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 1), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 2), 0);
	slot(VMBUS_SINT)->header.message_type = HVMSG_NONE;	/* no EOM */
	ck_assert_int_eq(vmbus_synic_retry(syn, 0), 1);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 2);
	ck_assert_int_eq(vmbus_synic_retry(syn, 0), 0);
	ck_assert_int_eq(vmbus_synic_retry(syn, 9), -EINVAL);
}
END_TEST

START_TEST(thousand_messages_in_order)
{
	uint32_t next_post = 0, next_recv = 0, seed = 12345;

	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	/* Posts and drains interleaved in bursts of varying length. */
	while (next_recv < 1000) {
		uint32_t burst, i;

		seed = seed * 1103515245u + 12345u;
		burst = (seed >> 16) % 17;
		for (i = 0; i < burst && next_post < 1000; i++)
			ck_assert_int_eq(post_u32(0, VMBUS_SINT, next_post++), 0);
		seed = seed * 1103515245u + 12345u;
		burst = (seed >> 16) % 13 + 1;
		for (i = 0; i < burst; i++) {
			struct hv_message *m = slot(VMBUS_SINT);

			if (m->header.message_type == HVMSG_NONE)
				break;
			ck_assert_uint_eq(m->header.payload_size, 4);
			ck_assert_uint_eq(payload_u32(m), next_recv);
			next_recv++;
			guest_free(0, m);
		}
	}
	ck_assert_uint_eq(next_post, 1000);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 0);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, HVMSG_NONE);
	ck_assert_uint_eq(nirq, 1000);
}
END_TEST

/* A guest thread drains with Linux's protocol while the host posts: the
 * pending flag hand-off must never strand a message. */
#define THREAD_MSGS	20000u

static void *host_poster(void *arg)
{
	uint32_t i;

	(void)arg;
	for (i = 0; i < THREAD_MSGS; i++)
		if (post_u32(0, VMBUS_SINT, i))
			return (void *)1;
	return NULL;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(threaded_drain_loses_nothing)
{
	double last;
	pthread_t t;
	uint32_t next = 0, val;
	unsigned long polls = 0;
	void *res;

	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(pthread_create(&t, NULL, host_poster, NULL), 0);
	last = seconds();
	/* Plain ifs in the loop: a passing ck_assert costs a syscall. */
	while (next < THREAD_MSGS) {
		struct hv_message *m = slot(VMBUS_SINT);

		if (__atomic_load_n(&m->header.message_type, __ATOMIC_ACQUIRE) ==
		    HVMSG_NONE) {
			if (++polls % 4096 == 0 && seconds() - last > 10)
				ck_abort_msg("stuck at message %u, %d queued", next,
					     vmbus_synic_queued(syn, 0, VMBUS_SINT));
			continue;
		}
		memcpy(&val, m->payload, sizeof(val));
		if (val != next)
			ck_abort_msg("got message %u, expected %u", val, next);
		next++;
		last = seconds();
		__atomic_store_n(&m->header.message_type, HVMSG_NONE,
				 __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if ((__atomic_load_n(&m->header.flags, __ATOMIC_RELAXED) &
		     HV_MESSAGE_FLAG_PENDING) &&
		    vmbus_synic_wrmsr(syn, 0, HV_X64_MSR_EOM, 0))
			ck_abort_msg("EOM refused");
	}
	pthread_join(t, &res);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 0);
}
END_TEST

START_TEST(masked_sint_queues_until_unmask)
{
	uint64_t v;

	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	v = rd(0, HV_X64_MSR_SINT0 + VMBUS_SINT);
	wr(0, HV_X64_MSR_SINT0 + VMBUS_SINT, v | HV_SINT_MASKED);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 11), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 12), 0);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, HVMSG_NONE);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 2);
	ck_assert_uint_eq(nirq, 0);
	wr(0, HV_X64_MSR_EOM, 0);	/* EOM does not bypass the mask */
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, HVMSG_NONE);
	wr(0, HV_X64_MSR_SINT0 + VMBUS_SINT, v);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 11);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.flags, HV_MESSAGE_FLAG_PENDING);
	ck_assert_uint_eq(nirq, 1);
	ck_assert_uint_eq(irqs[0].vector, 0xf3);
	guest_free(0, slot(VMBUS_SINT));
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 12);
}
END_TEST

START_TEST(queued_before_synic_enabled)
{
	/* Messages posted before the guest set anything up wait for it. */
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 5), 0);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 1);
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 5);
	ck_assert_uint_eq(nirq, 1);
	/* SCONTROL off: queue again. */
	wr(0, HV_X64_MSR_SCONTROL, 0);
	guest_free(0, slot(VMBUS_SINT));
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 6), 0);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, HVMSG_NONE);
	wr(0, HV_X64_MSR_SCONTROL, HV_SCONTROL_ENABLE);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 6);
}
END_TEST

START_TEST(post_bad_arguments)
{
	uint8_t big[HV_MESSAGE_PAYLOAD_BYTE_COUNT + 1] = { 0 };

	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(vmbus_synic_post(syn, 0, VMBUS_SINT, 1, 0, big,
					  sizeof(big)), -EINVAL);
	ck_assert_int_eq(vmbus_synic_post(syn, 0, VMBUS_SINT, HVMSG_NONE, 0,
					  big, 4), -EINVAL);
	ck_assert_int_eq(vmbus_synic_post(syn, 2, VMBUS_SINT, 1, 0, big, 4), -EINVAL);
	ck_assert_int_eq(vmbus_synic_post(syn, 0, 16, 1, 0, big, 4), -EINVAL);
	ck_assert_int_eq(vmbus_synic_post(syn, 0, VMBUS_SINT, 1, 0, NULL, 4), -EINVAL);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.message_type, HVMSG_NONE);
	ck_assert_uint_eq(nirq, 0);
	/* 240 bytes and an empty payload are both fine. */
	ck_assert_int_eq(vmbus_synic_post(syn, 0, VMBUS_SINT, 1, 0, big, 240), 0);
	ck_assert_int_eq(vmbus_synic_post(syn, 0, VMBUS_SINT, 1, 0, NULL, 0), 0);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.payload_size, 240);
}
END_TEST

START_TEST(queue_bound_gives_enobufs)
{
	vmbus_synic_free(syn);
	make_synic(1, 3);
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 0), 0);	/* in the slot */
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 1), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 2), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 3), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 4), -ENOBUFS);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 3);
	/* Other slots have their own bound. */
	ck_assert_int_eq(post_u32(0, 5, 9), 0);
	guest_free(0, slot(VMBUS_SINT));
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 4), 0);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 1);
}
END_TEST

START_TEST(reset_discards_and_powers_on)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 1), 0);
	ck_assert_int_eq(post_u32(0, VMBUS_SINT, 2), 0);
	vmbus_synic_reset(syn);
	ck_assert_int_eq(vmbus_synic_queued(syn, 0, VMBUS_SINT), 0);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIMP), 0);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SCONTROL), 0);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + VMBUS_SINT), HV_SINT_MASKED);
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 0), -ENODEV);
}
END_TEST

START_TEST(host_ops_adapter)
{
	const struct vmbus_hv_host host = { &vmbus_synic_host_ops, syn };
	uint32_t val = 0x5a5a;

	linux_enable(1, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(vmbus_hv_deliver_message(&host, 1, VMBUS_SINT, 1, &val, 4), 0);
	ck_assert_uint_eq(payload_u32(slot(VMBUS_SINT)), 0x5a5a);
	ck_assert_uint_eq(slot(VMBUS_SINT)->header.sender, 0);
	ck_assert_uint_eq(irqs[0].vp, 1);
	ck_assert_int_eq(vmbus_hv_set_event(&host, 1, VMBUS_SINT, 3), 1);
	ck_assert_int_eq(vmbus_hv_set_event(&host, 1, VMBUS_SINT, 3), 0);
	ck_assert_int_eq(vmbus_hv_deliver_message(&host, 1, VMBUS_SINT, 1, &val, 241),
			 -EINVAL);
}
END_TEST

/* ---- Event flags --------------------------------------------------------- */

START_TEST(event_flag_once_one_interrupt)
{
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 5), 1);
	ck_assert(event_bit(SIEFP_GPA, VMBUS_SINT, 5));
	ck_assert(!event_bit(SIEFP_GPA, VMBUS_SINT, 4));
	ck_assert(!event_bit(SIEFP_GPA, VMBUS_SINT + 1, 5));
	ck_assert_uint_eq(nirq, 1);
	ck_assert_uint_eq(irqs[0].sint, VMBUS_SINT);
	ck_assert_uint_eq(irqs[0].vector, 0xf3);
	/* Already set: no second interrupt. */
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 5), 0);
	ck_assert_uint_eq(nirq, 1);
	/* The guest consumes it; the next one interrupts again. */
	ram[SIEFP_GPA + VMBUS_SINT * HV_EVENT_FLAGS_BYTE_COUNT] = 0;
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 5), 1);
	ck_assert_uint_eq(nirq, 2);
	/* Last flag; first invalid flag. */
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 2047), 1);
	ck_assert(event_bit(SIEFP_GPA, VMBUS_SINT, 2047));
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 2048), -EINVAL);
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, 16, 0), -EINVAL);
	ck_assert_int_eq(vmbus_synic_set_event(syn, 2, VMBUS_SINT, 0), -EINVAL);
	ck_assert_uint_eq(nirq, 3);
}
END_TEST

START_TEST(event_flag_masked_and_disabled)
{
	uint64_t v;

	/* No SIEFP / SCONTROL yet: nothing is written anywhere. */
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 1), -ENODEV);
	linux_enable(0, SIMP_GPA, SIEFP_GPA);
	v = rd(0, HV_X64_MSR_SINT0 + VMBUS_SINT);
	wr(0, HV_X64_MSR_SINT0 + VMBUS_SINT, v | HV_SINT_MASKED);
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 1), 1);
	ck_assert(event_bit(SIEFP_GPA, VMBUS_SINT, 1));
	ck_assert_uint_eq(nirq, 0);
	/* Unmask: the interrupt held back is raised once. */
	wr(0, HV_X64_MSR_SINT0 + VMBUS_SINT, v);
	ck_assert_uint_eq(nirq, 1);
	wr(0, HV_X64_MSR_SINT0 + VMBUS_SINT, v | HV_SINT_MASKED);
	wr(0, HV_X64_MSR_SINT0 + VMBUS_SINT, v);
	ck_assert_uint_eq(nirq, 1);
	/* SIEFP disabled: refused, page untouched. */
	wr(0, HV_X64_MSR_SIEFP, SIEFP_GPA);
	ram[SIEFP_GPA + VMBUS_SINT * HV_EVENT_FLAGS_BYTE_COUNT] = 0;
	ck_assert_int_eq(vmbus_synic_set_event(syn, 0, VMBUS_SINT, 1), -ENODEV);
	ck_assert(!event_bit(SIEFP_GPA, VMBUS_SINT, 1));
}
END_TEST

/* ---- Connection table and hypercalls ------------------------------------- */

static struct vmbus_synic_conns *conns;
static struct vmbus_synic_mem gmem;
static unsigned int nposts, nsignals;
static uint32_t last_conn, last_type, last_size;
static uint16_t last_flag;
static uint8_t last_payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT];

/* A bus that refuses everything but VMBus messages. */
static uint16_t on_msg(void *opaque, uint32_t id, uint32_t type,
		       const void *payload, uint32_t size)
{
	(void)opaque;
	nposts++;
	last_conn = id;
	last_type = type;
	last_size = size;
	memcpy(last_payload, payload, size);
	return type == HV_MESSAGE_TYPE_VMBUS ? HV_STATUS_SUCCESS :
					       HV_STATUS_INVALID_PARAMETER;
}

static uint16_t on_event(void *opaque, uint32_t id, uint16_t flag)
{
	(void)opaque;
	nsignals++;
	last_conn = id;
	last_flag = flag;
	return HV_STATUS_SUCCESS;
}

static void hc_setup(void)
{
	setup();
	gmem = (struct vmbus_synic_mem){ vmbus_synic_flat_map, &flat };
	nposts = nsignals = 0;
	ck_assert_int_eq(vmbus_synic_conns_new(&conns), 0);
	ck_assert_int_eq(vmbus_synic_conns_add_message(conns, 1, on_msg, NULL), 0);
	ck_assert_int_eq(vmbus_synic_conns_add_message(conns, 4, on_msg, NULL), 0);
	ck_assert_int_eq(vmbus_synic_conns_add_event(conns, 0x10, on_event, NULL), 0);
}

static void hc_teardown(void)
{
	vmbus_synic_conns_free(conns);
	conns = NULL;
	teardown();
}

static struct hv_input_post_message *input_at(uint64_t gpa)
{
	return (struct hv_input_post_message *)(ram + gpa);
}

static void put_post(uint64_t gpa, uint32_t conn, uint32_t type, uint32_t size)
{
	struct hv_input_post_message in = {
		.connection_id = conn, .message_type = type,
		.payload_size = size,
	};
	uint32_t i;

	for (i = 0; i < HV_MESSAGE_PAYLOAD_QWORD_COUNT; i++)
		in.payload[i] = 0x0101010101010101ull * (i + 1);
	memcpy(ram + gpa, &in, sizeof(in));
}

static uint16_t hcall(uint64_t control, uint64_t input)
{
	return vmbus_synic_hcall_handle(control, input, &gmem, conns);
}

#define POST	HVCALL_POST_MESSAGE
#define SIGNAL	(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT)

static uint64_t sig_arg(uint32_t conn, uint32_t flag)
{
	return conn | ((uint64_t)flag << HV_SIGNAL_EVENT_FLAG_SHIFT);
}

START_TEST(hcall_post_message_ok)
{
	struct vmbus_synic_hcall call;

	put_post(INPUT_GPA, 1, HV_MESSAGE_TYPE_VMBUS, 240);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(nposts, 1);
	ck_assert_uint_eq(last_conn, 1);
	ck_assert_uint_eq(last_size, 240);
	ck_assert_mem_eq(last_payload, input_at(INPUT_GPA)->payload, 240);
	/* Connection 4 (INITIATE_CONTACT at 5.0+) works the same. */
	put_post(INPUT_GPA, 4, HV_MESSAGE_TYPE_VMBUS, 0);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(last_conn, 4);
	ck_assert_uint_eq(last_size, 0);
	/* Input read once: scribbling after decode changes nothing. */
	put_post(INPUT_GPA + 0x100, 1, HV_MESSAGE_TYPE_VMBUS, 16);
	ck_assert_uint_eq(vmbus_synic_hcall_decode(POST, INPUT_GPA + 0x100, &gmem,
						   conns, &call), HV_STATUS_SUCCESS);
	memset(ram + INPUT_GPA + 0x100, 0xff, 256);
	ck_assert_uint_eq(call.post.payload_size, 16);
	ck_assert_uint_eq(call.post.payload[0], 0x0101010101010101ull);
	ck_assert_uint_eq(vmbus_synic_hcall_dispatch(conns, &call), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(nposts, 3);
	/* Dispatch re-checks a call built by hand. */
	call.post.payload_size = 241;
	ck_assert_uint_eq(vmbus_synic_hcall_dispatch(conns, &call),
			  HV_STATUS_INVALID_PARAMETER);
	call.code = 0x1234;
	ck_assert_uint_eq(vmbus_synic_hcall_dispatch(conns, &call),
			  HV_STATUS_INVALID_HYPERCALL_CODE);
	ck_assert_uint_eq(nposts, 3);
	/* The last 256 bytes of a page are fine. */
	put_post(INPUT_GPA + 0xf00, 1, HV_MESSAGE_TYPE_VMBUS, 8);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA + 0xf00), HV_STATUS_SUCCESS);
}
END_TEST

START_TEST(hcall_post_message_hostile)
{
	put_post(INPUT_GPA, 1, HV_MESSAGE_TYPE_VMBUS, 241);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	put_post(INPUT_GPA, 1, HV_MESSAGE_TYPE_VMBUS, 0xffffffffu);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	put_post(INPUT_GPA, 1, 0, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	put_post(INPUT_GPA, 1, 0x80000001u, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	/* Type 2 passes the hypervisor checks; the bus refuses it. */
	put_post(INPUT_GPA, 1, 2, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(nposts, 1);
	ck_assert_uint_eq(last_type, 2);
	/* RsvdZ dword; connection-id reserved byte. */
	put_post(INPUT_GPA, 1, 1, 4);
	input_at(INPUT_GPA)->reserved = 1;
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	put_post(INPUT_GPA, 0x01000001, 1, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PARAMETER);
	/* Connection ids. */
	put_post(INPUT_GPA, 7, 1, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_CONNECTION_ID);
	put_post(INPUT_GPA, 0x10, 1, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_PORT_ID);
	/* Input GPA: misaligned, page-crossing, outside RAM. */
	put_post(INPUT_GPA, 1, 1, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA + 4), HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA + 1), HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA + 0xf08), HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(hcall(POST, RAM_SIZE), HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(hcall(POST, 0xfffffffffffff000ull), HV_STATUS_INVALID_ALIGNMENT);
	/* No fast form. */
	ck_assert_uint_eq(hcall(POST | HV_HYPERCALL_FAST_BIT, INPUT_GPA),
			  HV_STATUS_INVALID_HYPERCALL_CODE);
	ck_assert_uint_eq(nposts, 1);
}
END_TEST

START_TEST(hcall_signal_event)
{
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x10, 0)), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(nsignals, 1);
	ck_assert_uint_eq(last_conn, 0x10);
	ck_assert_uint_eq(last_flag, 0);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x10, 2047)), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(last_flag, 2047);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x10, 2048)), HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x10, 0xffff)), HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x10, 0) | (1ull << 48)),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x10, 0) | (1ull << 63)),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x01000010, 0)),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(0x11, 0)), HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(hcall(SIGNAL, sig_arg(1, 0)), HV_STATUS_INVALID_PORT_ID);
	ck_assert_uint_eq(nsignals, 2);

	/* Memory form, as KVM and QEMU accept it. */
	*(uint64_t *)(ram + INPUT_GPA + 0xff8) = sig_arg(0x10, 9);
	ck_assert_uint_eq(hcall(HVCALL_SIGNAL_EVENT, INPUT_GPA + 0xff8), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(last_flag, 9);
	ck_assert_uint_eq(hcall(HVCALL_SIGNAL_EVENT, INPUT_GPA + 0xffc),
			  HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(hcall(HVCALL_SIGNAL_EVENT, RAM_SIZE + 8),
			  HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(nsignals, 3);
}
END_TEST

START_TEST(hcall_control_word)
{
	static const unsigned int rsvd_bits[] = { 27, 28, 31, 44, 47, 60, 63 };
	unsigned int i;

	put_post(INPUT_GPA, 1, 1, 4);
	for (i = 0; i < sizeof(rsvd_bits) / sizeof(rsvd_bits[0]); i++) {
		ck_assert_uint_eq(hcall(POST | (1ull << rsvd_bits[i]), INPUT_GPA),
				  HV_STATUS_INVALID_HYPERCALL_INPUT);
		ck_assert_uint_eq(hcall(SIGNAL | (1ull << rsvd_bits[i]), sig_arg(0x10, 0)),
				  HV_STATUS_INVALID_HYPERCALL_INPUT);
	}
	/* Rep count, rep start, variable header: simple calls only. */
	ck_assert_uint_eq(hcall(POST | (1ull << HV_HYPERCALL_REP_COMP_SHIFT), INPUT_GPA),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	ck_assert_uint_eq(hcall(SIGNAL | (1ull << HV_HYPERCALL_REP_START_SHIFT),
				sig_arg(0x10, 0)), HV_STATUS_INVALID_HYPERCALL_INPUT);
	ck_assert_uint_eq(hcall(POST | (1ull << HV_HYPERCALL_VARHEAD_SHIFT), INPUT_GPA),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* Codes we do not serve. */
	ck_assert_uint_eq(hcall(0x0001, INPUT_GPA), HV_STATUS_INVALID_HYPERCALL_CODE);
	ck_assert_uint_eq(hcall(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0),
			  HV_STATUS_INVALID_HYPERCALL_CODE);
	ck_assert_uint_eq(hcall(0xffff | HV_HYPERCALL_FAST_BIT, 0),
			  HV_STATUS_INVALID_HYPERCALL_CODE);
	ck_assert_uint_eq(nposts + nsignals, 0);
	/* And the plain call still works. */
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_SUCCESS);
}
END_TEST

START_TEST(conns_table)
{
	const struct vmbus_hv_guest guest = { &vmbus_synic_conns_guest_ops, conns };
	uint32_t ids[64], i, val = 77;

	ck_assert_int_eq(vmbus_synic_conns_add_message(conns, 1, on_msg, NULL), -EEXIST);
	ck_assert_int_eq(vmbus_synic_conns_add_event(conns, 4, on_event, NULL), -EEXIST);
	ck_assert_int_eq(vmbus_synic_conns_add_event(conns, 0x1000000, on_event, NULL),
			 -EINVAL);
	ck_assert_int_eq(vmbus_synic_conns_add_event(conns, 5, NULL, NULL), -EINVAL);
	/* Many ids in scrambled order, all found with the right kind. */
	for (i = 0; i < 64; i++) {
		ids[i] = 0x100 + ((i * 37) % 64) * 3;
		ck_assert_int_eq(vmbus_synic_conns_add_event(conns, ids[i], on_event, NULL), 0);
	}
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(vmbus_synic_conns_signal(conns, ids[i], 0), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(nsignals, 64);
	ck_assert_uint_eq(vmbus_synic_conns_signal(conns, 0x101, 0),
			  HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_int_eq(vmbus_synic_conns_remove(conns, ids[10]), 0);
	ck_assert_int_eq(vmbus_synic_conns_remove(conns, ids[10]), -ENOENT);
	ck_assert_uint_eq(vmbus_synic_conns_signal(conns, ids[10], 0),
			  HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(vmbus_synic_conns_signal(conns, ids[11], 0), HV_STATUS_SUCCESS);

	/* The guest-side ops of an in-process carrier. */
	ck_assert_uint_eq(vmbus_hv_post_message(&guest, 1, 1, &val, 4), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(last_size, 4);
	ck_assert_mem_eq(last_payload, &val, 4);
	ck_assert_uint_eq(vmbus_hv_post_message(&guest, 1, 1, &val, 241),
			  HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_post_message(&guest, 1, 0x80000000u, &val, 4),
			  HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_post_message(&guest, 9, 1, &val, 4),
			  HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(vmbus_hv_signal_event(&guest, 0x10, 0), HV_STATUS_SUCCESS);
	ck_assert_uint_eq(vmbus_hv_signal_event(&guest, 0x10, 2048),
			  HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_signal_event(&guest, 0x01000010, 0),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	ck_assert_uint_eq(vmbus_hv_signal_event(&guest, 1, 0), HV_STATUS_INVALID_PORT_ID);
	ck_assert_uint_eq(vmbus_hv_post_message(&guest, 0x10, 1, &val, 4),
			  HV_STATUS_INVALID_PORT_ID);
	ck_assert_uint_eq(vmbus_hv_post_message(&guest, 1, 1, NULL, 4),
			  HV_STATUS_INVALID_PARAMETER);
	/* A removed message connection. */
	ck_assert_int_eq(vmbus_synic_conns_remove(conns, 1), 0);
	put_post(INPUT_GPA, 1, 1, 4);
	ck_assert_uint_eq(hcall(POST, INPUT_GPA), HV_STATUS_INVALID_CONNECTION_ID);
}
END_TEST

START_TEST(bad_configs)
{
	struct vmbus_synic_config cfg = {
		.vp_count = 1, .mem = { vmbus_synic_flat_map, &flat },
		.raise = record_irq,
	};
	struct vmbus_synic *s2 = NULL;

	cfg.vp_count = 0;
	ck_assert_int_eq(vmbus_synic_new(&cfg, &s2), -EINVAL);
	cfg.vp_count = 4097;
	ck_assert_int_eq(vmbus_synic_new(&cfg, &s2), -EINVAL);
	cfg.vp_count = 1;
	cfg.raise = NULL;
	ck_assert_int_eq(vmbus_synic_new(&cfg, &s2), -EINVAL);
	cfg.raise = record_irq;
	cfg.mem.map = NULL;
	ck_assert_int_eq(vmbus_synic_new(&cfg, &s2), -EINVAL);
	ck_assert_ptr_null(s2);
	/* flat map bounds */
	ck_assert_ptr_null(vmbus_synic_flat_map(&flat, RAM_SIZE - 8, 16));
	ck_assert_ptr_null(vmbus_synic_flat_map(&flat, UINT64_MAX, 2));
	ck_assert_ptr_null(vmbus_synic_flat_map(&flat, 0, UINT64_MAX));
	ck_assert_ptr_eq(vmbus_synic_flat_map(&flat, RAM_SIZE - 16, 16),
			 ram + RAM_SIZE - 16);
}
END_TEST

static Suite *synic_suite(void)
{
	Suite *s = suite_create("synic");
	TCase *tc;

	tc = tcase_create("msr");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, msr_power_on_and_linux_programming);
	tcase_add_test(tc, msr_hostile_writes);
	tcase_add_test(tc, msr_page_outside_ram);
	tcase_add_test(tc, msr_move_and_rewrite_page);
	tcase_add_test(tc, bad_configs);
	suite_add_tcase(s, tc);

	tc = tcase_create("message");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, deliver_into_empty_slot);
	tcase_add_test(tc, second_message_queues_and_sets_pending);
	tcase_add_test(tc, eom_after_free_delivers_next);
	tcase_add_test(tc, freed_without_eom_retry_delivers);
	tcase_add_test(tc, thousand_messages_in_order);
	tcase_add_test(tc, threaded_drain_loses_nothing);
	tcase_add_test(tc, masked_sint_queues_until_unmask);
	tcase_add_test(tc, queued_before_synic_enabled);
	tcase_add_test(tc, post_bad_arguments);
	tcase_add_test(tc, queue_bound_gives_enobufs);
	tcase_add_test(tc, reset_discards_and_powers_on);
	tcase_add_test(tc, host_ops_adapter);
	suite_add_tcase(s, tc);

	tc = tcase_create("event");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, event_flag_once_one_interrupt);
	tcase_add_test(tc, event_flag_masked_and_disabled);
	suite_add_tcase(s, tc);

	tc = tcase_create("hypercall");
	tcase_add_checked_fixture(tc, hc_setup, hc_teardown);
	tcase_add_test(tc, hcall_post_message_ok);
	tcase_add_test(tc, hcall_post_message_hostile);
	tcase_add_test(tc, hcall_signal_event);
	tcase_add_test(tc, hcall_control_word);
	tcase_add_test(tc, conns_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(synic_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
