// SPDX-License-Identifier: MIT
/*
 * The host half both links share: a one-VP SynIC model over guest RAM,
 * the connection ids a VMBus guest posts to, the bus server, a queue
 * that carries posted messages to the host thread, and the doorbell page
 * that carries channel signals.
 *
 * HvPostMessage and HvSignalEvent semantics: Hyper-V TLFS via
 * include/vmbus/proto/tlfs.h and <vmbus/synic.h>; connection ids and the
 * channel connection-id layout: include/vmbus/proto/vmbus.h and
 * <vmbus/server.h>.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link_priv.h"

uint64_t link_ram_size(uint64_t requested)
{
	uint64_t size = requested ? requested : VMBUS_LINK_RAM_DEFAULT;

	if (size % HV_PAGE_SIZE || size < VMBUS_LINK_RAM_MIN ||
	    size > VMBUS_LINK_RAM_MAX)
		return 0;
	return size;
}

void link_host_event(struct vmbus_link_host *h, enum vmbus_link_guest_event ev)
{
	if (h->cfg.guest_event)
		h->cfg.guest_event(h->cfg.ctx, ev);
}

/* ---- Hypervisor side ------------------------------------------------------- */

static void *synic_map(void *opaque, uint64_t gpa, uint64_t len)
{
	struct vmbus_link_host *h = opaque;
	void *p;

	if (vmbus_gpa_translate(h->map, gpa, len, &p))
		return NULL;
	return p;
}

static void synic_raise(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	struct vmbus_link_host *h = opaque;

	/* One VP, and the guest half polls every SINT it uses on any
	 * interrupt, so vp, sint and vector need not travel. */
	(void)vp;
	(void)sint;
	(void)vector;
	h->ops->raise(h);
}

/*
 * A message the guest posted to connection 1 or 4. It may run on the
 * guest's thread (loop link), so it only queues; the server sees the
 * message on the host thread, in posting order.
 */
static uint16_t on_post(void *opaque, uint32_t connection_id,
			uint32_t message_type, const void *payload,
			uint32_t size)
{
	struct vmbus_link_host *h = opaque;
	struct link_inbox_msg *m;

	if (message_type != HV_MESSAGE_TYPE_VMBUS)
		return HV_STATUS_INVALID_PARAMETER;
	pthread_mutex_lock(&h->lock);
	if (h->in_tail - h->in_head >= LINK_INBOX_LEN) {
		pthread_mutex_unlock(&h->lock);
		return HV_STATUS_INSUFFICIENT_BUFFERS;
	}
	m = &h->inbox[h->in_tail % LINK_INBOX_LEN];
	m->connection_id = connection_id;
	m->size = size;
	memcpy(m->data, payload, size);
	h->in_tail++;
	pthread_mutex_unlock(&h->lock);
	return HV_STATUS_SUCCESS;
}

/* ---- Server side --------------------------------------------------------- */

static int srv_send_message(void *opaque, uint32_t vp, uint32_t sint,
			    const void *data, uint32_t len)
{
	struct vmbus_link_host *h = opaque;

	return vmbus_synic_post(h->synic, vp, sint, HV_MESSAGE_TYPE_VMBUS, 0,
				data, len);
}

static int srv_signal_guest(void *opaque, uint32_t vp, uint32_t relid)
{
	struct vmbus_link_host *h = opaque;
	int ret = vmbus_synic_set_event(h->synic, vp, VMBUS_MESSAGE_SINT, relid);

	return ret < 0 ? ret : 0;
}

int link_host_init(struct vmbus_link_host *h,
		   const struct vmbus_link_host_config *cfg, void *ram,
		   const struct link_host_ops *ops)
{
	struct vmbus_server_ops sops = {
		.send_message = srv_send_message,
		.signal_guest = srv_signal_guest,
		.opaque = h,
	};
	struct vmbus_synic_config scfg = {
		.vp_count = 1,
		.mem = { .map = synic_map, .opaque = h },
		.raise = synic_raise,
		.raise_opaque = h,
	};
	int ret;

	h->ops = ops;
	h->cfg = *cfg;
	h->cfg.socket_path = NULL;	/* not ours to keep */
	h->log = cfg->log;
	h->ram = ram;
	h->ram_size = link_ram_size(cfg->ram_size);
	h->doorbell = (struct link_doorbell *)(h->ram + h->ram_size);
	if (pthread_mutex_init(&h->lock, NULL))
		return -ENOMEM;
	h->lock_ready = true;
	h->inbox = calloc(LINK_INBOX_LEN, sizeof(*h->inbox));
	h->map = vmbus_gpa_map_new();
	if (!h->inbox || !h->map)
		return -ENOMEM;
	ret = vmbus_gpa_map_add(h->map, 0, h->ram_size, ram);
	if (ret)
		return ret;
	scfg.log = h->log;
	ret = vmbus_synic_new(&scfg, &h->synic);
	if (ret)
		return ret;
	ret = vmbus_synic_conns_new(&h->conns);
	if (ret)
		return ret;
	ret = vmbus_synic_conns_add_message(h->conns, VMBUS_MESSAGE_CONNECTION_ID,
					    on_post, h);
	if (!ret)
		ret = vmbus_synic_conns_add_message(h->conns,
						    VMBUS_MESSAGE_CONNECTION_ID_4,
						    on_post, h);
	if (ret)
		return ret;
	sops.log = h->log;
	h->srv = vmbus_server_new(&sops, h->map);
	return h->srv ? 0 : -ENOMEM;
}

void link_host_fini(struct vmbus_link_host *h)
{
	/* The server first: closed callbacks may still look at rings. */
	vmbus_server_free(h->srv);
	h->srv = NULL;
	vmbus_synic_conns_free(h->conns);
	h->conns = NULL;
	vmbus_synic_free(h->synic);
	h->synic = NULL;
	vmbus_gpa_map_free(h->map);
	h->map = NULL;
	free(h->inbox);
	h->inbox = NULL;
	if (h->lock_ready)
		pthread_mutex_destroy(&h->lock);
	h->lock_ready = false;
}

static int drain_inbox(struct vmbus_link_host *h)
{
	struct link_inbox_msg m;
	int n = 0;

	for (;;) {
		pthread_mutex_lock(&h->lock);
		if (h->in_head == h->in_tail) {
			pthread_mutex_unlock(&h->lock);
			return n;
		}
		m = h->inbox[h->in_head % LINK_INBOX_LEN];
		h->in_head++;
		pthread_mutex_unlock(&h->lock);
		/* Refusals are logged by the server; the guest learns of
		 * them from its replies, as on Hyper-V. */
		vmbus_server_handle_message(h->srv, m.connection_id, m.data, m.size);
		n++;
	}
}

static int drain_doorbell(struct vmbus_link_host *h)
{
	unsigned int w;
	int n = 0;

	for (w = 0; w < LINK_DOORBELL_WORDS; w++) {
		uint64_t bits;

		if (!__atomic_load_n(&h->doorbell->bits[w], __ATOMIC_RELAXED))
			continue;
		bits = __atomic_exchange_n(&h->doorbell->bits[w], 0,
					   __ATOMIC_SEQ_CST);
		while (bits) {
			uint32_t relid = w * 64 + (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			/* Bit 0 is no channel; a bit for a channel that is
			 * not open is a stray signal and goes nowhere. */
			if (relid == 0 ||
			    vmbus_server_signal(h->srv, VMBUS_SERVER_CONN_ID_BASE + relid))
				continue;
			n++;
		}
	}
	return n;
}

int link_host_drain(struct vmbus_link_host *h)
{
	int n = drain_inbox(h);

	return n + drain_doorbell(h);
}

void link_host_reset(struct vmbus_link_host *h)
{
	unsigned int w;

	pthread_mutex_lock(&h->lock);
	h->in_head = h->in_tail = 0;
	pthread_mutex_unlock(&h->lock);
	for (w = 0; w < LINK_DOORBELL_WORDS; w++)
		__atomic_store_n(&h->doorbell->bits[w], 0, __ATOMIC_RELAXED);
	vmbus_server_reset(h->srv);
	vmbus_synic_reset(h->synic);
}

/* ---- Public host calls ------------------------------------------------------ */

struct vmbus_server *vmbus_link_host_server(struct vmbus_link_host *h)
{
	return h ? h->srv : NULL;
}

const struct vmbus_gpa_map *vmbus_link_host_gpa_map(struct vmbus_link_host *h)
{
	return h ? h->map : NULL;
}

int vmbus_link_host_fd(const struct vmbus_link_host *h)
{
	return h ? h->fd : -1;
}

int vmbus_link_host_process(struct vmbus_link_host *h)
{
	if (!h)
		return -EINVAL;
	return h->ops->process(h);
}

bool vmbus_link_host_has_guest(const struct vmbus_link_host *h)
{
	return h && h->guest;
}

void vmbus_link_host_free(struct vmbus_link_host *h)
{
	if (h)
		h->ops->destroy(h);
}
