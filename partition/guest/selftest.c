/* SPDX-License-Identifier: MIT */
/*
 * The partition self-test guest. Default mode: discover Hyper-V and
 * enable hypercalls and the SynIC the way Linux does, time a null
 * hypercall, then connect to the VMBus with libvmbus's client (compiled
 * in freestanding), list the offers, test each SCSI controller (gdisk.c)
 * and NIC (gnet.c; with "ip=A.B.C.D/N" it also answers ARP and ping until
 * the runner says stop), unload and exit. "hostile" mode (runner command
 * line): feed the hypervisor bad MSR values and bad hypercalls and check
 * each answer against the TLFS status or #GP it must produce. Either way
 * every check prints PASS or FAIL and the exit status is the number of
 * failures.
 *
 * Expected answers: Hyper-V TLFS (via include/vmbus/proto/tlfs.h) and the
 * rules documented in include/vmbus/synic.h and partition/hvmsr.h.
 */
#include <vmbus/client.h>
#include <vmbus/proto/vmbus.h>

#include "freestanding.h"
#include "gbus.h"
#include "hvg.h"
#include "rt.h"
#include "selftest.h"

/* How long the guest waits for a bus reply (the runner's time-out is the
 * backstop if even the timer fails). */
#define BUS_WAIT_100NS		(5ull * 10000000)
#define TIMER_PERIOD_NS		10000000ull	/* 10 ms */

/* Null hypercalls timed after bring-up. */
#define HCALL_TIMING_CALLS	2000u
#define MAX_OFFERS		16u

static unsigned int checks, failures;

void st_check(bool ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	rt_puts(ok ? "PASS: " : "FAIL: ");
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
	rt_putc('\n');
}

static void check(bool ok, const char *what)
{
	st_check(ok, "%s", what);
}

static void check_status(uint64_t rax, uint16_t want, const char *what)
{
	uint16_t got = (uint16_t)(rax & HV_HYPERCALL_RESULT_MASK);

	checks++;
	if (got != want)
		failures++;
	rt_printf("%s: %s (status 0x%x, want 0x%x)\n",
		  got == want ? "PASS" : "FAIL", what, got, want);
}

/* ---- Bring-up shared by both modes ------------------------------------------ */

static bool bring_up(void)
{
	struct hvg_info info = { 0 };
	const char *err;
	uint64_t t0, t1, v;

	err = hvg_discover(&info);
	check(!err, err ? err : "Hyper-V discovered through CPUID");
	if (err)
		return false;
	rt_printf("hv: max leaf 0x%x, version %u.%u build %u, features 0x%x, "
		  "privileges 0x%x, hints 0x%x, max VPs %u\n", info.max_leaf,
		  info.version >> 16, info.version & 0xffff, info.build,
		  info.features, info.privileges, info.hints, info.max_vps);
	check(info.features & HV_MSR_SYNIC_AVAILABLE, "SynIC offered");
	check(info.features & HV_MSR_TIME_REF_COUNT_AVAILABLE,
	      "reference counter offered");
	check((info.privileges & (HV_POST_MESSAGES | HV_SIGNAL_EVENTS)) ==
	      (HV_POST_MESSAGES | HV_SIGNAL_EVENTS),
	      "post-message and signal-event privileges");
	check(!(info.privileges & (HV_CPU_MANAGEMENT | HV_ISOLATION)),
	      "not a root partition, not isolated");
	check(info.hints & HV_DEPRECATING_AEOI_RECOMMENDED,
	      "auto-EOI deprecated");

	err = hvg_enable_hypercalls();
	check(!err, err ? err : "hypercall page enabled");
	if (err)
		return false;
	check(rt_rdmsr(HV_X64_MSR_GUEST_OS_ID) == HVG_GUEST_OS_ID,
	      "GUEST_OS_ID reads back");
	check(rt_rdmsr(HV_X64_MSR_VP_INDEX) == 0, "VP_INDEX is 0 on the BSP");
	t0 = rt_rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	t1 = rt_rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	check(t1 >= t0, "TIME_REF_COUNT does not run backwards");
	if (info.features & HV_ACCESS_FREQUENCY_MSRS) {
		v = rt_rdmsr(HV_X64_MSR_TSC_FREQUENCY);
		rt_printf("hv: TSC %llu kHz, APIC %llu kHz\n",
			  (unsigned long long)(v / 1000),
			  (unsigned long long)(rt_rdmsr(HV_X64_MSR_APIC_FREQUENCY) / 1000));
		check(v != 0, "TSC_FREQUENCY is non-zero");
	}
	check(rt_rdmsr(HV_X64_MSR_SVERSION) == HV_SYNIC_VERSION_1,
	      "SVERSION is 1");
	err = hvg_synic_enable(RT_VEC_SINT);
	check(!err, err ? err : "SynIC enabled: SIMP, SIEFP, SINT2, SCONTROL");
	if (err)
		return false;
	rt_printf("apic: %s\n", rt_lapic_init(TIMER_PERIOD_NS) ? "x2APIC" : "xAPIC");
	return true;
}

/* ---- The bus ------------------------------------------------------------------- */

static uint8_t client_mem[32768] __attribute__((aligned(64)));
static struct vmbus_client *client;
static volatile bool offers_done;
static unsigned int offer_count;
static bool saw_test_offer;
static struct vmbus_msg_offer offers[MAX_OFFERS];
static const struct vmbus_guid scsi_type = VMBUS_GUID_SCSI;
static const struct vmbus_guid net_type = VMBUS_GUID_NET;

/* The runner's test offer (PART_TEST_OFFER_GUID in partition/hv.h). */
static const struct vmbus_guid test_offer_type =
	VMBUS_GUID_INIT(0x5d0b4f6a, 0x2c1e, 0x4b7d, 0x9a35, 0x7e81c04d2b96ull);

static void print_guid(const struct vmbus_guid *g)
{
	const uint8_t *b = g->b;

	rt_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		  "%02x%02x%02x%02x%02x%02x",
		  b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9],
		  b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void on_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	(void)ctx;
	if (offer_count < MAX_OFFERS)
		offers[offer_count] = *o;
	offer_count++;
	rt_printf("offer: relid %u connection 0x%x type ", o->child_relid,
		  o->connection_id);
	print_guid(&o->if_type);
	rt_puts(" instance ");
	print_guid(&o->if_instance);
	rt_puts("\n");
	if (!memcmp(&o->if_type, &test_offer_type, sizeof(test_offer_type)))
		saw_test_offer = true;
}

static void on_offers_delivered(void *ctx)
{
	(void)ctx;
	offers_done = true;
}

static const struct vmbus_client_events events = {
	.offer = on_offer,
	.offers_delivered = on_offers_delivered,
};

/* The value of "ip=A.B.C.D/N" on the command line (host byte order), or
 * 0. The runner checked the syntax. */
static uint32_t cmdline_ip(const char *s)
{
	uint32_t ip = 0, part = 0;
	unsigned int dots = 0;

	while (*s) {
		while (*s == ' ')
			s++;
		if (s[0] == 'i' && s[1] == 'p' && s[2] == '=')
			break;
		while (*s && *s != ' ')
			s++;
	}
	if (!*s)
		return 0;
	for (s += 3; *s && *s != '/' && *s != ' '; s++) {
		if (*s == '.') {
			ip = ip << 8 | (part & 0xff);
			part = 0;
			dots++;
		} else if (*s >= '0' && *s <= '9') {
			part = part * 10 + (uint32_t)(*s - '0');
		} else {
			return 0;
		}
	}
	return dots == 3 ? ip << 8 | (part & 0xff) : 0;
}

/* The round trip of a hypercall the hypervisor answers at once (a
 * signal to a connection nobody registered), in nanoseconds. */
static void time_hypercalls(void)
{
	uint64_t t0, t1;
	unsigned int i;

	t0 = rt_rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	for (i = 0; i < HCALL_TIMING_CALLS; i++)
		hvg_hypercall(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
			      0x7ffe, 0);
	t1 = rt_rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	rt_printf("hv: hypercall round trip %llu ns (%u calls)\n",
		  (unsigned long long)((t1 - t0) * 100 / HCALL_TIMING_CALLS),
		  HCALL_TIMING_CALLS);
}

static void device_tests(void)
{
	unsigned int i, n = offer_count < MAX_OFFERS ? offer_count : MAX_OFFERS;
	uint32_t ip = cmdline_ip(rt_boot->cmdline);

	for (i = 0; i < n; i++) {
		const struct vmbus_msg_offer *o = &offers[i];

		if (o->sub_channel_index)
			continue;
		if (!memcmp(&o->if_type, &scsi_type, sizeof(scsi_type)))
			st_disk_test(o);
		else if (!memcmp(&o->if_type, &net_type, sizeof(net_type)))
			st_net_test(o, ip);
	}
}

static void bus_test(void)
{
	struct vmbus_client_config cfg = {
		.hv = { &hvg_guest_ops, NULL },
		.events = &events,
		.max_channels = 16,
		.max_gpadls = 16,
	};
	struct vmbus_client_connect_params params = { .target_vcpu = 0 };
	uint64_t rax;
	size_t need;
	int ret;

	/* A fast HvSignalEvent to a connection nobody registered. */
	rax = hvg_hypercall(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
			    0x7fff, 0);
	check_status(rax, HV_STATUS_INVALID_CONNECTION_ID,
		     "HvSignalEvent to an unknown connection");

	need = vmbus_client_mem_size(&cfg);
	check(need && need <= sizeof(client_mem), "client memory fits");
	if (!need || need > sizeof(client_mem))
		return;
	ret = vmbus_client_init(client_mem, sizeof(client_mem), &cfg, &client);
	check(ret == 0, "vmbus client initialised");
	if (ret)
		return;
	gbus_client = client;

	ret = gbus_request(vmbus_client_connect(client, &params, gbus_done, NULL),
			   BUS_WAIT_100NS);
	rt_printf("bus: connect -> %d, version 0x%x, message connection %u\n",
		  ret, vmbus_client_version(client),
		  vmbus_client_msg_conn_id(client));
	check(ret == 0, "connected to the VMBus");
	if (ret)
		return;
	ret = vmbus_client_request_offers(client);
	check(ret == 0 && gbus_wait(&offers_done, BUS_WAIT_100NS),
	      "all offers delivered");
	rt_printf("bus: %u offer(s)\n", offer_count);
	if (saw_test_offer)
		rt_puts("bus: the runner's test offer is present\n");
	device_tests();
	ret = gbus_request(vmbus_client_unload(client, gbus_done, NULL),
			   BUS_WAIT_100NS);
	check(ret == 0, "unloaded the VMBus");
}

/* ---- Hostile mode -------------------------------------------------------------- */

static void expect_wr_gp(uint32_t msr, uint64_t v, const char *what)
{
	check(rt_wrmsr_safe(msr, v) != 0, what);
}

static void expect_rd_gp(uint32_t msr, const char *what)
{
	uint64_t v;

	check(rt_rdmsr_safe(msr, &v) != 0, what);
}

/* Post a message from a hand-made input block at @gpa. */
static uint64_t post_at(uint64_t control, uint64_t gpa, uint32_t conn,
			uint32_t type, uint32_t size)
{
	struct hv_input_post_message *in = (void *)(uintptr_t)gpa;

	if (gpa + sizeof(*in) <= rt_boot->mem_size) {
		in->connection_id = conn;
		in->reserved = 0;
		in->message_type = type;
		in->payload_size = size;
	}
	return hvg_hypercall(control, gpa, 0);
}

/* A scratch page above the image: room for inputs that cross pages. */
static uint64_t scratch_page(void)
{
	return (rt_boot->image_end + 2 * HV_PAGE_SIZE - 1) & ~(HV_PAGE_SIZE - 1ull);
}

static void hostile_msrs(void)
{
	uint64_t beyond = (rt_boot->mem_size + HV_PAGE_SIZE) | HV_MSR_ENABLE;
	uint64_t hc = rt_rdmsr(HV_X64_MSR_HYPERCALL);

	expect_wr_gp(HV_X64_MSR_SIMP, beyond, "SIMP page outside RAM -> #GP");
	expect_wr_gp(HV_X64_MSR_SIMP, 0xfee00000ull | HV_MSR_ENABLE,
		     "SIMP on the LAPIC page -> #GP");
	expect_wr_gp(HV_X64_MSR_SIEFP, beyond, "SIEFP page outside RAM -> #GP");
	expect_wr_gp(HV_X64_MSR_HYPERCALL, beyond,
		     "hypercall page outside RAM -> #GP");
	check(rt_rdmsr(HV_X64_MSR_HYPERCALL) == hc,
	      "HYPERCALL unchanged after the refused write");
	expect_wr_gp(HV_X64_MSR_HYPERCALL, hc | (1ull << 2),
		     "HYPERCALL reserved bit 2 -> #GP");
	expect_wr_gp(HV_X64_MSR_SINT0 + 2, RT_VEC_SINT | (1ull << 20),
		     "SINT2 reserved bit 20 -> #GP");
	expect_wr_gp(HV_X64_MSR_SINT0 + 2, 5, "SINT2 unmasked vector 5 -> #GP");
	expect_wr_gp(HV_X64_MSR_SCONTROL, HV_SCONTROL_ENABLE | 2,
		     "SCONTROL reserved bit 1 -> #GP");
	expect_wr_gp(HV_X64_MSR_SVERSION, 2, "SVERSION write -> #GP");
	expect_wr_gp(HV_X64_MSR_VP_INDEX, 1, "VP_INDEX write -> #GP");
	expect_wr_gp(HV_X64_MSR_TIME_REF_COUNT, 0, "TIME_REF_COUNT write -> #GP");
	expect_rd_gp(HV_X64_MSR_RESET, "RESET (not offered) read -> #GP");
	expect_rd_gp(0x400000f0, "unknown MSR 0x400000f0 read -> #GP");
	expect_wr_gp(0x400000f0, 1, "unknown MSR 0x400000f0 write -> #GP");
}

static void hostile_hypercalls(void)
{
	uint64_t page = scratch_page();
	uint32_t conn = VMBUS_MESSAGE_CONNECTION_ID;

	check(page + 2 * HV_PAGE_SIZE <= rt_boot->mem_size, "scratch pages fit");
	check_status(post_at(HVCALL_POST_MESSAGE, rt_boot->mem_size, conn, 1, 0),
		     HV_STATUS_INVALID_ALIGNMENT, "post input outside RAM");
	check_status(post_at(HVCALL_POST_MESSAGE, page + HV_PAGE_SIZE - 8, conn,
			     1, 0),
		     HV_STATUS_INVALID_ALIGNMENT, "post input crossing a page");
	check_status(post_at(HVCALL_POST_MESSAGE, page + 4, conn, 1, 0),
		     HV_STATUS_INVALID_ALIGNMENT, "post input misaligned");
	check_status(post_at(HVCALL_POST_MESSAGE | (1ull << 27), page, conn, 1, 0),
		     HV_STATUS_INVALID_HYPERCALL_INPUT, "reserved control bit 27");
	check_status(post_at(HVCALL_POST_MESSAGE | (1ull << 32), page, conn, 1, 0),
		     HV_STATUS_INVALID_HYPERCALL_INPUT, "rep count on PostMessage");
	check_status(post_at(0x0099, page, conn, 1, 0),
		     HV_STATUS_INVALID_HYPERCALL_CODE, "unknown call code 0x99");
	check_status(post_at(HVCALL_POST_MESSAGE | HV_HYPERCALL_FAST_BIT, page,
			     conn, 1, 0),
		     HV_STATUS_INVALID_HYPERCALL_CODE, "fast PostMessage");
	check_status(post_at(HVCALL_POST_MESSAGE, page, conn, 1, 241),
		     HV_STATUS_INVALID_PARAMETER, "payload size 241");
	check_status(post_at(HVCALL_POST_MESSAGE, page, conn, 0, 8),
		     HV_STATUS_INVALID_PARAMETER, "message type 0");
	check_status(post_at(HVCALL_POST_MESSAGE, page, 0x1234, 1, 8),
		     HV_STATUS_INVALID_CONNECTION_ID, "unknown connection 0x1234");
	check_status(hvg_hypercall(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
				   VMBUS_EVENT_CONNECTION_ID |
				   2048ull << HV_SIGNAL_EVENT_FLAG_SHIFT, 0),
		     HV_STATUS_INVALID_PARAMETER, "SignalEvent flag 2048");

	/* GUEST_OS_ID 0 turns the hypercall page off. */
	rt_wrmsr(HV_X64_MSR_GUEST_OS_ID, 0);
	check(!(rt_rdmsr(HV_X64_MSR_HYPERCALL) & HV_MSR_ENABLE),
	      "GUEST_OS_ID 0 disables HYPERCALL");
	check_status(hvg_hypercall(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
				   0x7fff, 0),
		     HV_STATUS_INVALID_HYPERCALL_CODE,
		     "hypercall with the page disabled");
}

int guest_main(const struct part_boot_info *boot)
{
	bool hostile = rt_has_word(boot->cmdline, "hostile");

	rt_printf("vmbus guest: %u VP(s), %llu MiB RAM, cmdline \"%s\"\n",
		  boot->cpu_count, (unsigned long long)(boot->mem_size >> 20),
		  boot->cmdline);
	if (bring_up()) {
		if (hostile) {
			hostile_msrs();
			hostile_hypercalls();
		} else {
			time_hypercalls();
			bus_test();
		}
		hvg_synic_disable();
	}
	rt_printf("selftest: %u checks, %u failed: %s\n", checks, failures,
		  failures ? "FAIL" : "OK");
	return (int)failures;
}
