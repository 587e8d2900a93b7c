/* SPDX-License-Identifier: MIT */
/*
 * Host VMBus server: the channel-management state machine. Takes each
 * message the guest posts, answers through the caller's ops table, offers
 * registered devices and drives their open/close/signal callbacks. No
 * threads, no I/O.
 *
 * Formats: include/vmbus/proto/vmbus.h via msg.h (Linux include/linux/hyperv.h,
 * OpenVMM vmbus_core protocol.rs). Sequences and states: OpenVMM
 * vm/devices/vmbus/vmbus_server/src/channels.rs; the guest's side of them:
 * Linux drivers/hv/connection.c (vmbus_negotiate_version), channel_mgmt.c
 * (vmbus_onoffer, vmbus_onoffer_rescind, vmbus_request_offers) and
 * channel.c (open, close, GPADLs). docs/PROTOCOL.md section 3.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/gpadl.h>
#include <vmbus/log.h>
#include <vmbus/msg.h>
#include <vmbus/server.h>

/* OpenVMM sends this when the host has no such service. */
#define STATUS_CONNECTION_REFUSED	0xc0000236u

/* What MODIFYCHANNEL may not set: OpenVMM reserves it for "no interrupts". */
#define VP_INDEX_DISABLE_INTERRUPT	0xffffffffu

/* SINTs per VP. */
#define SINT_COUNT			16u

/* Monitor id of an offer without monitored notification (OpenVMM's
 * MonitorId::INVALID); the guest looks only at monitor_allocated. */
#define MONITOR_ID_NONE			0xffu

enum ch_state {
	CH_IDLE,	/* registered; the guest has not been offered it */
	CH_OFFERED,	/* offered, closed */
	CH_OPEN,
	CH_RESCINDED,	/* the device is gone; the guest still holds the relid */
};

struct vmbus_server_channel {
	struct vmbus_server *srv;
	struct vmbus_server_channel *prev, *next;	/* registration order */
	struct vmbus_server_offer offer;
	struct vmbus_server_device_ops dev;
	void *ctx;
	uint32_t relid;
	enum ch_state state;
	bool in_callback;
	/* While open. */
	struct vmbus_gpadl *ring;
	uint32_t ring_gpadl_id;
	uint32_t ring_pages;
	uint32_t downstream_offset;
	uint32_t target_vp;
};

/* A GPADL_TEARDOWN held back because someone still references the GPADL. */
struct teardown {
	struct teardown *next;
	uint32_t relid;
	uint32_t gpadl_id;
};

struct vmbus_server {
	struct vmbus_server_ops ops;
	struct vmbus_gpadl_table *gpadls;
	/* Offers go out in registration order, so a primary always precedes
	 * its subchannels (Linux takes a subchannel without its primary for
	 * a new device). */
	struct vmbus_server_channel *head, *tail;
	struct vmbus_server_channel *by_relid[VMBUS_SERVER_MAX_RELID + 1];
	struct teardown *teardowns;
	bool connected;
	bool offers_sent;
	uint32_t version;
	uint32_t msg_vp;	/* where messages to the guest go */
	uint32_t msg_sint;
};

#define slog(srv, level, ...)	vmbus_logf(&(srv)->ops.log, (level), __VA_ARGS__)

/* ---- Sending ------------------------------------------------------------- */

static void send_to(struct vmbus_server *srv, uint32_t vp, uint32_t sint,
		    const struct vmbus_msg *m)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int len, rc;

	len = vmbus_msg_encode(m, buf, sizeof(buf));
	if (len < 0) {
		slog(srv, VMBUS_LOG_ERR, "vmbus server: cannot encode %s: %d",
		     vmbus_msg_type_name(m->type), len);
		return;
	}
	rc = srv->ops.send_message(srv->ops.opaque, vp, sint, buf, (uint32_t)len);
	if (rc < 0)
		slog(srv, VMBUS_LOG_ERR, "vmbus server: sending %s to vp %u failed: %d",
		     vmbus_msg_type_name(m->type), vp, rc);
}

static void send_msg(struct vmbus_server *srv, const struct vmbus_msg *m)
{
	send_to(srv, srv->msg_vp, srv->msg_sint, m);
}

static void send_open_result(struct vmbus_server *srv, uint32_t relid,
			     uint32_t openid, uint32_t status)
{
	struct vmbus_msg m = { .type = CHANNELMSG_OPENCHANNEL_RESULT };

	m.u.open_result.child_relid = relid;
	m.u.open_result.openid = openid;
	m.u.open_result.status = status;
	send_msg(srv, &m);
}

static void send_gpadl_created(struct vmbus_server *srv, uint32_t relid,
			       uint32_t gpadl_id, uint32_t status)
{
	struct vmbus_msg m = { .type = CHANNELMSG_GPADL_CREATED };

	m.u.gpadl_created.child_relid = relid;
	m.u.gpadl_created.gpadl = gpadl_id;
	m.u.gpadl_created.creation_status = status;
	send_msg(srv, &m);
}

static void send_gpadl_torndown(struct vmbus_server *srv, uint32_t gpadl_id)
{
	struct vmbus_msg m = { .type = CHANNELMSG_GPADL_TORNDOWN };

	m.u.gpadl_torndown.gpadl = gpadl_id;
	send_msg(srv, &m);
}

static void send_modify_response(struct vmbus_server *srv, uint32_t relid,
				 uint32_t status)
{
	struct vmbus_msg m = { .type = CHANNELMSG_MODIFYCHANNEL_RESPONSE };

	/* Only 5.3 guests know this message (Linux waits for it there). */
	if (srv->version < VERSION_WIN10_V5_3)
		return;
	m.u.modifychannel_response.child_relid = relid;
	m.u.modifychannel_response.status = status;
	send_msg(srv, &m);
}

static uint32_t channel_conn_id(const struct vmbus_server_channel *ch)
{
	return VMBUS_SERVER_CONN_ID_BASE + ch->relid;
}

static void send_offer(struct vmbus_server *srv, struct vmbus_server_channel *ch)
{
	struct vmbus_msg m = { .type = CHANNELMSG_OFFERCHANNEL };
	struct vmbus_msg_offer *o = &m.u.offer;

	o->if_type = ch->offer.if_type;
	o->if_instance = ch->offer.if_instance;
	memcpy(o->user_def, ch->offer.user_def, sizeof(o->user_def));
	o->chn_flags = ch->offer.chn_flags;
	o->mmio_megabytes = ch->offer.mmio_megabytes;
	o->sub_channel_index = ch->offer.sub_channel_index;
	o->child_relid = ch->relid;
	o->connection_id = channel_conn_id(ch);
	o->monitor_id = MONITOR_ID_NONE;
	o->monitor_allocated = false;
	o->is_dedicated_interrupt = true;
	send_msg(srv, &m);
	ch->state = CH_OFFERED;
	slog(srv, VMBUS_LOG_DEBUG, "vmbus server: offered relid %u (subchannel %u)",
	     ch->relid, ch->offer.sub_channel_index);
}

static void signal_guest(struct vmbus_server *srv, struct vmbus_server_channel *ch)
{
	int rc = srv->ops.signal_guest(srv->ops.opaque, ch->target_vp, ch->relid);

	if (rc < 0)
		slog(srv, VMBUS_LOG_WARN, "vmbus server: signalling relid %u on vp %u failed: %d",
		     ch->relid, ch->target_vp, rc);
}

/* ---- Channels -------------------------------------------------------------- */

/* The channel behind a relid the guest may name: one it has been offered. */
static struct vmbus_server_channel *known_channel(struct vmbus_server *srv,
						 uint32_t relid)
{
	struct vmbus_server_channel *ch;

	if (relid == 0 || relid > VMBUS_SERVER_MAX_RELID)
		return NULL;
	ch = srv->by_relid[relid];
	if (!ch || ch->state == CH_IDLE)
		return NULL;
	return ch;
}

static void unlink_channel(struct vmbus_server *srv, struct vmbus_server_channel *ch)
{
	if (ch->prev)
		ch->prev->next = ch->next;
	else
		srv->head = ch->next;
	if (ch->next)
		ch->next->prev = ch->prev;
	else
		srv->tail = ch->prev;
	srv->by_relid[ch->relid] = NULL;
	free(ch);
}

static void drop_teardowns(struct vmbus_server *srv, bool all, uint32_t relid)
{
	struct teardown **pp = &srv->teardowns;

	while (*pp) {
		struct teardown *td = *pp;

		if (all || td->relid == relid) {
			*pp = td->next;
			free(td);
		} else {
			pp = &td->next;
		}
	}
}

/* A reference went away: finish every held-back teardown that can now be
 * done, answering the guest as it would have been answered at once. */
static void retry_teardowns(struct vmbus_server *srv)
{
	struct teardown **pp = &srv->teardowns;

	while (*pp) {
		struct teardown *td = *pp;
		int rc = vmbus_gpadl_teardown(srv->gpadls, td->relid, td->gpadl_id);

		if (rc == -EBUSY) {
			pp = &td->next;
			continue;
		}
		*pp = td->next;
		if (rc == 0) {
			send_gpadl_torndown(srv, td->gpadl_id);
		} else {
			slog(srv, VMBUS_LOG_WARN,
			     "vmbus server: held-back teardown of GPADL %u failed: %d",
			     td->gpadl_id, rc);
		}
		free(td);
	}
}

static int hold_teardown(struct vmbus_server *srv, uint32_t relid, uint32_t gpadl_id)
{
	struct teardown *td;

	/* One entry per GPADL, so a guest repeating itself costs nothing. */
	for (td = srv->teardowns; td; td = td->next)
		if (td->gpadl_id == gpadl_id && td->relid == relid)
			return 0;
	td = calloc(1, sizeof(*td));
	if (!td)
		return -ENOMEM;
	td->relid = relid;
	td->gpadl_id = gpadl_id;
	td->next = srv->teardowns;
	srv->teardowns = td;
	return 0;
}

/* Close an open channel: the device first (it stops using the ring), then
 * the ring GPADL reference. Leaves the channel CH_OFFERED. */
static void close_channel(struct vmbus_server *srv, struct vmbus_server_channel *ch)
{
	struct vmbus_gpadl *ring = ch->ring;
	bool was = ch->in_callback;

	ch->state = CH_OFFERED;
	ch->in_callback = true;
	ch->dev.closed(ch, ch->ctx);
	ch->in_callback = was;
	ch->ring = NULL;
	ch->ring_gpadl_id = 0;
	ch->ring_pages = 0;
	ch->downstream_offset = 0;
	vmbus_gpadl_put(srv->gpadls, ring);
	slog(srv, VMBUS_LOG_DEBUG, "vmbus server: closed relid %u", ch->relid);
	retry_teardowns(srv);
}

/*
 * Forget the guest: close every open channel, drop rescinded channels, every
 * GPADL and every held-back teardown, and go back to disconnected. Offers
 * stay registered for the next connection.
 */
static void disconnect(struct vmbus_server *srv)
{
	struct vmbus_server_channel *ch, *next;

	/* First, so a device adding an offer from its closed callback does
	 * not send it to a guest that is going away. */
	srv->connected = false;
	srv->offers_sent = false;
	drop_teardowns(srv, true, 0);

	/* Callbacks may add or remove other channels: rescan each time. */
	for (;;) {
		for (ch = srv->head; ch; ch = ch->next)
			if (ch->state == CH_OPEN)
				break;
		if (!ch)
			break;
		close_channel(srv, ch);
	}
	for (ch = srv->head; ch; ch = next) {
		next = ch->next;
		if (ch->state == CH_RESCINDED)
			unlink_channel(srv, ch);
		else
			ch->state = CH_IDLE;
	}
	vmbus_gpadl_remove_all(srv->gpadls);
	srv->version = 0;
}

/* ---- Guest messages -------------------------------------------------------- */

static void send_version_response(struct vmbus_server *srv, uint32_t vp,
				  uint32_t sint, bool supported, uint32_t conn_field)
{
	struct vmbus_msg m = { .type = CHANNELMSG_VERSION_RESPONSE };

	m.u.version_response.version_supported = supported ? 1 : 0;
	m.u.version_response.connection_state = 0;
	m.u.version_response.form = VMBUS_VERSION_RESPONSE_V1;
	m.u.version_response.msg_conn_id = conn_field;
	send_to(srv, vp, sint, &m);
}

static int on_initiate_contact(struct vmbus_server *srv, uint32_t conn_id,
			       const struct vmbus_msg_initiate_contact *ic)
{
	uint32_t ver = ic->version_requested;
	/* Before 8.1 the field did not exist and messages went to VP 0. */
	uint32_t vp = ver >= VERSION_WIN8_1 ? ic->target_vcpu : 0;
	uint32_t sint = VMBUS_MESSAGE_SINT;
	char vs[VMBUS_VERSION_STR_SIZE];
	const char *why = NULL;
	int err = 0;

	if (ver >= VERSION_WIN10_V5 && ic->msg_sint < SINT_COUNT)
		sint = ic->msg_sint;
	vmbus_version_str(ver, vs, sizeof(vs));

	/* A new contact ends whatever connection there was (a kexec'd or
	 * rebooted guest), whether or not the new one is accepted. */
	if (srv->connected) {
		slog(srv, VMBUS_LOG_INFO, "vmbus server: INITIATE_CONTACT while connected: resetting");
		disconnect(srv);
	}

	if (!vmbus_version_known(ver)) {
		why = "unsupported version";
		err = -ENOTSUP;
	} else if (conn_id != vmbus_version_contact_conn_id(ver)) {
		why = "wrong connection id";
		err = -EPROTO;
	} else if (ver >= VERSION_WIN10_V5 &&
		   (ic->msg_sint != VMBUS_MESSAGE_SINT || ic->msg_vtl != 0)) {
		/* This server serves VTL 0 on the standard SINT only, as
		 * OpenVMM's non-multiclient server does. */
		why = "unsupported SINT or VTL";
		err = -ENOTSUP;
	}
	if (err) {
		slog(srv, VMBUS_LOG_INFO,
		     "vmbus server: refusing version %s on connection %u (%s)",
		     vs, conn_id, why);
		send_version_response(srv, vp, sint, false, 0);
		return err;
	}

	srv->connected = true;
	srv->offers_sent = false;
	srv->version = ver;
	srv->msg_vp = vp;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	slog(srv, VMBUS_LOG_INFO, "vmbus server: guest connected, version %s, vp %u", vs, vp);
	/* From 5.0 the field is the connection id for later messages; before,
	 * OpenVMM echoes the version there and guests ignore it. */
	send_version_response(srv, vp, VMBUS_MESSAGE_SINT, true,
			      ver >= VERSION_WIN10_V5 ? VMBUS_SERVER_MSG_CONN_ID : ver);
	return 0;
}

static int on_request_offers(struct vmbus_server *srv)
{
	struct vmbus_server_channel *ch;
	struct vmbus_msg m = { .type = CHANNELMSG_ALLOFFERS_DELIVERED };

	if (srv->offers_sent) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: REQUESTOFFERS again: ignored");
		return -EALREADY;
	}
	srv->offers_sent = true;
	for (ch = srv->head; ch; ch = ch->next)
		if (ch->state == CH_IDLE)
			send_offer(srv, ch);
	send_msg(srv, &m);
	return 0;
}

/* Check the ring GPADL's shape: one range of whole pages, each ring a
 * control page plus at least one data page. Returns the page count. */
static int ring_geometry(struct vmbus_server *srv, const struct vmbus_gpadl *g,
			 uint32_t offset)
{
	struct vmbus_gpa_pagelist pl;
	uint32_t pages;

	if (vmbus_gpadl_range_count(g) != 1 || vmbus_gpadl_range(g, 0, &pl) < 0) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: ring GPADL %u is not one range",
		     vmbus_gpadl_id(g));
		return -EINVAL;
	}
	if (pl.byte_offset != 0 || pl.byte_count % HV_PAGE_SIZE != 0) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: ring GPADL %u is not whole pages",
		     vmbus_gpadl_id(g));
		return -EINVAL;
	}
	pages = pl.byte_count / HV_PAGE_SIZE;
	if (pages < 4 || offset < 2 || offset > pages - 2) {
		slog(srv, VMBUS_LOG_WARN,
		     "vmbus server: ring GPADL %u of %u pages cannot split at page %u",
		     vmbus_gpadl_id(g), pages, offset);
		return -EINVAL;
	}
	return (int)pages;
}

static int on_open(struct vmbus_server *srv, const struct vmbus_msg_open *o)
{
	struct vmbus_server_channel *ch = known_channel(srv, o->child_relid);
	struct vmbus_server_open_info info;
	struct vmbus_gpadl *ring;
	bool was;
	int pages, rc;

	if (!ch || ch->state != CH_OFFERED) {
		rc = !ch ? -ENOENT : ch->state == CH_OPEN ? -EALREADY : -EINVAL;
		slog(srv, VMBUS_LOG_WARN, "vmbus server: OPENCHANNEL for %s relid %u: refused",
		     !ch ? "unknown" : ch->state == CH_OPEN ? "open" : "rescinded",
		     o->child_relid);
		send_open_result(srv, o->child_relid, o->openid, VMBUS_SERVER_STATUS_FAILURE);
		return rc;
	}
	rc = vmbus_gpadl_get(srv->gpadls, ch->relid, o->ringbuffer_gpadlhandle, &ring);
	if (rc < 0) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: OPENCHANNEL relid %u: ring GPADL %u: %d",
		     ch->relid, o->ringbuffer_gpadlhandle, rc);
		send_open_result(srv, ch->relid, o->openid, VMBUS_SERVER_STATUS_FAILURE);
		return rc;
	}
	pages = ring_geometry(srv, ring, o->downstream_ringbuffer_pageoffset);
	if (pages < 0) {
		vmbus_gpadl_put(srv->gpadls, ring);
		send_open_result(srv, ch->relid, o->openid, VMBUS_SERVER_STATUS_FAILURE);
		return pages;
	}

	ch->state = CH_OPEN;
	ch->ring = ring;
	ch->ring_gpadl_id = o->ringbuffer_gpadlhandle;
	ch->ring_pages = (uint32_t)pages;
	ch->downstream_offset = o->downstream_ringbuffer_pageoffset;
	ch->target_vp = o->target_vp;

	memset(&info, 0, sizeof(info));
	info.ring_gpadl_id = ch->ring_gpadl_id;
	info.ring_pages = ch->ring_pages;
	info.downstream_offset = ch->downstream_offset;
	info.target_vp = ch->target_vp;
	info.open_id = o->openid;
	memcpy(info.userdata, o->userdata, sizeof(info.userdata));

	was = ch->in_callback;
	ch->in_callback = true;
	rc = ch->dev.opened(ch, &info, ch->ctx);
	ch->in_callback = was;
	if (rc != 0) {
		if (rc > 0)
			rc = -EIO;
		slog(srv, VMBUS_LOG_WARN, "vmbus server: device refused to open relid %u: %d",
		     ch->relid, rc);
		ch->state = CH_OFFERED;
		ch->ring = NULL;
		ch->ring_gpadl_id = 0;
		ch->ring_pages = 0;
		ch->downstream_offset = 0;
		vmbus_gpadl_put(srv->gpadls, ring);
		send_open_result(srv, o->child_relid, o->openid, VMBUS_SERVER_STATUS_FAILURE);
		retry_teardowns(srv);
		return rc;
	}
	slog(srv, VMBUS_LOG_DEBUG, "vmbus server: opened relid %u, %d ring pages, vp %u",
	     ch->relid, pages, ch->target_vp);
	send_open_result(srv, o->child_relid, o->openid, 0);
	/* Linux storvsc drops an interrupt that beats OPENCHANNEL_RESULT, so
	 * whatever the device signalled meanwhile is signalled again. */
	signal_guest(srv, ch);
	return 0;
}

static int on_close(struct vmbus_server *srv, const struct vmbus_msg_relid *c)
{
	struct vmbus_server_channel *ch = known_channel(srv, c->child_relid);

	if (!ch) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: CLOSECHANNEL for unknown relid %u",
		     c->child_relid);
		return -ENOENT;
	}
	switch (ch->state) {
	case CH_OPEN:
		close_channel(srv, ch);
		return 0;
	case CH_RESCINDED:
		/* Expected after a rescind: the device was closed already. */
		return 0;
	default:
		slog(srv, VMBUS_LOG_WARN, "vmbus server: CLOSECHANNEL for closed relid %u",
		     ch->relid);
		return -EINVAL;
	}
}

/* Answer a GPADL the table finished (rc 0) or refused (rc < 0); returns
 * the outcome the guest was told. */
static int finish_gpadl(struct vmbus_server *srv, const struct vmbus_gpadl_result *res,
			int rc)
{
	struct vmbus_server_channel *ch = known_channel(srv, res->child_relid);

	if (rc == 0 && (!ch || ch->state == CH_RESCINDED)) {
		/* The channel went away while the bodies were on their way. */
		vmbus_gpadl_teardown(srv->gpadls, res->child_relid, res->gpadl_id);
		rc = -ENOENT;
	}
	if (rc < 0)
		slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL %u for relid %u refused: %d",
		     res->gpadl_id, res->child_relid, rc);
	send_gpadl_created(srv, res->child_relid, res->gpadl_id,
			   rc == 0 ? 0 : VMBUS_SERVER_STATUS_FAILURE);
	return rc;
}

static int on_gpadl_header(struct vmbus_server *srv, const struct vmbus_msg_gpadl_header *h,
			   const void *buf, size_t len)
{
	struct vmbus_server_channel *ch = known_channel(srv, h->child_relid);
	struct vmbus_gpadl_result res;
	int rc;

	if (!ch || ch->state == CH_RESCINDED) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL_HEADER %u for %s relid %u",
		     h->gpadl, ch ? "rescinded" : "unknown", h->child_relid);
		send_gpadl_created(srv, h->child_relid, h->gpadl, VMBUS_SERVER_STATUS_FAILURE);
		return ch ? -EINVAL : -ENOENT;
	}
	memset(&res, 0, sizeof(res));
	rc = vmbus_gpadl_header(srv->gpadls, buf, len, &res);
	if (rc == VMBUS_GPADL_INCOMPLETE)
		return 0;
	if (res.reply)
		return finish_gpadl(srv, &res, rc);
	if (rc < 0)
		slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL_HEADER dropped: %d", rc);
	return rc;
}

static int on_gpadl_body(struct vmbus_server *srv, const void *buf, size_t len)
{
	struct vmbus_gpadl_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = vmbus_gpadl_body(srv->gpadls, buf, len, &res);
	if (rc == VMBUS_GPADL_INCOMPLETE)
		return 0;
	if (res.reply)
		return finish_gpadl(srv, &res, rc);
	if (rc < 0)
		slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL_BODY dropped: %d", rc);
	return rc;
}

static int on_gpadl_teardown(struct vmbus_server *srv,
			     const struct vmbus_msg_gpadl_teardown *t)
{
	struct vmbus_server_channel *ch = known_channel(srv, t->child_relid);
	int rc;

	if (!ch) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL_TEARDOWN %u for unknown relid %u",
		     t->gpadl, t->child_relid);
		return -ENOENT;
	}
	rc = vmbus_gpadl_teardown(srv->gpadls, ch->relid, t->gpadl);
	if (rc == 0) {
		send_gpadl_torndown(srv, t->gpadl);
		return 0;
	}
	if (rc == -EBUSY) {
		/* Still in use (an open ring): the guest gets its answer when
		 * the last user lets go, as it would from OpenVMM. */
		slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL %u of relid %u is in use: teardown held back",
		     t->gpadl, ch->relid);
		rc = hold_teardown(srv, ch->relid, t->gpadl);
		return rc < 0 ? rc : -EINPROGRESS;
	}
	slog(srv, VMBUS_LOG_WARN, "vmbus server: GPADL_TEARDOWN %u of relid %u: %d",
	     t->gpadl, ch->relid, rc);
	return rc;
}

static int on_relid_released(struct vmbus_server *srv, const struct vmbus_msg_relid *r)
{
	struct vmbus_server_channel *ch = known_channel(srv, r->child_relid);

	if (!ch) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: RELID_RELEASED for unknown relid %u",
		     r->child_relid);
		return -ENOENT;
	}
	if (ch->state != CH_RESCINDED) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: RELID_RELEASED for relid %u, not rescinded",
		     ch->relid);
		return -EINVAL;
	}
	drop_teardowns(srv, false, ch->relid);
	vmbus_gpadl_remove_channel(srv->gpadls, ch->relid);
	slog(srv, VMBUS_LOG_DEBUG, "vmbus server: relid %u released", ch->relid);
	unlink_channel(srv, ch);
	return 0;
}

static int on_modify(struct vmbus_server *srv, const struct vmbus_msg_modifychannel *mc)
{
	struct vmbus_server_channel *ch = known_channel(srv, mc->child_relid);
	bool was;

	if (srv->version < VERSION_WIN10_V4_1) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: MODIFYCHANNEL before version 4.1");
		return -EPROTO;
	}
	if (!ch || ch->state != CH_OPEN || mc->target_vp == VP_INDEX_DISABLE_INTERRUPT) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: MODIFYCHANNEL relid %u to vp %u refused",
		     mc->child_relid, mc->target_vp);
		send_modify_response(srv, mc->child_relid, VMBUS_SERVER_STATUS_FAILURE);
		return !ch ? -ENOENT : -EINVAL;
	}
	ch->target_vp = mc->target_vp;
	if (ch->dev.modified) {
		was = ch->in_callback;
		ch->in_callback = true;
		ch->dev.modified(ch, ch->target_vp, ch->ctx);
		ch->in_callback = was;
	}
	send_modify_response(srv, ch->relid, 0);
	return 0;
}

static int on_unload(struct vmbus_server *srv)
{
	struct vmbus_msg m = { .type = CHANNELMSG_UNLOAD_RESPONSE };
	uint32_t vp = srv->msg_vp, sint = srv->msg_sint;

	slog(srv, VMBUS_LOG_INFO, "vmbus server: guest unloads");
	disconnect(srv);
	/* Only once everything is released: the guest may reconnect at once. */
	send_to(srv, vp, sint, &m);
	return 0;
}

static int on_tl_connect(struct vmbus_server *srv, const struct vmbus_msg_tl_connect_request *r)
{
	struct vmbus_msg m = { .type = CHANNELMSG_TL_CONNECT_RESULT };

	if (srv->version < VERSION_WIN10)
		return -EPROTO;
	slog(srv, VMBUS_LOG_INFO, "vmbus server: hvsocket connect refused (not supported)");
	/* Versions before 4.1 have no way to say no; the guest times out. */
	if (srv->version >= VERSION_WIN10_V4_1) {
		m.u.tl_connect_result.guest_endpoint_id = r->guest_endpoint_id;
		m.u.tl_connect_result.host_service_id = r->host_service_id;
		m.u.tl_connect_result.status = STATUS_CONNECTION_REFUSED;
		send_msg(srv, &m);
	}
	return -ENOTSUP;
}

int vmbus_server_handle_message(struct vmbus_server *srv, uint32_t connection_id,
				const void *data, size_t len)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg m;
	int type;

	if (!srv || (!data && len))
		return -EINVAL;
	if (len > sizeof(buf)) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: dropping %zu-byte message", len);
		return -EMSGSIZE;
	}
	/* One read of guest memory: the decoder and the GPADL table both
	 * work on this copy, so they cannot see different bytes. */
	if (len)
		memcpy(buf, data, len);
	type = vmbus_msg_decode(buf, len, &m);
	if (type < 0) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: dropping bad message (%zu bytes): %d",
		     len, type);
		return type;
	}
	if (!vmbus_msg_guest_may_send((uint32_t)type)) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: guest sent host message %s",
		     vmbus_msg_type_name((uint32_t)type));
		return -EPROTO;
	}
	if (type == CHANNELMSG_INITIATE_CONTACT)
		return on_initiate_contact(srv, connection_id, &m.u.initiate_contact);
	if (!srv->connected) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: %s before INITIATE_CONTACT",
		     vmbus_msg_type_name((uint32_t)type));
		return -ENOTCONN;
	}
	if (connection_id != VMBUS_SERVER_MSG_CONN_ID) {
		slog(srv, VMBUS_LOG_WARN, "vmbus server: %s on connection id %u",
		     vmbus_msg_type_name((uint32_t)type), connection_id);
		return -EPROTO;
	}

	switch (type) {
	case CHANNELMSG_REQUESTOFFERS:
		return on_request_offers(srv);
	case CHANNELMSG_OPENCHANNEL:
		return on_open(srv, &m.u.open);
	case CHANNELMSG_CLOSECHANNEL:
		return on_close(srv, &m.u.close);
	case CHANNELMSG_GPADL_HEADER:
		return on_gpadl_header(srv, &m.u.gpadl_header, buf, len);
	case CHANNELMSG_GPADL_BODY:
		return on_gpadl_body(srv, buf, len);
	case CHANNELMSG_GPADL_TEARDOWN:
		return on_gpadl_teardown(srv, &m.u.gpadl_teardown);
	case CHANNELMSG_RELID_RELEASED:
		return on_relid_released(srv, &m.u.relid_released);
	case CHANNELMSG_UNLOAD:
		return on_unload(srv);
	case CHANNELMSG_MODIFYCHANNEL:
		return on_modify(srv, &m.u.modifychannel);
	case CHANNELMSG_TL_CONNECT_REQUEST:
		return on_tl_connect(srv, &m.u.tl_connect_request);
	default:
		slog(srv, VMBUS_LOG_WARN, "vmbus server: unexpected %s",
		     vmbus_msg_type_name((uint32_t)type));
		return -EPROTO;
	}
}

/* ---- Server -------------------------------------------------------------- */

struct vmbus_server *vmbus_server_new(const struct vmbus_server_ops *ops,
				      const struct vmbus_gpa_map *map)
{
	struct vmbus_server *srv;

	if (!ops || !ops->send_message || !ops->signal_guest || !map)
		return NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->ops = *ops;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	srv->gpadls = vmbus_gpadl_table_new(map, NULL, &srv->ops.log);
	if (!srv->gpadls) {
		free(srv);
		return NULL;
	}
	return srv;
}

void vmbus_server_free(struct vmbus_server *srv)
{
	if (!srv)
		return;
	disconnect(srv);
	while (srv->head)
		unlink_channel(srv, srv->head);
	vmbus_gpadl_table_free(srv->gpadls);
	free(srv);
}

int vmbus_server_signal(struct vmbus_server *srv, uint32_t connection_id)
{
	struct vmbus_server_channel *ch;
	uint32_t relid;
	bool was;

	if (!srv || connection_id <= VMBUS_SERVER_CONN_ID_BASE ||
	    connection_id - VMBUS_SERVER_CONN_ID_BASE > VMBUS_SERVER_MAX_RELID)
		return -ENOENT;
	relid = connection_id - VMBUS_SERVER_CONN_ID_BASE;
	ch = srv->by_relid[relid];
	if (!ch || ch->state != CH_OPEN)
		return -ENOENT;
	if (ch->dev.signalled) {
		was = ch->in_callback;
		ch->in_callback = true;
		ch->dev.signalled(ch, ch->ctx);
		ch->in_callback = was;
	}
	return 0;
}

void vmbus_server_reset(struct vmbus_server *srv)
{
	if (!srv)
		return;
	if (srv->connected)
		slog(srv, VMBUS_LOG_INFO, "vmbus server: reset");
	disconnect(srv);
}

bool vmbus_server_connected(const struct vmbus_server *srv)
{
	return srv && srv->connected;
}

uint32_t vmbus_server_version(const struct vmbus_server *srv)
{
	return srv && srv->connected ? srv->version : 0;
}

const struct vmbus_gpadl_table *vmbus_server_gpadl_table(const struct vmbus_server *srv)
{
	return srv ? srv->gpadls : NULL;
}

/* ---- Offers ---------------------------------------------------------------- */

static bool same_device(const struct vmbus_server_offer *a, const struct vmbus_server_offer *b)
{
	return vmbus_guid_equal(&a->if_type, &b->if_type) &&
	       vmbus_guid_equal(&a->if_instance, &b->if_instance);
}

int vmbus_server_add_offer(struct vmbus_server *srv,
			   const struct vmbus_server_offer *offer,
			   const struct vmbus_server_device_ops *ops, void *ctx,
			   struct vmbus_server_channel **out)
{
	struct vmbus_server_channel *ch, *it;
	bool primary = false;
	uint32_t relid;

	if (!srv || !offer || !ops || !ops->opened || !ops->closed || !out)
		return -EINVAL;
	for (it = srv->head; it; it = it->next) {
		if (it->state == CH_RESCINDED || !same_device(&it->offer, offer))
			continue;
		if (it->offer.sub_channel_index == offer->sub_channel_index)
			return -EEXIST;
		if (it->offer.sub_channel_index == 0)
			primary = true;
	}
	if (offer->sub_channel_index != 0 && !primary)
		return -ENOENT;
	for (relid = 1; relid <= VMBUS_SERVER_MAX_RELID; relid++)
		if (!srv->by_relid[relid])
			break;
	if (relid > VMBUS_SERVER_MAX_RELID)
		return -ENOSPC;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->srv = srv;
	ch->offer = *offer;
	ch->dev = *ops;
	ch->ctx = ctx;
	ch->relid = relid;
	ch->state = CH_IDLE;
	ch->prev = srv->tail;
	if (srv->tail)
		srv->tail->next = ch;
	else
		srv->head = ch;
	srv->tail = ch;
	srv->by_relid[relid] = ch;
	*out = ch;
	if (srv->connected && srv->offers_sent)
		send_offer(srv, ch);
	return 0;
}

int vmbus_server_remove_offer(struct vmbus_server *srv, struct vmbus_server_channel *ch)
{
	struct vmbus_msg m = { .type = CHANNELMSG_RESCIND_CHANNELOFFER };

	if (!srv || !ch || ch->srv != srv || ch->state == CH_RESCINDED)
		return -EINVAL;
	if (ch->in_callback)
		return -EBUSY;
	if (ch->state == CH_IDLE) {
		unlink_channel(srv, ch);
		return 0;
	}
	if (ch->state == CH_OPEN)
		close_channel(srv, ch);
	ch->state = CH_RESCINDED;
	memset(&ch->dev, 0, sizeof(ch->dev));
	ch->ctx = NULL;
	m.u.rescind.child_relid = ch->relid;
	send_msg(srv, &m);
	slog(srv, VMBUS_LOG_INFO, "vmbus server: rescinded relid %u", ch->relid);
	return 0;
}

/* ---- Channel accessors ------------------------------------------------------ */

uint32_t vmbus_server_channel_relid(const struct vmbus_server_channel *ch)
{
	return ch->relid;
}

uint32_t vmbus_server_channel_connection_id(const struct vmbus_server_channel *ch)
{
	return channel_conn_id(ch);
}

uint32_t vmbus_server_channel_target_vp(const struct vmbus_server_channel *ch)
{
	return ch->target_vp;
}

bool vmbus_server_channel_is_open(const struct vmbus_server_channel *ch)
{
	return ch->state == CH_OPEN;
}

const struct vmbus_gpadl *vmbus_server_channel_ring_gpadl(const struct vmbus_server_channel *ch)
{
	return ch->state == CH_OPEN ? ch->ring : NULL;
}

uint32_t vmbus_server_channel_downstream_offset(const struct vmbus_server_channel *ch)
{
	return ch->state == CH_OPEN ? ch->downstream_offset : 0;
}

int vmbus_server_channel_ring_pages(const struct vmbus_server_channel *ch,
				    void **pages, uint32_t max)
{
	if (ch->state != CH_OPEN)
		return -ENOTCONN;
	return vmbus_gpadl_map_pages(ch->srv->gpadls, ch->ring, pages, max);
}

int vmbus_server_channel_rings(const struct vmbus_server_channel *ch,
			       void **pages, uint32_t max,
			       struct vmbus_ring *send, struct vmbus_ring *recv)
{
	uint32_t off = ch->downstream_offset;
	int n, ret;

	n = vmbus_server_channel_ring_pages(ch, pages, max);
	if (n < 0)
		return n;
	/* Open checked this already; a second look costs nothing. */
	if (off < 2 || (uint32_t)n < off + 2)
		return -EINVAL;
	ret = vmbus_ring_view_pages(recv, pages[0], pages + 1, off - 1);
	if (!ret)
		ret = vmbus_ring_view_pages(send, pages[off], pages + off + 1,
					    (size_t)n - off - 1);
	if (!ret)
		ret = vmbus_ring_attach(recv);
	if (!ret)
		ret = vmbus_ring_attach(send);
	return ret;
}

int vmbus_server_channel_signal_guest(struct vmbus_server_channel *ch)
{
	struct vmbus_server *srv = ch->srv;

	if (ch->state != CH_OPEN)
		return -ENOTCONN;
	return srv->ops.signal_guest(srv->ops.opaque, ch->target_vp, ch->relid);
}

int vmbus_server_channel_gpadl_get(struct vmbus_server_channel *ch,
				   uint32_t gpadl_id, struct vmbus_gpadl **out)
{
	if (!out)
		return -EINVAL;
	if (ch->state != CH_OPEN)
		return -ENOTCONN;
	return vmbus_gpadl_get(ch->srv->gpadls, ch->relid, gpadl_id, out);
}

void vmbus_server_channel_gpadl_put(struct vmbus_server_channel *ch,
				    struct vmbus_gpadl *g)
{
	if (!g)
		return;
	vmbus_gpadl_put(ch->srv->gpadls, g);
	if (ch->srv->connected)
		retry_teardowns(ch->srv);
}
