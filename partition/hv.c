/* SPDX-License-Identifier: MIT */
/*
 * A partition's hypervisor model: memory map, SynIC, synthetic MSRs,
 * hypercalls and the VMBus server, wired the way Hyper-V wires them for a
 * VMBus guest (TLFS; docs/PROTOCOL.md section 1: messages arrive on
 * connection 1, or 4 for INITIATE_CONTACT from 5.0; the host answers in
 * SINT 2 and signals channels through SINT 2 event flags).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <vmbus/gpa.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/proto/vmbus.h>

#include "hv.h"

struct part_hv {
	struct part_hv_config cfg;
	struct vmbus_gpa_map *map;
	struct vmbus_synic *synic;
	struct vmbus_synic_conns *conns;
	struct part_hvmsr *msr;
	/* The server takes one caller at a time, and every VP may post. */
	pthread_mutex_t bus_lock;
	bool bus_lock_ready;
	struct vmbus_server *srv;
	struct vmbus_server_channel *test_ch;
	struct part_hv_counters cnt;
};

/* Counters are bumped from every VP thread. */
static void count(uint64_t *field)
{
	__atomic_fetch_add(field, 1, __ATOMIC_RELAXED);
}

static void *hv_map(void *opaque, uint64_t gpa, uint64_t len)
{
	struct part_hv *hv = opaque;
	void *p;

	return vmbus_gpa_translate(hv->map, gpa, len, &p) ? NULL : p;
}

/* ---- Server side: replies into SINT 2 ---------------------------------- */

static int srv_send_message(void *opaque, uint32_t vp, uint32_t sint,
			    const void *data, uint32_t len)
{
	struct part_hv *hv = opaque;
	int ret;

	/* The sender is the port the guest's messages go to, as the header
	 * field is documented; Linux does not look at it. */
	ret = vmbus_synic_post(hv->synic, vp, sint, HV_MESSAGE_TYPE_VMBUS,
			       VMBUS_MESSAGE_PORT_ID, data, len);
	count(ret ? &hv->cnt.msgs_failed : &hv->cnt.msgs_delivered);
	return ret;
}

static int srv_signal_guest(void *opaque, uint32_t vp, uint32_t relid)
{
	struct part_hv *hv = opaque;
	int ret;

	ret = vmbus_synic_set_event(hv->synic, vp, VMBUS_MESSAGE_SINT, relid);
	if (ret < 0)
		return ret;
	count(&hv->cnt.events_set);
	return 0;
}

/* ---- Guest side: HvPostMessage / HvSignalEvent targets ------------------ */

static uint16_t on_post(void *opaque, uint32_t connection_id,
			uint32_t message_type, const void *payload,
			uint32_t size)
{
	struct part_hv *hv = opaque;

	if (message_type != HV_MESSAGE_TYPE_VMBUS)
		return HV_STATUS_INVALID_PARAMETER;
	/* A refused message is logged by the server; the guest learns of
	 * it from the reply it gets (or not), as on Hyper-V. */
	pthread_mutex_lock(&hv->bus_lock);
	vmbus_server_handle_message(hv->srv, connection_id, payload, size);
	pthread_mutex_unlock(&hv->bus_lock);
	return HV_STATUS_SUCCESS;
}

static uint16_t on_signal(void *opaque, uint32_t connection_id, uint16_t flag)
{
	struct part_hv *hv = opaque;
	int ret;

	(void)flag;
	pthread_mutex_lock(&hv->bus_lock);
	ret = vmbus_server_signal(hv->srv, connection_id);
	pthread_mutex_unlock(&hv->bus_lock);
	return ret ? HV_STATUS_INVALID_CONNECTION_ID : HV_STATUS_SUCCESS;
}

/* ---- The test offer ------------------------------------------------------ */

static int test_opened(struct vmbus_server_channel *ch,
		       const struct vmbus_server_open_info *info, void *ctx)
{
	(void)ch;
	(void)info;
	(void)ctx;
	return 0;
}

static void test_closed(struct vmbus_server_channel *ch, void *ctx)
{
	(void)ch;
	(void)ctx;
}

static const struct vmbus_server_device_ops test_ops = {
	.opened = test_opened,
	.closed = test_closed,
};

static int add_test_offer(struct part_hv *hv)
{
	struct vmbus_server_offer offer = {
		.if_type = PART_TEST_OFFER_GUID,
		.if_instance = VMBUS_GUID_INIT(0x00000001, 0, 0, 0, 0x1ull),
	};

	return vmbus_server_add_offer(hv->srv, &offer, &test_ops, hv,
				      &hv->test_ch);
}

/*
 * Event connections are registered before the guest runs (the table may
 * not change from inside a handler), but devices offer subchannels while
 * it runs. So every id a channel can get, relid 1..PART_HV_MAX_RELID plus
 * the server's base, is registered up front; the server answers -ENOENT
 * (INVALID_CONNECTION_ID for the guest) for one with no open channel.
 */
static int add_event_connections(struct part_hv *hv)
{
	uint32_t relid;
	int ret;

	for (relid = 1; relid <= PART_HV_MAX_RELID; relid++) {
		ret = vmbus_synic_conns_add_event(hv->conns,
				VMBUS_SERVER_CONN_ID_BASE + relid, on_signal, hv);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- Life cycle ------------------------------------------------------------ */

static int build(struct part_hv *hv)
{
	const struct part_hv_config *c = &hv->cfg;
	struct vmbus_synic_config scfg = {
		.vp_count = c->vp_count,
		.mem = { hv_map, hv },
		.raise = c->raise,
		.raise_opaque = c->raise_opaque,
		.log = c->log,
	};
	struct part_hvmsr_config mcfg = {
		.vp_count = c->vp_count,
		.mem = { hv_map, hv },
		.clock = c->clock,
		.clock_opaque = c->clock_opaque,
		.tsc_hz = c->tsc_hz,
		.apic_hz = c->apic_hz,
		.log = c->log,
	};
	struct vmbus_server_ops sops = {
		.send_message = srv_send_message,
		.signal_guest = srv_signal_guest,
		.opaque = hv,
		.log = c->log,
	};
	int ret;

	hv->map = vmbus_gpa_map_new();
	if (!hv->map)
		return -ENOMEM;
	ret = vmbus_gpa_map_add(hv->map, 0, c->ram_size, c->ram);
	if (ret)
		return ret;
	ret = vmbus_synic_new(&scfg, &hv->synic);
	if (ret)
		return ret;
	mcfg.synic = hv->synic;
	ret = part_hvmsr_new(&mcfg, &hv->msr);
	if (ret)
		return ret;
	ret = vmbus_synic_conns_new(&hv->conns);
	if (ret)
		return ret;
	ret = vmbus_synic_conns_add_message(hv->conns,
					    VMBUS_MESSAGE_CONNECTION_ID,
					    on_post, hv);
	if (!ret)
		ret = vmbus_synic_conns_add_message(hv->conns,
						    VMBUS_MESSAGE_CONNECTION_ID_4,
						    on_post, hv);
	if (ret)
		return ret;
	ret = add_event_connections(hv);
	if (ret)
		return ret;
	hv->srv = vmbus_server_new(&sops, hv->map);
	if (!hv->srv)
		return -ENOMEM;
	return c->test_offer ? add_test_offer(hv) : 0;
}

int part_hv_new(const struct part_hv_config *cfg, struct part_hv **out)
{
	struct part_hv *hv;
	int ret;

	if (!cfg || !out || !cfg->ram || !cfg->ram_size || !cfg->raise ||
	    !cfg->vp_count)
		return -EINVAL;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->cfg = *cfg;
	if (pthread_mutex_init(&hv->bus_lock, NULL)) {
		free(hv);
		return -ENOMEM;
	}
	hv->bus_lock_ready = true;
	ret = build(hv);
	if (ret) {
		part_hv_free(hv);
		return ret;
	}
	*out = hv;
	return 0;
}

void part_hv_free(struct part_hv *hv)
{
	if (!hv)
		return;
	/* The server first: device callbacks may still look at rings. */
	vmbus_server_free(hv->srv);
	vmbus_synic_conns_free(hv->conns);
	part_hvmsr_free(hv->msr);
	vmbus_synic_free(hv->synic);
	vmbus_gpa_map_free(hv->map);
	if (hv->bus_lock_ready)
		pthread_mutex_destroy(&hv->bus_lock);
	free(hv);
}

const struct vmbus_gpa_map *part_hv_gpa_map(const struct part_hv *hv)
{
	return hv->map;
}

struct vmbus_server *part_hv_server(struct part_hv *hv)
{
	return hv->srv;
}

void part_hv_lock(struct part_hv *hv)
{
	pthread_mutex_lock(&hv->bus_lock);
}

void part_hv_unlock(struct part_hv *hv)
{
	pthread_mutex_unlock(&hv->bus_lock);
}

enum part_hvmsr_result part_hv_wrmsr(struct part_hv *hv, uint32_t vp,
				     uint32_t msr, uint64_t value)
{
	enum part_hvmsr_result r = part_hvmsr_wrmsr(hv->msr, vp, msr, value);

	if (r == PART_HVMSR_GP)
		count(&hv->cnt.msr_gp);
	return r;
}

enum part_hvmsr_result part_hv_rdmsr(struct part_hv *hv, uint32_t vp,
				     uint32_t msr, uint64_t *value)
{
	enum part_hvmsr_result r = part_hvmsr_rdmsr(hv->msr, vp, msr, value);

	if (r == PART_HVMSR_GP)
		count(&hv->cnt.msr_gp);
	return r;
}

uint64_t part_hv_hypercall(struct part_hv *hv, uint32_t vp, uint64_t control,
			   uint64_t input)
{
	struct vmbus_synic_mem mem = { hv_map, hv };
	uint16_t st;

	(void)vp;
	if (!part_hvmsr_hypercall_enabled(hv->msr)) {
		count(&hv->cnt.hcall_disabled);
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	}
	switch (control & HV_HYPERCALL_CODE_MASK) {
	case HVCALL_POST_MESSAGE:
		count(&hv->cnt.hcall_post);
		break;
	case HVCALL_SIGNAL_EVENT:
		count(&hv->cnt.hcall_signal);
		break;
	default:
		count(&hv->cnt.hcall_other);
		break;
	}
	st = vmbus_synic_hcall_handle(control, input, &mem, hv->conns);
	if (st != HV_STATUS_SUCCESS)
		count(&hv->cnt.hcall_failed);
	return st;
}

void part_hv_counters(const struct part_hv *hv, struct part_hv_counters *out)
{
	const uint64_t *src = (const uint64_t *)&hv->cnt;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
