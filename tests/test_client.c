/* SPDX-License-Identifier: MIT */
/*
 * Tests for the guest bus client (libvmbus/client.c): the client is driven
 * directly with host replies encoded by msg.c, and every message it posts
 * is captured and decoded. Sequences checked against Linux
 * drivers/hv/connection.c, channel_mgmt.c and channel.c (PROTOCOL.md §3).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/channel.h>
#include <vmbus/client.h>
#include <vmbus/gpa.h>
#include <vmbus/msg.h>
#include <vmbus/ring.h>
#include <vmbus/server.h>

/* ---- A fake hypervisor that records posts --------------------------------- */

#define MAX_POSTS 64

struct posted {
	uint32_t conn_id;
	uint32_t len;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
};

struct fake {
	struct posted posts[MAX_POSTS];
	unsigned int nposts;
	/* Statuses to return for the next posts, then success. */
	uint16_t status[MAX_POSTS * 2];
	unsigned int nstatus;
	unsigned int status_pos;
	/* Refuse every post to this connection id (0: none). */
	uint32_t refuse_conn;
	/* Fail every post of this message type (0: none). */
	uint32_t fail_type;
};

static struct fake hv_fake;

static uint16_t fake_post(void *ctx, uint32_t conn_id, uint32_t type,
			  const void *payload, uint32_t size)
{
	struct fake *f = ctx;
	uint32_t msgtype = 0;
	struct posted *p;

	ck_assert_uint_eq(type, HV_MESSAGE_TYPE_VMBUS);
	ck_assert_uint_le(size, VMBUS_MSG_MAX_SIZE);
	if (f->refuse_conn && conn_id == f->refuse_conn)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (size >= 4)
		memcpy(&msgtype, payload, 4);
	if (f->fail_type && msgtype == f->fail_type)
		return HV_STATUS_INVALID_PARAMETER;
	if (f->status_pos < f->nstatus)
		return f->status[f->status_pos++];
	ck_assert_uint_lt(f->nposts, MAX_POSTS);
	p = &f->posts[f->nposts++];
	p->conn_id = conn_id;
	p->len = size;
	memcpy(p->buf, payload, size);
	return HV_STATUS_SUCCESS;
}

static uint16_t fake_signal(void *ctx, uint32_t conn_id, uint16_t flag)
{
	(void)ctx;
	(void)conn_id;
	(void)flag;
	return HV_STATUS_SUCCESS;
}

static const struct vmbus_hv_guest_ops fake_ops = {
	.post_message = fake_post,
	.signal_event = fake_signal,
};

/* ---- Recorded events and completions --------------------------------------- */

#define MAX_EVENTS 32

struct rec {
	struct vmbus_msg_offer offers[MAX_EVENTS];
	unsigned int noffers;
	unsigned int delivered;
	uint32_t rescinds[MAX_EVENTS];
	unsigned int nrescinds;
	/* Close the channel from the rescind callback. */
	bool close_on_rescind;
	int close_ret;
};

static struct rec rec;
static struct vmbus_client *cl;
static uint64_t mem[4096];

struct done {
	int calls;
	int err;
};

static void done_cb(void *arg, int err)
{
	struct done *d = arg;

	d->calls++;
	d->err = err;
}

static struct done close_done;

static void ev_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	struct rec *r = ctx;

	ck_assert_uint_lt(r->noffers, MAX_EVENTS);
	r->offers[r->noffers++] = *o;
}

static void ev_delivered(void *ctx)
{
	((struct rec *)ctx)->delivered++;
}

static void ev_rescind(void *ctx, uint32_t relid)
{
	struct rec *r = ctx;

	ck_assert_uint_lt(r->nrescinds, MAX_EVENTS);
	r->rescinds[r->nrescinds++] = relid;
	if (r->close_on_rescind)
		r->close_ret = vmbus_client_close(cl, relid, done_cb, &close_done);
}

static const struct vmbus_client_events events = {
	.offer = ev_offer,
	.offers_delivered = ev_delivered,
	.rescind = ev_rescind,
};

static struct vmbus_client_config make_cfg(unsigned int max_ch, unsigned int max_gp)
{
	struct vmbus_client_config cfg = {
		.hv = { &fake_ops, &hv_fake },
		.events = &events,
		.events_ctx = &rec,
		.max_channels = max_ch,
		.max_gpadls = max_gp,
	};
	return cfg;
}

static void setup_sized(unsigned int max_ch, unsigned int max_gp)
{
	struct vmbus_client_config cfg = make_cfg(max_ch, max_gp);

	memset(&hv_fake, 0, sizeof(hv_fake));
	memset(&rec, 0, sizeof(rec));
	memset(&close_done, 0, sizeof(close_done));
	cl = NULL;
	ck_assert_uint_le(vmbus_client_mem_size(&cfg), sizeof(mem));
	ck_assert_int_eq(vmbus_client_init(mem, sizeof(mem), &cfg, &cl), 0);
}

static void setup(void)
{
	setup_sized(8, 8);
}

/* ---- Host side helpers -------------------------------------------------------- */

static int feed(const struct vmbus_msg *m)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int n = vmbus_msg_encode(m, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	return vmbus_client_handle_message(cl, buf, (size_t)n);
}

static int feed_version(uint8_t supported, uint32_t conn_id)
{
	struct vmbus_msg m = { .type = CHANNELMSG_VERSION_RESPONSE };

	m.u.version_response.version_supported = supported;
	m.u.version_response.msg_conn_id = conn_id;
	return feed(&m);
}

static int feed_offer(uint32_t relid, uint16_t subch, uint32_t conn_id)
{
	struct vmbus_msg m = { .type = CHANNELMSG_OFFERCHANNEL };
	struct vmbus_guid scsi = VMBUS_GUID_SCSI;
	unsigned int i;

	m.u.offer.if_type = scsi;
	for (i = 0; i < 16; i++)
		m.u.offer.if_instance.b[i] = (uint8_t)(0xa0 + i + relid);
	for (i = 0; i < VMBUS_OFFER_USER_DEFINED_SIZE; i++)
		m.u.offer.user_def[i] = (uint8_t)(i ^ relid);
	m.u.offer.child_relid = relid;
	m.u.offer.sub_channel_index = subch;
	m.u.offer.connection_id = conn_id;
	m.u.offer.is_dedicated_interrupt = true;
	return feed(&m);
}

static int feed_relid(uint32_t type, uint32_t relid)
{
	struct vmbus_msg m = { .type = type };

	m.u.rescind.child_relid = relid;
	return feed(&m);
}

static int feed_gpadl_created(uint32_t relid, uint32_t gpadl, uint32_t status)
{
	struct vmbus_msg m = { .type = CHANNELMSG_GPADL_CREATED };

	m.u.gpadl_created.child_relid = relid;
	m.u.gpadl_created.gpadl = gpadl;
	m.u.gpadl_created.creation_status = status;
	return feed(&m);
}

static int feed_torndown(uint32_t gpadl)
{
	struct vmbus_msg m = { .type = CHANNELMSG_GPADL_TORNDOWN };

	m.u.gpadl_torndown.gpadl = gpadl;
	return feed(&m);
}

static int feed_open_result(uint32_t relid, uint32_t openid, uint32_t status)
{
	struct vmbus_msg m = { .type = CHANNELMSG_OPENCHANNEL_RESULT };

	m.u.open_result.child_relid = relid;
	m.u.open_result.openid = openid;
	m.u.open_result.status = status;
	return feed(&m);
}

static int feed_simple(uint32_t type)
{
	struct vmbus_msg m = { .type = type };

	return feed(&m);
}

/* Decode post i and check its type. */
static struct vmbus_msg posted(unsigned int i, uint32_t type)
{
	struct vmbus_msg m;

	ck_assert_uint_lt(i, hv_fake.nposts);
	ck_assert_int_eq(vmbus_msg_decode(hv_fake.posts[i].buf,
					  hv_fake.posts[i].len, &m), (int)type);
	return m;
}

static const struct vmbus_client_connect_params cparams = {
	.target_vcpu = 0,
	.interrupt_page = 0x123000,
	.monitor_page1 = 0x200000,
	.monitor_page2 = 0x201000,
};

/* Connect at the newest version with message connection id conn. */
static void connect_at(uint32_t max_version, uint32_t conn)
{
	struct vmbus_client_connect_params p = cparams;
	struct done d = { 0 };

	p.max_version = max_version;
	ck_assert_int_eq(vmbus_client_connect(cl, &p, done_cb, &d), 0);
	ck_assert_int_eq(feed_version(1, conn), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, 0);
	ck_assert(vmbus_client_connected(cl));
	hv_fake.nposts = 0;
}

/* ---- Connect ------------------------------------------------------------------ */

START_TEST(version_fallback)
{
	static const uint32_t order[] = {
		VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1,
		VERSION_WIN10_V5, VERSION_WIN10_V4_1,
	};
	struct done d = { 0 };
	struct vmbus_msg m;
	unsigned int i;

	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(hv_fake.nposts, i + 1);
		m = posted(i, CHANNELMSG_INITIATE_CONTACT);
		ck_assert_uint_eq(m.u.initiate_contact.version_requested, order[i]);
		ck_assert_uint_eq(m.u.initiate_contact.monitor_page1, 0x200000);
		ck_assert_uint_eq(m.u.initiate_contact.monitor_page2, 0x201000);
		if (order[i] >= VERSION_WIN10_V5) {
			ck_assert_uint_eq(hv_fake.posts[i].conn_id, 4);
			ck_assert_uint_eq(m.u.initiate_contact.msg_sint, 2);
			ck_assert_uint_eq(m.u.initiate_contact.interrupt_page, 0);
		} else {
			ck_assert_uint_eq(hv_fake.posts[i].conn_id, 1);
			ck_assert_uint_eq(m.u.initiate_contact.interrupt_page, 0x123000);
		}
		if (i < 4) {
			ck_assert_int_eq(feed_version(0, 0), 0);
			ck_assert_int_eq(d.calls, 0);
		}
	}
	/* 4.1 accepted: no msg_conn_id in use, messages go to connection 1. */
	ck_assert_int_eq(feed_version(1, 99), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, 0);
	ck_assert_uint_eq(vmbus_client_version(cl), VERSION_WIN10_V4_1);
	ck_assert_uint_eq(vmbus_client_msg_conn_id(cl), 1);
	ck_assert_int_eq(vmbus_client_request_offers(cl), 0);
	posted(5, CHANNELMSG_REQUESTOFFERS);
	ck_assert_uint_eq(hv_fake.posts[5].conn_id, 1);
	ck_assert_int_eq(vmbus_client_request_offers(cl), -EALREADY);
}
END_TEST

START_TEST(conn_id_from_response)
{
	struct done d = { 0 };

	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	ck_assert_uint_eq(hv_fake.posts[0].conn_id, 4);
	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), -EALREADY);
	ck_assert_int_eq(feed_version(1, 0x77), 0);
	ck_assert_uint_eq(vmbus_client_version(cl), VERSION_WIN10_V5_3);
	ck_assert_uint_eq(vmbus_client_msg_conn_id(cl), 0x77);
	ck_assert_int_eq(vmbus_client_request_offers(cl), 0);
	ck_assert_uint_eq(hv_fake.posts[1].conn_id, 0x77);
	/* A second VERSION_RESPONSE is not waited for. */
	ck_assert_int_eq(feed_version(1, 0x55), -EPROTO);
	ck_assert_uint_eq(vmbus_client_msg_conn_id(cl), 0x77);
}
END_TEST

START_TEST(all_versions_refused)
{
	struct done d = { 0 };
	unsigned int i;

	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	for (i = 0; i < VMBUS_VERSION_COUNT; i++)
		ck_assert_int_eq(feed_version(0, 0), 0);
	ck_assert_uint_eq(hv_fake.nposts, VMBUS_VERSION_COUNT);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, -ENOTSUP);
	ck_assert(!vmbus_client_connected(cl));
	/* Last one asked was 2.4 (WIN8). */
	ck_assert_uint_eq(posted(VMBUS_VERSION_COUNT - 1, CHANNELMSG_INITIATE_CONTACT)
			  .u.initiate_contact.version_requested, VERSION_WIN8);
	/* And the client may try again. */
	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
}
END_TEST

START_TEST(old_host_without_conn4)
{
	struct done d = { 0 };

	/* A pre-5.0 host: connection 4 does not exist, as Linux expects. */
	hv_fake.refuse_conn = 4;
	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	ck_assert_uint_eq(hv_fake.nposts, 1);
	ck_assert_uint_eq(hv_fake.posts[0].conn_id, 1);
	ck_assert_uint_eq(posted(0, CHANNELMSG_INITIATE_CONTACT)
			  .u.initiate_contact.version_requested, VERSION_WIN10_V4_1);
	ck_assert_int_eq(feed_version(1, 0), 0);
	ck_assert_int_eq(d.err, 0);
	ck_assert_uint_eq(vmbus_client_msg_conn_id(cl), 1);
}
END_TEST

START_TEST(v5_without_conn_id)
{
	struct done d = { 0 };

	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	ck_assert_int_eq(feed_version(1, 0), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, -EPROTO);
	ck_assert(!vmbus_client_connected(cl));
}
END_TEST

START_TEST(connection_state_failed)
{
	struct vmbus_msg m = { .type = CHANNELMSG_VERSION_RESPONSE };
	struct done d = { 0 };

	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	m.u.version_response.version_supported = 1;
	m.u.version_response.connection_state = 1;	/* low resources */
	m.u.version_response.msg_conn_id = 5;
	ck_assert_int_eq(feed(&m), 0);
	ck_assert_int_eq(d.err, -EIO);
	ck_assert(!vmbus_client_connected(cl));
}
END_TEST

START_TEST(max_version_and_transient_posts)
{
	struct vmbus_client_connect_params p = cparams;
	struct done d = { 0 };

	p.max_version = VERSION_WIN10;
	/* Two transient refusals are retried, not reported. */
	hv_fake.status[0] = HV_STATUS_INSUFFICIENT_BUFFERS;
	hv_fake.status[1] = HV_STATUS_INSUFFICIENT_BUFFERS;
	hv_fake.nstatus = 2;
	ck_assert_int_eq(vmbus_client_connect(cl, &p, done_cb, &d), 0);
	ck_assert_uint_eq(hv_fake.nposts, 1);
	ck_assert_uint_eq(hv_fake.posts[0].conn_id, 1);
	ck_assert_uint_eq(posted(0, CHANNELMSG_INITIATE_CONTACT)
			  .u.initiate_contact.version_requested, VERSION_WIN10);

	/* A hard failure is returned and leaves the client disconnected. */
	setup();
	hv_fake.fail_type = CHANNELMSG_INITIATE_CONTACT;
	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), -EIO);
	ck_assert(!vmbus_client_connected(cl));
	hv_fake.fail_type = 0;
	p.max_version = VERSION_WIN7;
	ck_assert_int_eq(vmbus_client_connect(cl, &p, done_cb, &d), -EINVAL);
}
END_TEST

START_TEST(init_checks)
{
	struct vmbus_client_config cfg = make_cfg(4, 4);
	struct vmbus_client *c2;

	ck_assert_int_eq(vmbus_client_init(mem, 16, &cfg, &c2), -ENOSPC);
	ck_assert_int_eq(vmbus_client_init((uint8_t *)mem + 4, sizeof(mem) - 8,
					   &cfg, &c2), -EINVAL);
	cfg.max_channels = 0;
	ck_assert_uint_eq(vmbus_client_mem_size(&cfg), 0);
	ck_assert_int_eq(vmbus_client_init(mem, sizeof(mem), &cfg, &c2), -EINVAL);
	cfg = make_cfg(4, 4);
	cfg.hv.ops = NULL;
	ck_assert_int_eq(vmbus_client_init(mem, sizeof(mem), &cfg, &c2), -EINVAL);
}
END_TEST

/* ---- Offers ------------------------------------------------------------------- */

START_TEST(offers)
{
	struct vmbus_msg_offer o;
	struct vmbus_guid scsi = VMBUS_GUID_SCSI;

	connect_at(0, 7);
	ck_assert_int_eq(vmbus_client_request_offers(cl), 0);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(feed_offer(9, 2, 0x1009), 0);
	ck_assert_uint_eq(rec.noffers, 2);
	ck_assert(vmbus_guid_equal(&rec.offers[0].if_type, &scsi));
	ck_assert_uint_eq(rec.offers[0].child_relid, 3);
	ck_assert_uint_eq(rec.offers[0].connection_id, 0x1003);
	ck_assert_uint_eq(rec.offers[0].if_instance.b[0], 0xa3);
	ck_assert_uint_eq(rec.offers[1].sub_channel_index, 2);
	ck_assert_uint_eq(rec.offers[1].user_def[5], 5 ^ 9);
	ck_assert(rec.offers[1].is_dedicated_interrupt);
	ck_assert_uint_eq(rec.delivered, 0);
	ck_assert_int_eq(feed_simple(CHANNELMSG_ALLOFFERS_DELIVERED), 0);
	ck_assert_uint_eq(rec.delivered, 1);

	/* Hot add after the list. */
	ck_assert_int_eq(feed_offer(4, 0, 0x1004), 0);
	ck_assert_uint_eq(rec.noffers, 3);
	ck_assert_int_eq(vmbus_client_get_offer(cl, 9, &o), 0);
	ck_assert_uint_eq(o.connection_id, 0x1009);
	ck_assert_int_eq(vmbus_client_get_offer(cl, 10, &o), -ENOENT);
}
END_TEST

START_TEST(hostile_offers)
{
	setup_sized(2, 4);
	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(0, 0, 1), -ERANGE);
	ck_assert_int_eq(feed_offer(2048, 0, 1), -ERANGE);
	ck_assert_int_eq(feed_offer(5, 0, 1), 0);
	ck_assert_int_eq(feed_offer(5, 0, 2), -EEXIST);
	ck_assert_int_eq(feed_offer(6, 0, 1), 0);
	ck_assert_int_eq(feed_offer(7, 0, 1), -ENOSPC);
	ck_assert_uint_eq(rec.noffers, 2);
	/* Not requested: dropped. */
	ck_assert_int_eq(feed_simple(CHANNELMSG_ALLOFFERS_DELIVERED), -EPROTO);
	ck_assert_uint_eq(rec.delivered, 0);
	ck_assert_uint_eq(hv_fake.nposts, 0);
}
END_TEST

/* ---- GPADLs ------------------------------------------------------------------- */

static uint64_t pfns[256];

/* Create a GPADL of npages on relid 3 and check how it was split. */
static void check_gpadl_split(uint32_t npages, unsigned int nmsgs)
{
	struct vmbus_gpadl_build_range r = { 0, npages * 4096u, pfns };
	struct done d = { 0 };
	uint64_t got[256];
	uint32_t gpadl = 0, ngot = 0, i, w;
	struct vmbus_msg m;

	setup();
	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	for (i = 0; i < npages; i++)
		pfns[i] = 0x5000 + i * 3;
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &gpadl,
						   done_cb, &d), 0);
	ck_assert_uint_ne(gpadl, 0);
	ck_assert_uint_eq(hv_fake.nposts, nmsgs);

	m = posted(0, CHANNELMSG_GPADL_HEADER);
	ck_assert_uint_eq(m.u.gpadl_header.child_relid, 3);
	ck_assert_uint_eq(m.u.gpadl_header.gpadl, gpadl);
	ck_assert_uint_eq(m.u.gpadl_header.rangecount, 1);
	ck_assert_uint_eq(m.u.gpadl_header.range_buflen, 8 + 8 * npages);
	{
		const uint8_t *p = hv_fake.posts[0].buf + 20;
		uint32_t bc, bo;

		memcpy(&bc, p, 4);
		memcpy(&bo, p + 4, 4);
		ck_assert_uint_eq(bc, npages * 4096u);
		ck_assert_uint_eq(bo, 0);
		for (w = 1; 20 + 8 * w < hv_fake.posts[0].len; w++)
			memcpy(&got[ngot++], p + 8 * w, 8);
	}
	ck_assert_uint_eq(ngot, npages < 26 ? npages : 26);
	for (i = 1; i < nmsgs; i++) {
		m = posted(i, CHANNELMSG_GPADL_BODY);
		ck_assert_uint_eq(m.u.gpadl_body.gpadl, gpadl);
		ck_assert_uint_eq(hv_fake.posts[i].conn_id, 7);
		for (w = 0; 16 + 8 * w < hv_fake.posts[i].len; w++)
			memcpy(&got[ngot++], hv_fake.posts[i].buf + 16 + 8 * w, 8);
	}
	ck_assert_uint_eq(ngot, npages);
	ck_assert_mem_eq(got, pfns, npages * 8);

	ck_assert_int_eq(d.calls, 0);
	ck_assert_int_eq(feed_gpadl_created(3, gpadl, 0), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, 0);
	/* A second GPADL_CREATED is not waited for. */
	ck_assert_int_eq(feed_gpadl_created(3, gpadl, 0), -ENOENT);
	ck_assert_int_eq(d.calls, 1);
}

START_TEST(gpadl_split_1)
{
	check_gpadl_split(1, 1);
}
END_TEST

START_TEST(gpadl_split_26)
{
	check_gpadl_split(26, 1);
}
END_TEST

START_TEST(gpadl_split_27)
{
	check_gpadl_split(27, 2);
}
END_TEST

START_TEST(gpadl_split_100)
{
	/* 26 in the header, then 28 + 28 + 18. */
	check_gpadl_split(100, 4);
	ck_assert_uint_eq(hv_fake.posts[3].len, 16 + 18 * 8);
}
END_TEST

START_TEST(gpadl_refused_and_teardown)
{
	struct vmbus_gpadl_build_range r = { 0, 2 * 4096, pfns };
	struct done d1 = { 0 }, d2 = { 0 }, dt = { 0 };
	uint32_t g1, g2;
	struct vmbus_msg m;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 4, &r, 1, &g1, done_cb, &d1),
			 -ENOENT);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g1, done_cb, &d1), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g2, done_cb, &d2), 0);
	ck_assert_uint_ne(g1, g2);
	/* Wrong relid in the reply: dropped. */
	ck_assert_int_eq(feed_gpadl_created(4, g1, 0), -ENOENT);
	ck_assert_int_eq(feed_gpadl_created(3, g1, 0xc0000001u), 0);
	ck_assert_int_eq(d1.err, -EIO);
	ck_assert_int_eq(vmbus_client_gpadl_teardown(cl, 3, g1, done_cb, &dt), -ENOENT);
	ck_assert_int_eq(feed_gpadl_created(3, g2, 0), 0);
	ck_assert_int_eq(d2.err, 0);
	ck_assert_int_eq(d2.calls, 1);

	hv_fake.nposts = 0;
	ck_assert_int_eq(vmbus_client_gpadl_teardown(cl, 3, g2, done_cb, &dt), 0);
	m = posted(0, CHANNELMSG_GPADL_TEARDOWN);
	ck_assert_uint_eq(m.u.gpadl_teardown.child_relid, 3);
	ck_assert_uint_eq(m.u.gpadl_teardown.gpadl, g2);
	ck_assert_int_eq(dt.calls, 0);
	ck_assert_int_eq(feed_torndown(g2 + 1), -ENOENT);
	ck_assert_int_eq(feed_torndown(g2), 0);
	ck_assert_int_eq(dt.calls, 1);
	ck_assert_int_eq(dt.err, 0);
	ck_assert_int_eq(feed_torndown(g2), -ENOENT);
}
END_TEST

START_TEST(gpadl_table_full_and_bad_ranges)
{
	struct vmbus_gpadl_build_range r = { 0, 4096, pfns };
	struct vmbus_gpadl_build_range bad = { 4096, 4096, pfns };
	uint32_t g;

	setup_sized(2, 2);
	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &bad, 1, &g, NULL, NULL),
			 -EINVAL);
	ck_assert_uint_eq(hv_fake.nposts, 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, NULL, NULL), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, NULL, NULL), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, NULL, NULL),
			 -ENOSPC);
	/* A body that fails to post: the handle is dropped, not kept. */
	setup_sized(2, 1);
	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	hv_fake.fail_type = CHANNELMSG_GPADL_BODY;
	r.byte_count = 30 * 4096;
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, NULL, NULL), -EIO);
	hv_fake.fail_type = 0;
	r.byte_count = 4096;
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, NULL, NULL), 0);
}
END_TEST

/* ---- Open / close ------------------------------------------------------------------ */

static uint64_t ring_pfns[6] = { 0x100, 0x101, 0x102, 0x200, 0x201, 0x202 };

static struct vmbus_client_open_params open_params(void)
{
	static const char ud[] = "user-data";
	struct vmbus_client_open_params p = {
		.pfns = ring_pfns,
		.page_count = 6,
		.downstream_page_offset = 3,
		.target_vp = 1,
		.userdata = ud,
		.userdata_len = sizeof(ud),
	};
	return p;
}

/* Open relid 3 up to the point where OPENCHANNEL was posted; returns the
 * ring GPADL handle. */
static uint32_t open_to_openchannel(struct done *d)
{
	struct vmbus_client_open_params p = open_params();
	struct vmbus_msg m;
	uint32_t gpadl;

	hv_fake.nposts = 0;
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, d), 0);
	ck_assert_uint_eq(hv_fake.nposts, 1);
	m = posted(0, CHANNELMSG_GPADL_HEADER);
	gpadl = m.u.gpadl_header.gpadl;
	ck_assert_uint_eq(m.u.gpadl_header.range_buflen, 8 + 6 * 8);
	ck_assert_int_eq(vmbus_client_ring_gpadl(cl, 3), 0);
	ck_assert_int_eq(feed_gpadl_created(3, gpadl, 0), 0);
	ck_assert_int_eq(d->calls, 0);
	ck_assert_uint_eq(hv_fake.nposts, 2);
	m = posted(1, CHANNELMSG_OPENCHANNEL);
	ck_assert_uint_eq(m.u.open.child_relid, 3);
	ck_assert_uint_eq(m.u.open.openid, 3);
	ck_assert_uint_eq(m.u.open.ringbuffer_gpadlhandle, gpadl);
	ck_assert_uint_eq(m.u.open.downstream_ringbuffer_pageoffset, 3);
	ck_assert_uint_eq(m.u.open.target_vp, 1);
	ck_assert_str_eq((const char *)m.u.open.userdata, "user-data");
	ck_assert_uint_eq(m.u.open.userdata[20], 0);
	return gpadl;
}

START_TEST(open_close)
{
	struct done d = { 0 }, dc = { 0 };
	struct vmbus_client_open_params p = open_params();
	uint32_t gpadl;
	struct vmbus_msg m;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	gpadl = open_to_openchannel(&d);
	/* Wrong openid, unknown relid: dropped. */
	ck_assert_int_eq(feed_open_result(3, 4, 0), -ENOENT);
	ck_assert_int_eq(feed_open_result(5, 5, 0), -ENOENT);
	ck_assert_int_eq(d.calls, 0);
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), -EBUSY);
	ck_assert_int_eq(vmbus_client_close(cl, 3, done_cb, &dc), -EBUSY);
	ck_assert_int_eq(feed_open_result(3, 3, 0), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, 0);
	ck_assert_uint_eq(vmbus_client_ring_gpadl(cl, 3), gpadl);
	ck_assert_int_eq(feed_open_result(3, 3, 0), -ENOENT);
	/* The ring GPADL belongs to the open channel. */
	ck_assert_int_eq(vmbus_client_gpadl_teardown(cl, 3, gpadl, NULL, NULL), -EBUSY);

	hv_fake.nposts = 0;
	ck_assert_int_eq(vmbus_client_close(cl, 3, done_cb, &dc), 0);
	ck_assert_uint_eq(hv_fake.nposts, 2);
	ck_assert_uint_eq(posted(0, CHANNELMSG_CLOSECHANNEL).u.close.child_relid, 3);
	m = posted(1, CHANNELMSG_GPADL_TEARDOWN);
	ck_assert_uint_eq(m.u.gpadl_teardown.gpadl, gpadl);
	ck_assert_int_eq(dc.calls, 0);
	ck_assert_int_eq(feed_torndown(gpadl), 0);
	ck_assert_int_eq(dc.calls, 1);
	ck_assert_int_eq(dc.err, 0);
	ck_assert_int_eq(vmbus_client_ring_gpadl(cl, 3), 0);
	/* Not rescinded: no RELID_RELEASED. */
	ck_assert_uint_eq(hv_fake.nposts, 2);
	/* And it can be opened again. */
	memset(&d, 0, sizeof(d));
	open_to_openchannel(&d);
}
END_TEST

START_TEST(open_refused)
{
	struct done d = { 0 };
	uint32_t gpadl;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	gpadl = open_to_openchannel(&d);
	ck_assert_int_eq(feed_open_result(3, 3, 0xc0000001u), 0);
	/* The ring is taken back before the failure is reported. */
	ck_assert_int_eq(d.calls, 0);
	ck_assert_uint_eq(posted(2, CHANNELMSG_GPADL_TEARDOWN).u.gpadl_teardown.gpadl,
			  gpadl);
	ck_assert_int_eq(feed_torndown(gpadl), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, -EIO);

	/* Ring GPADL refused: reported at once. */
	hv_fake.nposts = 0;
	{
		struct vmbus_client_open_params p = open_params();

		ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), 0);
	}
	gpadl = posted(0, CHANNELMSG_GPADL_HEADER).u.gpadl_header.gpadl;
	ck_assert_int_eq(feed_gpadl_created(3, gpadl, 1), 0);
	ck_assert_int_eq(d.calls, 2);
	ck_assert_int_eq(d.err, -EIO);
	ck_assert_uint_eq(hv_fake.nposts, 1);
}
END_TEST

START_TEST(open_bad_params)
{
	struct vmbus_client_open_params p;
	struct done d = { 0 };

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	p = open_params();
	p.downstream_page_offset = 1;
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), -EINVAL);
	p = open_params();
	p.downstream_page_offset = 5;
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), -EINVAL);
	p = open_params();
	p.downstream_page_offset = 7;
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), -EINVAL);
	p = open_params();
	p.userdata_len = 121;
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), -EINVAL);
	p = open_params();
	p.page_count = 1u << 20;	/* 4 GiB would wrap the 32-bit byte_count */
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), -EINVAL);
	p = open_params();
	ck_assert_int_eq(vmbus_client_open(cl, 8, &p, done_cb, &d), -ENOENT);
	ck_assert_uint_eq(hv_fake.nposts, 0);
}
END_TEST

/* ---- Rescind --------------------------------------------------------------------- */

START_TEST(rescind_close_release)
{
	struct done d = { 0 };
	uint32_t gpadl;
	struct vmbus_msg m;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	gpadl = open_to_openchannel(&d);
	ck_assert_int_eq(feed_open_result(3, 3, 0), 0);

	hv_fake.nposts = 0;
	rec.close_on_rescind = true;
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), 0);
	ck_assert_uint_eq(rec.nrescinds, 1);
	ck_assert_uint_eq(rec.rescinds[0], 3);
	ck_assert_int_eq(rec.close_ret, 0);
	ck_assert_uint_eq(hv_fake.nposts, 2);
	posted(0, CHANNELMSG_CLOSECHANNEL);
	posted(1, CHANNELMSG_GPADL_TEARDOWN);
	/* A second rescind is dropped. */
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), -EPROTO);
	ck_assert_uint_eq(rec.nrescinds, 1);

	ck_assert_int_eq(feed_torndown(gpadl), 0);
	ck_assert_int_eq(close_done.calls, 1);
	ck_assert_int_eq(close_done.err, 0);
	ck_assert_uint_eq(hv_fake.nposts, 3);
	m = posted(2, CHANNELMSG_RELID_RELEASED);
	ck_assert_uint_eq(m.u.relid_released.child_relid, 3);
	ck_assert_uint_eq(hv_fake.posts[2].conn_id, 7);
	/* The relid is gone and may be offered anew. */
	ck_assert_int_eq(vmbus_client_get_offer(cl, 3, &m.u.offer), -ENOENT);
	ck_assert_int_eq(feed_offer(3, 0, 0x2003), 0);
}
END_TEST

START_TEST(rescind_unopened_releases_at_once)
{
	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), 0);
	ck_assert_uint_eq(rec.nrescinds, 1);
	ck_assert_uint_eq(hv_fake.nposts, 1);
	ck_assert_uint_eq(posted(0, CHANNELMSG_RELID_RELEASED).u.relid_released.child_relid, 3);
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), -ENOENT);
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 42), -ENOENT);
}
END_TEST

START_TEST(rescind_waits_for_gpadls)
{
	struct vmbus_gpadl_build_range r = { 0, 4096, pfns };
	struct done dg = { 0 }, dp = { 0 }, dt = { 0 };
	uint32_t g, gp;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, done_cb, &dg), 0);
	ck_assert_int_eq(feed_gpadl_created(3, g, 0), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &gp, done_cb, &dp), 0);
	hv_fake.nposts = 0;
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), 0);
	/* The pending creation failed; the created GPADL still holds the relid. */
	ck_assert_int_eq(dp.calls, 1);
	ck_assert_int_eq(dp.err, -ENODEV);
	ck_assert_uint_eq(hv_fake.nposts, 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &gp, NULL, NULL), -ENODEV);
	ck_assert_int_eq(feed_gpadl_created(3, gp, 0), -ENOENT);
	ck_assert_int_eq(vmbus_client_gpadl_teardown(cl, 3, g, done_cb, &dt), 0);
	ck_assert_int_eq(feed_torndown(g), 0);
	ck_assert_int_eq(dt.calls, 1);
	ck_assert_uint_eq(hv_fake.nposts, 2);
	posted(0, CHANNELMSG_GPADL_TEARDOWN);
	posted(1, CHANNELMSG_RELID_RELEASED);
}
END_TEST

START_TEST(rescind_while_opening)
{
	struct done d = { 0 };
	uint32_t gpadl;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	gpadl = open_to_openchannel(&d);
	hv_fake.nposts = 0;
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), 0);
	ck_assert_int_eq(d.calls, 0);
	ck_assert_uint_eq(posted(0, CHANNELMSG_GPADL_TEARDOWN).u.gpadl_teardown.gpadl,
			  gpadl);
	/* A late result is not acted on. */
	ck_assert_int_eq(feed_open_result(3, 3, 0), -ENOENT);
	ck_assert_int_eq(feed_torndown(gpadl), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, -ENODEV);
	ck_assert_uint_eq(hv_fake.nposts, 2);
	posted(1, CHANNELMSG_RELID_RELEASED);
}
END_TEST

START_TEST(rescind_while_ring_gpadl_pending)
{
	struct vmbus_client_open_params p = open_params();
	struct done d = { 0 };
	uint32_t gpadl;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_open(cl, 3, &p, done_cb, &d), 0);
	gpadl = posted(0, CHANNELMSG_GPADL_HEADER).u.gpadl_header.gpadl;
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, -ENODEV);
	posted(1, CHANNELMSG_RELID_RELEASED);
	ck_assert_int_eq(feed_gpadl_created(3, gpadl, 0), -ENOENT);
	ck_assert_uint_eq(hv_fake.nposts, 2);
}
END_TEST

/* ---- Modify, unload ------------------------------------------------------------- */

START_TEST(modify_channel)
{
	struct vmbus_msg m = { .type = CHANNELMSG_MODIFYCHANNEL_RESPONSE };
	struct done d = { 0 };

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_modify_channel(cl, 3, 5, done_cb, &d), 0);
	m = posted(0, CHANNELMSG_MODIFYCHANNEL);
	ck_assert_uint_eq(m.u.modifychannel.child_relid, 3);
	ck_assert_uint_eq(m.u.modifychannel.target_vp, 5);
	ck_assert_int_eq(vmbus_client_modify_channel(cl, 3, 5, done_cb, &d), -EBUSY);
	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_MODIFYCHANNEL_RESPONSE;
	m.u.modifychannel_response.child_relid = 4;
	ck_assert_int_eq(feed(&m), -ENOENT);
	m.u.modifychannel_response.child_relid = 3;
	m.u.modifychannel_response.status = 1;
	ck_assert_int_eq(feed(&m), 0);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.err, -EIO);
	ck_assert_int_eq(feed(&m), -ENOENT);

	/* 5.2: no response exists. */
	setup();
	connect_at(VERSION_WIN10_V5_2, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_modify_channel(cl, 3, 5, done_cb, &d),
			 VMBUS_CLIENT_COMPLETED);
	ck_assert_uint_eq(hv_fake.nposts, 1);
	/* 4.0: no MODIFYCHANNEL at all. */
	setup();
	connect_at(VERSION_WIN10, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_modify_channel(cl, 3, 5, done_cb, &d),
			 -EOPNOTSUPP);
	ck_assert_uint_eq(hv_fake.nposts, 0);
}
END_TEST

START_TEST(unload)
{
	struct vmbus_gpadl_build_range r = { 0, 4096, pfns };
	struct done d = { 0 }, dg = { 0 }, du = { 0 };
	uint32_t g;

	connect_at(0, 7);
	ck_assert_int_eq(feed_offer(3, 0, 0x1003), 0);
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, 3, &r, 1, &g, done_cb, &dg), 0);
	hv_fake.nposts = 0;
	ck_assert_int_eq(vmbus_client_unload(cl, done_cb, &du), 0);
	posted(0, CHANNELMSG_UNLOAD);
	ck_assert_uint_eq(hv_fake.posts[0].conn_id, 7);
	ck_assert_int_eq(vmbus_client_request_offers(cl), -ENOTCONN);
	ck_assert_int_eq(feed_simple(CHANNELMSG_UNLOAD_RESPONSE), 0);
	ck_assert_int_eq(du.calls, 1);
	ck_assert_int_eq(du.err, 0);
	ck_assert_int_eq(dg.calls, 1);
	ck_assert_int_eq(dg.err, -ECONNRESET);
	ck_assert(!vmbus_client_connected(cl));
	ck_assert_int_eq(vmbus_client_get_offer(cl, 3, &rec.offers[0]), -ENOENT);
	ck_assert_int_eq(feed_simple(CHANNELMSG_UNLOAD_RESPONSE), -EPROTO);
	ck_assert_int_eq(vmbus_client_unload(cl, done_cb, &du), -ENOTCONN);
	/* Connect again. */
	connect_at(0, 8);
	(void)d;

	/* 2.4 knows no UNLOAD. */
	setup();
	connect_at(VERSION_WIN8, 0);
	ck_assert_int_eq(vmbus_client_unload(cl, done_cb, &du), VMBUS_CLIENT_COMPLETED);
	ck_assert_uint_eq(hv_fake.nposts, 0);
	ck_assert(!vmbus_client_connected(cl));
}
END_TEST

/* ---- Hostile host ------------------------------------------------------------------ */

START_TEST(hostile_messages)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE + 8];
	struct vmbus_msg m;
	int n;

	/* Before connect everything but VERSION_RESPONSE is dropped, and that
	 * too when nobody asked. */
	ck_assert_int_lt(feed_offer(3, 0, 1), 0);
	ck_assert_int_eq(feed_version(1, 5), -EPROTO);
	ck_assert(!vmbus_client_connected(cl));
	connect_at(0, 7);

	/* Truncated offer, oversize message, empty message. */
	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_OFFERCHANNEL;
	m.u.offer.child_relid = 3;
	n = vmbus_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_lt(vmbus_client_handle_message(cl, buf, (size_t)n - 1), 0);
	ck_assert_int_lt(vmbus_client_handle_message(cl, buf, 4), 0);
	ck_assert_int_lt(vmbus_client_handle_message(cl, buf, 0), 0);
	ck_assert_int_lt(vmbus_client_handle_message(cl, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(rec.noffers, 0);
	/* Unknown and guest-only types. */
	memset(buf, 0, sizeof(buf));
	buf[0] = 19;
	ck_assert_int_lt(vmbus_client_handle_message(cl, buf, 64), 0);
	buf[0] = CHANNELMSG_INITIATE_CONTACT;
	ck_assert_int_eq(vmbus_client_handle_message(cl, buf, 40), -EPROTO);
	buf[0] = CHANNELMSG_REQUESTOFFERS;
	ck_assert_int_eq(vmbus_client_handle_message(cl, buf, 8), -EPROTO);
	/* Replies nobody waits for. */
	ck_assert_int_eq(feed_open_result(3, 3, 0), -ENOENT);
	ck_assert_int_eq(feed_gpadl_created(3, 0xe1e10, 0), -ENOENT);
	ck_assert_int_eq(feed_gpadl_created(3, 0, 0), -ENOENT);
	ck_assert_int_eq(feed_torndown(0xe1e10), -ENOENT);
	ck_assert_int_eq(feed_relid(CHANNELMSG_RESCIND_CHANNELOFFER, 3), -ENOENT);
	ck_assert_int_eq(feed_simple(CHANNELMSG_UNLOAD_RESPONSE), -EPROTO);
	ck_assert_int_eq(feed_simple(CHANNELMSG_ALLOFFERS_DELIVERED), -EPROTO);
	ck_assert_uint_eq(hv_fake.nposts, 0);
	ck_assert_uint_eq(rec.nrescinds, 0);
	ck_assert(vmbus_client_connected(cl));
	/* Still works afterwards. */
	ck_assert_int_eq(feed_offer(3, 0, 1), 0);
	ck_assert_uint_eq(rec.noffers, 1);
}
END_TEST

/* ---- Against this library's host server -------------------------------------- */

/*
 * The client talks to server.c through a carrier of a few lines: posts go
 * straight into the server, the server's replies queue up and are fed to
 * the client afterwards, signals are routed by connection id. Guest RAM is
 * one array the server reaches through a GPA map.
 */
#define RAM_PAGES	64
#define RAM_GPA		0x100000ull
#define RAM_PFN(i)	((RAM_GPA >> 12) + (i))
#define QUEUE_LEN	32

static uint8_t ram[RAM_PAGES][4096] __attribute__((aligned(4096)));

struct interop {
	struct vmbus_server *srv;
	struct vmbus_gpa_map *map;
	struct vmbus_server_channel *sch;
	uint8_t q[QUEUE_LEN][VMBUS_MSG_MAX_SIZE];
	uint32_t qlen[QUEUE_LEN];
	unsigned int qhead, qtail;
	int server_err;
	unsigned int guest_signals;	/* server -> guest interrupts */
	unsigned int host_signals;	/* guest -> device doorbells */
	bool opened, closed;
	struct vmbus_channel *host_ch;
	uint64_t host_mem[512];
	uint32_t conn_id;		/* the channel's event connection */
};

static struct interop io;

static int io_send_message(void *opaque, uint32_t vp, uint32_t sint,
			   const void *data, uint32_t len)
{
	struct interop *x = opaque;

	(void)vp;
	ck_assert_uint_eq(sint, 2);
	ck_assert_uint_lt(x->qtail - x->qhead, QUEUE_LEN);
	memcpy(x->q[x->qtail % QUEUE_LEN], data, len);
	x->qlen[x->qtail % QUEUE_LEN] = len;
	x->qtail++;
	return 0;
}

static int io_signal_guest(void *opaque, uint32_t vp, uint32_t relid)
{
	(void)vp;
	(void)relid;
	((struct interop *)opaque)->guest_signals++;
	return 0;
}

static uint16_t io_post(void *ctx, uint32_t conn_id, uint32_t type,
			const void *payload, uint32_t size)
{
	struct interop *x = ctx;
	int err;

	ck_assert_uint_eq(type, HV_MESSAGE_TYPE_VMBUS);
	err = vmbus_server_handle_message(x->srv, conn_id, payload, size);
	if (err)
		x->server_err = err;
	return HV_STATUS_SUCCESS;
}

static uint16_t io_signal_event(void *ctx, uint32_t conn_id, uint16_t flag)
{
	struct interop *x = ctx;

	ck_assert_uint_eq(flag, 0);
	return vmbus_server_signal(x->srv, conn_id) ? HV_STATUS_INVALID_CONNECTION_ID :
						      HV_STATUS_SUCCESS;
}

static const struct vmbus_hv_guest_ops io_ops = {
	.post_message = io_post,
	.signal_event = io_signal_event,
};

/* Feed the queued server replies to the client; each must be accepted. */
static unsigned int pump(void)
{
	unsigned int n = 0;

	while (io.qhead != io.qtail) {
		unsigned int i = io.qhead++ % QUEUE_LEN;

		ck_assert_int_eq(vmbus_client_handle_message(cl, io.q[i], io.qlen[i]), 0);
		n++;
	}
	ck_assert_int_eq(io.server_err, 0);
	return n;
}

static void host_signal(void *ctx)
{
	vmbus_server_channel_signal_guest(ctx);
}

static int dev_opened(struct vmbus_server_channel *ch,
		      const struct vmbus_server_open_info *info, void *ctx)
{
	struct interop *x = ctx;
	static void *pages[16];
	struct vmbus_ring send, recv;
	struct vmbus_channel_config cfg = { 0 };
	uint32_t off = info->downstream_offset;
	int n;

	n = vmbus_server_channel_ring_pages(ch, pages, 16);
	ck_assert_int_eq(n, 6);
	ck_assert_uint_eq(off, 3);
	ck_assert_str_eq((const char *)info->userdata, "user-data");
	/* The host reads the guest-to-host ring at page 0 and writes the
	 * host-to-guest ring at the downstream offset. */
	ck_assert_int_eq(vmbus_ring_view_pages(&recv, pages[0], pages + 1, off - 1), 0);
	ck_assert_int_eq(vmbus_ring_view_pages(&send, pages[off], pages + off + 1,
					       (size_t)n - off - 1), 0);
	ck_assert_int_eq(vmbus_ring_attach(&recv), 0);
	ck_assert_int_eq(vmbus_ring_attach(&send), 0);
	cfg.send = &send;
	cfg.recv = &recv;
	cfg.signal = host_signal;
	cfg.signal_ctx = ch;
	ck_assert_int_eq(vmbus_channel_init(x->host_mem, sizeof(x->host_mem), &cfg,
					    &x->host_ch), 0);
	x->opened = true;
	return 0;
}

static void dev_closed(struct vmbus_server_channel *ch, void *ctx)
{
	(void)ch;
	((struct interop *)ctx)->closed = true;
}

static void dev_signalled(struct vmbus_server_channel *ch, void *ctx)
{
	(void)ch;
	((struct interop *)ctx)->host_signals++;
}

static const struct vmbus_server_device_ops dev_ops = {
	.opened = dev_opened,
	.closed = dev_closed,
	.signalled = dev_signalled,
};

static uint64_t guest_mem[512];

static void guest_signal(void *ctx)
{
	struct interop *x = ctx;

	ck_assert_uint_eq(io_signal_event(x, x->conn_id, 0), HV_STATUS_SUCCESS);
}

START_TEST(interop_with_server)
{
	struct vmbus_server_ops sops = {
		.send_message = io_send_message,
		.signal_guest = io_signal_guest,
		.opaque = &io,
	};
	struct vmbus_server_offer offer = { .if_type = VMBUS_GUID_SCSI };
	struct vmbus_client_config cfg = make_cfg(8, 8);
	struct vmbus_client_open_params op = open_params();
	struct vmbus_ring gsend, grecv;
	struct vmbus_channel_config ccfg = { 0 };
	struct vmbus_channel *gch;
	struct vmbus_channel_packet pkt;
	struct vmbus_gpadl_build_range r;
	struct done d = { 0 }, dg = { 0 }, dt = { 0 }, dc = { 0 }, du = { 0 };
	uint64_t big_pfns[30];
	uint8_t buf[256];
	uint32_t relid, gpadl;
	uint64_t tid;
	int cookie, i;

	memset(&io, 0, sizeof(io));
	memset(ram, 0, sizeof(ram));
	io.map = vmbus_gpa_map_new();
	ck_assert_ptr_nonnull(io.map);
	ck_assert_int_eq(vmbus_gpa_map_add(io.map, RAM_GPA, sizeof(ram), ram), 0);
	io.srv = vmbus_server_new(&sops, io.map);
	ck_assert_ptr_nonnull(io.srv);
	ck_assert_int_eq(vmbus_server_add_offer(io.srv, &offer, &dev_ops, &io, &io.sch), 0);

	cfg.hv.ops = &io_ops;
	cfg.hv.ctx = &io;
	ck_assert_int_eq(vmbus_client_init(mem, sizeof(mem), &cfg, &cl), 0);
	ck_assert_int_eq(vmbus_client_connect(cl, &cparams, done_cb, &d), 0);
	ck_assert_uint_eq(pump(), 1);
	ck_assert_int_eq(d.err, 0);
	ck_assert_uint_eq(vmbus_client_version(cl), VERSION_WIN10_V5_3);
	ck_assert_uint_eq(vmbus_client_version(cl), vmbus_server_version(io.srv));

	ck_assert_int_eq(vmbus_client_request_offers(cl), 0);
	pump();
	ck_assert_uint_eq(rec.noffers, 1);
	ck_assert_uint_eq(rec.delivered, 1);
	relid = rec.offers[0].child_relid;
	ck_assert_uint_eq(relid, vmbus_server_channel_relid(io.sch));
	io.conn_id = rec.offers[0].connection_id;
	ck_assert_uint_eq(io.conn_id, vmbus_server_channel_connection_id(io.sch));

	/* Guest rings: pages 0..2 guest-to-host, 3..5 host-to-guest. */
	ck_assert_int_eq(vmbus_ring_view_contig(&gsend, (void *)ram[0], ram[1], 2 * 4096), 0);
	ck_assert_int_eq(vmbus_ring_view_contig(&grecv, (void *)ram[3], ram[4], 2 * 4096), 0);
	vmbus_ring_init(&gsend, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&grecv, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	for (i = 0; i < 6; i++)
		ring_pfns[i] = RAM_PFN(i);
	ck_assert_int_eq(vmbus_client_open(cl, relid, &op, done_cb, &d), 0);
	pump();
	ck_assert(io.opened);
	ck_assert_int_eq(d.calls, 2);
	ck_assert_int_eq(d.err, 0);
	ck_assert(vmbus_server_channel_is_open(io.sch));

	ccfg.send = &gsend;
	ccfg.recv = &grecv;
	ccfg.signal = guest_signal;
	ccfg.signal_ctx = &io;
	ccfg.max_requests = 4;
	ck_assert_int_eq(vmbus_channel_init(guest_mem, sizeof(guest_mem), &ccfg, &gch), 0);

	/* A request from the guest reaches the device, and its completion
	 * comes back with the cookie. */
	ck_assert_int_eq(vmbus_channel_send_request(gch, "ping", 4, &cookie, &tid), 0);
	ck_assert_uint_eq(io.host_signals, 1);
	ck_assert_int_eq(vmbus_channel_recv_next(io.host_ch, buf, sizeof(buf), &pkt), 1);
	ck_assert_uint_eq(pkt.trans_id, tid);
	ck_assert_mem_eq(pkt.payload, "ping", 4);
	ck_assert_int_eq(vmbus_channel_recv_end(io.host_ch), 0);
	i = (int)io.guest_signals;
	ck_assert_int_eq(vmbus_channel_send_comp(io.host_ch, "pong", 4, tid), 0);
	ck_assert_uint_eq(io.guest_signals, (unsigned int)i + 1);
	ck_assert_int_eq(vmbus_channel_recv_next(gch, buf, sizeof(buf), &pkt), 1);
	ck_assert_ptr_eq(pkt.cookie, &cookie);
	ck_assert_mem_eq(pkt.payload, "pong", 4);

	/* A GPADL that needs a body message, then its teardown. */
	for (i = 0; i < 30; i++)
		big_pfns[i] = RAM_PFN(10 + i);
	r.byte_offset = 0;
	r.byte_count = 30 * 4096;
	r.pfns = big_pfns;
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, relid, &r, 1, &gpadl, done_cb, &dg), 0);
	pump();
	ck_assert_int_eq(dg.calls, 1);
	ck_assert_int_eq(dg.err, 0);
	ck_assert_ptr_nonnull(vmbus_gpadl_find(vmbus_server_gpadl_table(io.srv), gpadl));
	ck_assert_int_eq(vmbus_client_gpadl_teardown(cl, relid, gpadl, done_cb, &dt), 0);
	pump();
	ck_assert_int_eq(dt.calls, 1);
	ck_assert_ptr_null(vmbus_gpadl_find(vmbus_server_gpadl_table(io.srv), gpadl));
	/* A GPADL outside guest RAM is refused by the host. */
	big_pfns[3] = 0xdead0;
	ck_assert_int_eq(vmbus_client_gpadl_create(cl, relid, &r, 1, &gpadl, done_cb, &dg), 0);
	io.server_err = 0;
	while (io.qhead != io.qtail) {
		unsigned int q = io.qhead++ % QUEUE_LEN;

		ck_assert_int_eq(vmbus_client_handle_message(cl, io.q[q], io.qlen[q]), 0);
	}
	ck_assert_int_eq(dg.calls, 2);
	ck_assert_int_eq(dg.err, -EIO);

	/* Close, then hot remove: rescind, relid released. */
	ck_assert_int_eq(vmbus_client_close(cl, relid, done_cb, &dc), 0);
	pump();
	ck_assert(io.closed);
	ck_assert_int_eq(dc.calls, 1);
	ck_assert_int_eq(dc.err, 0);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(io.srv)), 0);
	ck_assert_int_eq(vmbus_server_remove_offer(io.srv, io.sch), 0);
	pump();
	ck_assert_uint_eq(rec.nrescinds, 1);
	ck_assert_int_eq(io.server_err, 0);
	ck_assert_int_eq(vmbus_client_get_offer(cl, relid, &rec.offers[1]), -ENOENT);
	/* The relid is free on the host again: a new offer gets it. */
	ck_assert_int_eq(vmbus_server_add_offer(io.srv, &offer, &dev_ops, &io, &io.sch), 0);
	pump();
	ck_assert_uint_eq(rec.noffers, 2);
	ck_assert_uint_eq(rec.offers[1].child_relid, relid);

	ck_assert_int_eq(vmbus_client_unload(cl, done_cb, &du), 0);
	pump();
	ck_assert_int_eq(du.calls, 1);
	ck_assert(!vmbus_server_connected(io.srv));
	vmbus_server_free(io.srv);
	vmbus_gpa_map_free(io.map);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc;

	tc = tcase_create("connect");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, version_fallback);
	tcase_add_test(tc, conn_id_from_response);
	tcase_add_test(tc, all_versions_refused);
	tcase_add_test(tc, old_host_without_conn4);
	tcase_add_test(tc, v5_without_conn_id);
	tcase_add_test(tc, connection_state_failed);
	tcase_add_test(tc, max_version_and_transient_posts);
	tcase_add_test(tc, init_checks);
	suite_add_tcase(s, tc);

	tc = tcase_create("offers");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, offers);
	tcase_add_test(tc, hostile_offers);
	suite_add_tcase(s, tc);

	tc = tcase_create("gpadl");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, gpadl_split_1);
	tcase_add_test(tc, gpadl_split_26);
	tcase_add_test(tc, gpadl_split_27);
	tcase_add_test(tc, gpadl_split_100);
	tcase_add_test(tc, gpadl_refused_and_teardown);
	tcase_add_test(tc, gpadl_table_full_and_bad_ranges);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, open_close);
	tcase_add_test(tc, open_refused);
	tcase_add_test(tc, open_bad_params);
	suite_add_tcase(s, tc);

	tc = tcase_create("rescind");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, rescind_close_release);
	tcase_add_test(tc, rescind_unopened_releases_at_once);
	tcase_add_test(tc, rescind_waits_for_gpadls);
	tcase_add_test(tc, rescind_while_opening);
	tcase_add_test(tc, rescind_while_ring_gpadl_pending);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, modify_channel);
	tcase_add_test(tc, unload);
	tcase_add_test(tc, hostile_messages);
	suite_add_tcase(s, tc);

	tc = tcase_create("interop");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, interop_with_server);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
