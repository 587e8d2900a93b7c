// SPDX-License-Identifier: MIT
/*
 * The echo device (see echo_dev.h): one offer, and on open a host channel
 * end over the ring GPADL whose in-band packets are sent straight back.
 *
 * Ring layout on open: <vmbus/server.h> struct vmbus_server_open_info
 * (guest-to-host ring at GPADL page 0, host-to-guest ring at
 * downstream_offset); packet formats: include/vmbus/proto/vmbus.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/channel.h>
#include <vmbus/ring.h>

#include "echo_dev.h"

/* Packets per receive batch. */
#define ECHO_BUDGET	16

struct echo_dev {
	struct vmbus_server *srv;
	struct vmbus_server_channel *ch;	/* NULL once removed */
	struct vmbus_log log;
	struct echo_dev_stats stats;
	/* While open: */
	struct vmbus_channel *end;
	void *end_mem;
	void **pages;
	uint8_t *buf;			/* one received packet */
	uint32_t buflen;
	/* A reply that found the guest's ring full, sent first next time. */
	bool stashed;
	bool stash_comp;
	uint64_t stash_tid;
	uint32_t stash_len;
	uint8_t *stash;
};

static void release(struct echo_dev *d)
{
	free(d->end_mem);
	free(d->pages);
	free(d->buf);
	free(d->stash);
	d->end_mem = NULL;
	d->pages = NULL;
	d->buf = d->stash = NULL;
	d->end = NULL;
	d->stashed = false;
}

static int reply(struct echo_dev *d, const void *data, uint32_t len,
		 uint64_t tid, bool comp)
{
	if (comp)
		return vmbus_channel_send_comp(d->end, data, len, tid);
	return vmbus_channel_send_inband(d->end, data, len, tid, 0);
}

static int on_packet(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct echo_dev *d = ctx;
	bool comp = pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	int ret;

	if (pkt->type != VM_PKT_DATA_INBAND) {
		d->stats.dropped++;
		return 0;
	}
	ret = reply(d, pkt->payload, pkt->payload_len, pkt->trans_id, comp);
	if (ret == -EAGAIN) {
		/* The guest has not read our earlier replies: keep this one
		 * and stop reading. pending_send_sz is set, so the guest
		 * signals once it has made room. */
		memcpy(d->stash, pkt->payload, pkt->payload_len);
		d->stash_len = pkt->payload_len;
		d->stash_tid = pkt->trans_id;
		d->stash_comp = comp;
		d->stashed = true;
		d->stats.ring_full++;
		return 1;
	}
	if (ret) {
		vmbus_logf(&d->log, VMBUS_LOG_WARN, "echo: reply of %u bytes failed: %d",
			   pkt->payload_len, ret);
		d->stats.dropped++;
		return 0;
	}
	d->stats.packets++;
	d->stats.bytes += pkt->payload_len;
	return 0;
}

static void run(struct echo_dev *d)
{
	int ret;

	if (!d->end)
		return;
	if (d->stashed) {
		ret = reply(d, d->stash, d->stash_len, d->stash_tid, d->stash_comp);
		if (ret == -EAGAIN)
			return;
		d->stashed = false;
		if (!ret) {
			d->stats.packets++;
			d->stats.bytes += d->stash_len;
		}
	}
	/* In budgets: each batch publishes our read index when it ends, and
	 * a guest that sends its next packet as soon as it has the echo
	 * would otherwise keep one batch going until its ring looked full. */
	do {
		ret = vmbus_channel_process(d->end, d->buf, d->buflen, ECHO_BUDGET,
					    on_packet, d);
	} while (ret == ECHO_BUDGET && !d->stashed);
	if (ret < 0)
		vmbus_logf(&d->log, VMBUS_LOG_WARN,
			   "echo: the guest's ring is broken (%d); waiting for close", ret);
}

static void host_signal(void *ctx)
{
	vmbus_server_channel_signal_guest(ctx);
}

static int echo_opened(struct vmbus_server_channel *ch,
		       const struct vmbus_server_open_info *info, void *ctx)
{
	struct echo_dev *d = ctx;
	struct vmbus_channel_config cfg = { 0 };
	struct vmbus_ring send, recv;
	size_t need;
	int ret;

	d->pages = calloc(info->ring_pages, sizeof(*d->pages));
	if (!d->pages)
		return -ENOMEM;
	ret = vmbus_server_channel_rings(ch, d->pages, info->ring_pages, &send, &recv);
	if (ret)
		goto fail;
	/* A packet is at most the data area of the ring it came from. */
	d->buflen = vmbus_ring_data_size(&recv);
	d->buf = malloc(d->buflen);
	d->stash = malloc(d->buflen);
	need = vmbus_channel_mem_size(0);
	d->end_mem = malloc(need);
	if (!d->buf || !d->stash || !d->end_mem) {
		ret = -ENOMEM;
		goto fail;
	}
	cfg.send = &send;
	cfg.recv = &recv;
	cfg.signal = host_signal;
	cfg.signal_ctx = ch;
	cfg.log = &d->log;
	ret = vmbus_channel_init(d->end_mem, need, &cfg, &d->end);
	if (ret)
		goto fail;
	d->stats.opened++;
	vmbus_logf(&d->log, VMBUS_LOG_DEBUG, "echo: relid %u open, %u ring pages",
		   vmbus_server_channel_relid(ch), info->ring_pages);
	return 0;

fail:
	vmbus_logf(&d->log, VMBUS_LOG_WARN, "echo: refusing open: %d", ret);
	release(d);
	return ret;
}

static void echo_closed(struct vmbus_server_channel *ch, void *ctx)
{
	struct echo_dev *d = ctx;

	(void)ch;
	release(d);
	d->stats.closed++;
}

static void echo_signalled(struct vmbus_server_channel *ch, void *ctx)
{
	(void)ch;
	run(ctx);
}

static const struct vmbus_server_device_ops echo_ops = {
	.opened = echo_opened,
	.closed = echo_closed,
	.signalled = echo_signalled,
};

int echo_dev_new(struct vmbus_server *srv, uint32_t index,
		 const struct vmbus_log *log, struct echo_dev **out)
{
	struct vmbus_server_offer offer = {
		.if_type = ECHO_DEV_CLASS,
		.if_instance = VMBUS_GUID_INIT(0x6563686fu, 0u, 0x4000u, 0x8000u, 0ull),
	};
	struct echo_dev *d;
	int ret;

	if (!srv || !out)
		return -EINVAL;
	/* The index fills the last six bytes, big-endian as printed. */
	offer.if_instance.b[12] = (uint8_t)(index >> 24);
	offer.if_instance.b[13] = (uint8_t)(index >> 16);
	offer.if_instance.b[14] = (uint8_t)(index >> 8);
	offer.if_instance.b[15] = (uint8_t)index;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->srv = srv;
	if (log)
		d->log = *log;
	ret = vmbus_server_add_offer(srv, &offer, &echo_ops, d, &d->ch);
	if (ret) {
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

int echo_dev_remove(struct echo_dev *d)
{
	int ret;

	if (!d || !d->ch)
		return -EINVAL;
	ret = vmbus_server_remove_offer(d->srv, d->ch);
	if (!ret)
		d->ch = NULL;
	return ret;
}

void echo_dev_free(struct echo_dev *d)
{
	if (!d)
		return;
	if (d->ch)
		echo_dev_remove(d);
	release(d);
	free(d);
}

bool echo_dev_is_open(const struct echo_dev *d)
{
	return d && d->end;
}

uint32_t echo_dev_relid(const struct echo_dev *d)
{
	return d && d->ch ? vmbus_server_channel_relid(d->ch) : 0;
}

void echo_dev_get_stats(const struct echo_dev *d, struct echo_dev_stats *out)
{
	*out = d->stats;
}
