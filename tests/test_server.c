/* SPDX-License-Identifier: MIT */
/*
 * Tests for the host VMBus server (libvmbus/server.c): the guest's side of
 * each exchange is encoded with msg.h and the GPADL builder, fed in
 * directly, and every reply the server sends is captured and checked.
 *
 * Sequences: Linux drivers/hv/connection.c, channel_mgmt.c and channel.c
 * (what a guest sends); OpenVMM vmbus_server channels.rs (what a host
 * answers). Formats: include/vmbus/proto/vmbus.h.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>
#include <vmbus/msg.h>
#include <vmbus/server.h>

#define RAM_GPA		0x100000ull
#define RAM_PAGES	512u
#define PFN0		(RAM_GPA >> 12)
#define MAX_SENT	512
#define MAX_SIGS	64

struct sent {
	uint32_t vp, sint, len;
	uint8_t data[VMBUS_MSG_MAX_SIZE];
};

struct dev {
	int opened, closed, signalled, modified;
	int open_ret;		/* what opened() returns */
	bool remove_self;	/* opened() tries to remove its own channel */
	int remove_rc;
	uint32_t modified_vp;
	struct vmbus_server_open_info info;
	void *ring_page0;	/* from vmbus_server_channel_ring_pages() in opened() */
	int ring_pages_rc;
	struct vmbus_gpadl *held;	/* put back in closed() */
};

static struct sent sent[MAX_SENT];
static int nsent;
static struct { uint32_t vp, relid; } sigs[MAX_SIGS];
static int nsig;
static int nlog;

static void *ram;
static struct vmbus_gpa_map *map;
static struct vmbus_server *srv;
static struct vmbus_server_channel *ch_a, *ch_b;
static struct dev dev_a, dev_b, dev_c;	/* c: devices a test adds */

static const struct vmbus_guid inst_a = VMBUS_GUID_INIT(0x11111111u, 0x2222u, 0x3333u, 0x4444u, 0x555555555555ull);
static const struct vmbus_guid inst_b = VMBUS_GUID_INIT(0xaaaaaaaau, 0xbbbbu, 0xccccu, 0xddddu, 0xeeeeeeeeeeeeull);
static const struct vmbus_guid scsi = VMBUS_GUID_SCSI;
static const struct vmbus_guid net = VMBUS_GUID_NET;

/* ---- Carrier and devices ------------------------------------------------ */

static int cap_send(void *opaque, uint32_t vp, uint32_t sint, const void *data, uint32_t len)
{
	(void)opaque;
	ck_assert_int_lt(nsent, MAX_SENT);
	ck_assert_uint_le(len, VMBUS_MSG_MAX_SIZE);
	sent[nsent].vp = vp;
	sent[nsent].sint = sint;
	sent[nsent].len = len;
	memcpy(sent[nsent].data, data, len);
	nsent++;
	return 0;
}

static int cap_signal(void *opaque, uint32_t vp, uint32_t relid)
{
	(void)opaque;
	ck_assert_int_lt(nsig, MAX_SIGS);
	sigs[nsig].vp = vp;
	sigs[nsig].relid = relid;
	nsig++;
	return 0;
}

static void cap_log(void *opaque, int level, const char *fmt, va_list ap)
{
	char line[256];

	(void)opaque;
	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	nlog++;
}

static int dev_opened(struct vmbus_server_channel *ch, const struct vmbus_server_open_info *info,
		      void *ctx)
{
	struct dev *d = ctx;
	void *pages[64];

	d->opened++;
	d->info = *info;
	ck_assert(vmbus_server_channel_is_open(ch));
	d->ring_pages_rc = vmbus_server_channel_ring_pages(ch, pages, 64);
	d->ring_page0 = d->ring_pages_rc > 0 ? pages[0] : NULL;
	if (d->remove_self)
		d->remove_rc = vmbus_server_remove_offer(srv, ch);
	return d->open_ret;
}

static void dev_closed(struct vmbus_server_channel *ch, void *ctx)
{
	struct dev *d = ctx;

	d->closed++;
	if (d->held) {
		vmbus_server_channel_gpadl_put(ch, d->held);
		d->held = NULL;
	}
}

static void dev_signalled(struct vmbus_server_channel *ch, void *ctx)
{
	(void)ch;
	((struct dev *)ctx)->signalled++;
}

static void dev_modified(struct vmbus_server_channel *ch, uint32_t vp, void *ctx)
{
	struct dev *d = ctx;

	(void)ch;
	d->modified++;
	d->modified_vp = vp;
}

static const struct vmbus_server_device_ops dev_ops = {
	.opened = dev_opened,
	.closed = dev_closed,
	.signalled = dev_signalled,
	.modified = dev_modified,
};

static struct vmbus_server_offer make_offer(const struct vmbus_guid *type,
					    const struct vmbus_guid *inst, uint16_t sub)
{
	struct vmbus_server_offer o;

	memset(&o, 0, sizeof(o));
	o.if_type = *type;
	o.if_instance = *inst;
	o.sub_channel_index = sub;
	o.chn_flags = VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS;
	o.user_def[0] = 0xab;
	o.user_def[119] = 0xcd;
	return o;
}

static void setup(void)
{
	struct vmbus_server_ops ops;
	struct vmbus_server_offer o;

	nsent = nsig = nlog = 0;
	memset(&dev_a, 0, sizeof(dev_a));
	memset(&dev_b, 0, sizeof(dev_b));
	memset(&dev_c, 0, sizeof(dev_c));
	ram = aligned_alloc(4096, (size_t)RAM_PAGES * 4096);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, (size_t)RAM_PAGES * 4096);
	map = vmbus_gpa_map_new();
	ck_assert_ptr_nonnull(map);
	ck_assert_int_eq(vmbus_gpa_map_add(map, RAM_GPA, (uint64_t)RAM_PAGES * 4096, ram), 0);

	memset(&ops, 0, sizeof(ops));
	ops.send_message = cap_send;
	ops.signal_guest = cap_signal;
	ops.log.fn = cap_log;
	ops.log.max_level = VMBUS_LOG_DEBUG;
	srv = vmbus_server_new(&ops, map);
	ck_assert_ptr_nonnull(srv);

	o = make_offer(&scsi, &inst_a, 0);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_a, &ch_a), 0);
	o = make_offer(&net, &inst_b, 0);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_b, &ch_b), 0);
	ck_assert_int_eq(nsent, 0);
}

static void teardown(void)
{
	vmbus_server_free(srv);
	srv = NULL;
	vmbus_gpa_map_free(map);
	free(ram);
}

/* ---- Guest side helpers ------------------------------------------------- */

static int post_raw(uint32_t conn, const void *data, size_t len)
{
	return vmbus_server_handle_message(srv, conn, data, len);
}

static int post_on(uint32_t conn, const struct vmbus_msg *m)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int len = vmbus_msg_encode(m, buf, sizeof(buf));

	ck_assert_int_gt(len, 0);
	return post_raw(conn, buf, (size_t)len);
}

static int post(const struct vmbus_msg *m)
{
	return post_on(VMBUS_MESSAGE_CONNECTION_ID, m);
}

static int post_type(uint32_t type)
{
	struct vmbus_msg m = { .type = type };

	return post(&m);
}

static int contact_full(uint32_t version, uint32_t conn, uint32_t vp, uint8_t sint, uint8_t vtl)
{
	struct vmbus_msg m = { .type = CHANNELMSG_INITIATE_CONTACT };

	m.u.initiate_contact.version_requested = version;
	m.u.initiate_contact.target_vcpu = vp;
	m.u.initiate_contact.msg_sint = sint;
	m.u.initiate_contact.msg_vtl = vtl;
	m.u.initiate_contact.interrupt_page = 0x5000;
	m.u.initiate_contact.monitor_page1 = 0x6000;
	m.u.initiate_contact.monitor_page2 = 0x7000;
	return post_on(conn, &m);
}

static int contact(uint32_t version, uint32_t vp)
{
	return contact_full(version, vmbus_version_contact_conn_id(version), vp,
			    VMBUS_MESSAGE_SINT, 0);
}

/* Decode captured message i and check its type. */
static struct vmbus_msg got(int i, uint32_t type)
{
	struct vmbus_msg m;

	ck_assert_int_lt(i, nsent);
	ck_assert_int_eq(vmbus_msg_decode(sent[i].data, sent[i].len, &m), (int)type);
	return m;
}

static void connect_and_offer(uint32_t version)
{
	ck_assert_int_eq(contact(version, 0), 0);
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), 0);
	ck_assert_int_eq(nsent, 4);	/* version, 2 offers, all delivered */
	nsent = 0;
}

/* Post every message of a one-range GPADL; returns the last result. */
static int gpadl_range(uint32_t relid, uint32_t id, uint64_t first_pfn, uint32_t npages,
		       uint32_t byte_offset, uint32_t byte_count)
{
	static uint64_t pfns[1024];
	struct vmbus_gpadl_build b;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int n, i, len, rc = 0;

	ck_assert_uint_le(npages, 1024);
	for (uint32_t p = 0; p < npages; p++)
		pfns[p] = first_pfn + p;
	n = vmbus_gpadl_build_init_single(&b, relid, id, pfns, byte_offset, byte_count);
	ck_assert_int_gt(n, 0);
	for (i = 0; i < n; i++) {
		len = vmbus_gpadl_build_msg(&b, (uint32_t)i, buf, sizeof(buf));
		ck_assert_int_gt(len, 0);
		rc = post_raw(VMBUS_MESSAGE_CONNECTION_ID, buf, (size_t)len);
		if (i < n - 1)
			ck_assert_int_eq(rc, 0);
	}
	return rc;
}

static int gpadl(uint32_t relid, uint32_t id, uint64_t first_pfn, uint32_t npages)
{
	return gpadl_range(relid, id, first_pfn, npages, 0, npages * 4096u);
}

/* Create a GPADL and consume its GPADL_CREATED, which must report success. */
static void gpadl_ok(uint32_t relid, uint32_t id, uint64_t first_pfn, uint32_t npages)
{
	struct vmbus_msg m;

	nsent = 0;
	ck_assert_int_eq(gpadl(relid, id, first_pfn, npages), 0);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_GPADL_CREATED);
	ck_assert_uint_eq(m.u.gpadl_created.child_relid, relid);
	ck_assert_uint_eq(m.u.gpadl_created.gpadl, id);
	ck_assert_uint_eq(m.u.gpadl_created.creation_status, 0);
	nsent = 0;
}

static int open_ch(uint32_t relid, uint32_t gpadl_id, uint32_t offset, uint32_t vp)
{
	struct vmbus_msg m = { .type = CHANNELMSG_OPENCHANNEL };

	m.u.open.child_relid = relid;
	m.u.open.openid = relid + 100;
	m.u.open.ringbuffer_gpadlhandle = gpadl_id;
	m.u.open.target_vp = vp;
	m.u.open.downstream_ringbuffer_pageoffset = offset;
	m.u.open.userdata[0] = 0x77;
	return post(&m);
}

/* An open that must fail: exactly one OPENCHANNEL_RESULT with status != 0. */
static void open_fails(uint32_t relid, uint32_t gpadl_id, uint32_t offset, int want_rc)
{
	struct vmbus_msg m;
	int rc;

	nsent = nsig = 0;
	rc = open_ch(relid, gpadl_id, offset, 0);
	ck_assert_int_eq(rc, want_rc);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_OPENCHANNEL_RESULT);
	ck_assert_uint_eq(m.u.open_result.child_relid, relid);
	ck_assert_uint_eq(m.u.open_result.openid, relid + 100);
	ck_assert_uint_ne(m.u.open_result.status, 0);
	ck_assert_int_eq(nsig, 0);
	nsent = 0;
}

static void open_ok(uint32_t relid, uint32_t gpadl_id, uint32_t offset, uint32_t vp)
{
	struct vmbus_msg m;

	nsent = nsig = 0;
	ck_assert_int_eq(open_ch(relid, gpadl_id, offset, vp), 0);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_OPENCHANNEL_RESULT);
	ck_assert_uint_eq(m.u.open_result.child_relid, relid);
	ck_assert_uint_eq(m.u.open_result.status, 0);
	ck_assert_int_eq(nsig, 1);
	ck_assert_uint_eq(sigs[0].relid, relid);
	ck_assert_uint_eq(sigs[0].vp, vp);
	nsent = nsig = 0;
}

static int relid_msg(uint32_t type, uint32_t relid)
{
	struct vmbus_msg m = { .type = type };

	/* close, rescind and relid_released share one layout */
	m.u.close.child_relid = relid;
	return post(&m);
}

static int teardown_msg(uint32_t relid, uint32_t id)
{
	struct vmbus_msg m = { .type = CHANNELMSG_GPADL_TEARDOWN };

	m.u.gpadl_teardown.child_relid = relid;
	m.u.gpadl_teardown.gpadl = id;
	return post(&m);
}

static int modify_msg(uint32_t relid, uint32_t vp)
{
	struct vmbus_msg m = { .type = CHANNELMSG_MODIFYCHANNEL };

	m.u.modifychannel.child_relid = relid;
	m.u.modifychannel.target_vp = vp;
	return post(&m);
}

/* ---- Version negotiation ----------------------------------------------- */

START_TEST(version_accepted)
{
	uint32_t ver = vmbus_versions[_i];
	struct vmbus_msg m;

	ck_assert_int_eq(contact(ver, 3), 0);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.version_supported, 1);
	ck_assert_uint_eq(m.u.version_response.connection_state, 0);
	if (ver >= VERSION_WIN10_V5)
		ck_assert_uint_eq(m.u.version_response.msg_conn_id, VMBUS_MESSAGE_CONNECTION_ID);
	/* target_vcpu exists from 8.1; before, messages go to VP 0 */
	ck_assert_uint_eq(sent[0].vp, ver >= VERSION_WIN8_1 ? 3u : 0u);
	ck_assert_uint_eq(sent[0].sint, VMBUS_MESSAGE_SINT);
	ck_assert(vmbus_server_connected(srv));
	ck_assert_uint_eq(vmbus_server_version(srv), ver);

	/* Later messages follow to the same place. */
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), 0);
	ck_assert_int_eq(nsent, 4);
	ck_assert_uint_eq(sent[3].vp, ver >= VERSION_WIN8_1 ? 3u : 0u);
}
END_TEST

static const uint32_t bad_versions[] = {
	VERSION_WS2008, VERSION_WIN7, VERSION_COPPER, VMBUS_MAKE_VERSION(5, 4),
	VMBUS_MAKE_VERSION(2, 3), 0, 0xffffffffu,
};

START_TEST(version_rejected)
{
	uint32_t ver = bad_versions[_i];
	struct vmbus_msg m;

	ck_assert_int_eq(contact(ver, 1), -ENOTSUP);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.version_supported, 0);
	ck_assert(!vmbus_server_connected(srv));
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), -ENOTCONN);
	ck_assert_int_eq(nsent, 1);

	/* The guest falls back to the next version, which works. */
	ck_assert_int_eq(contact(VERSION_WIN10_V5_2, 0), 0);
	m = got(1, CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.version_supported, 1);
}
END_TEST

START_TEST(version_linux_fallback)
{
	/* Linux walks its list newest first; the first one wins. */
	ck_assert_int_eq(contact(VERSION_COPPER, 0), -ENOTSUP);
	ck_assert_int_eq(contact(VERSION_WIN10_V5_3, 0), 0);
	ck_assert_int_eq(nsent, 2);
	ck_assert_uint_eq(got(0, CHANNELMSG_VERSION_RESPONSE).u.version_response.version_supported, 0);
	ck_assert_uint_eq(got(1, CHANNELMSG_VERSION_RESPONSE).u.version_response.version_supported, 1);
	ck_assert_uint_eq(vmbus_server_version(srv), VERSION_WIN10_V5_3);
}
END_TEST

START_TEST(version_wrong_connection_id)
{
	/* 5.x on connection 1, 4.x on connection 4, and some other id. */
	ck_assert_int_eq(contact_full(VERSION_WIN10_V5_3, 1, 0, 2, 0), -EPROTO);
	ck_assert_int_eq(contact_full(VERSION_WIN10_V4_1, 4, 0, 2, 0), -EPROTO);
	ck_assert_int_eq(contact_full(VERSION_WIN8, 7, 0, 2, 0), -EPROTO);
	ck_assert_int_eq(nsent, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(got(i, CHANNELMSG_VERSION_RESPONSE).u.version_response.version_supported, 0);
	ck_assert(!vmbus_server_connected(srv));
}
END_TEST

START_TEST(version_bad_sint_vtl)
{
	ck_assert_int_eq(contact_full(VERSION_WIN10_V5, 4, 0, 3, 0), -ENOTSUP);
	ck_assert_int_eq(contact_full(VERSION_WIN10_V5, 4, 0, 2, 1), -ENOTSUP);
	ck_assert_int_eq(contact_full(VERSION_WIN10_V5, 4, 0, 200, 0), -ENOTSUP);
	ck_assert_int_eq(nsent, 3);
	/* The refusal goes where the guest listens, when that is a SINT. */
	ck_assert_uint_eq(sent[0].sint, 3);
	ck_assert_uint_eq(sent[2].sint, VMBUS_MESSAGE_SINT);
	ck_assert(!vmbus_server_connected(srv));
}
END_TEST

START_TEST(contact_again_resets)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	/* A kexec'd guest starts over without UNLOAD. */
	ck_assert_int_eq(contact(VERSION_WIN10_V5_2, 1), 0);
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_VERSION_RESPONSE).u.version_response.version_supported, 1);
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), 0);
	ck_assert_int_eq(nsent, 4);
	ck_assert_uint_eq(got(1, CHANNELMSG_OFFERCHANNEL).u.offer.child_relid, 1);
}
END_TEST

/* ---- Hostile framing ----------------------------------------------------- */

START_TEST(before_contact_ignored)
{
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), -ENOTCONN);
	ck_assert_int_eq(post_type(CHANNELMSG_UNLOAD), -ENOTCONN);
	ck_assert_int_eq(open_ch(1, 1, 2, 0), -ENOTCONN);
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 1), -ENOTCONN);
	ck_assert_int_eq(gpadl(1, 5, PFN0, 4), -ENOTCONN);
	ck_assert_int_eq(nsent, 0);
	ck_assert_int_gt(nlog, 0);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
}
END_TEST

START_TEST(host_messages_from_guest)
{
	static const uint32_t types[] = {
		CHANNELMSG_OFFERCHANNEL, CHANNELMSG_RESCIND_CHANNELOFFER,
		CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_OPENCHANNEL_RESULT,
		CHANNELMSG_GPADL_CREATED, CHANNELMSG_GPADL_TORNDOWN,
		CHANNELMSG_VERSION_RESPONSE, CHANNELMSG_UNLOAD_RESPONSE,
		CHANNELMSG_TL_CONNECT_RESULT, CHANNELMSG_MODIFYCHANNEL_RESPONSE,
	};

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			ck_assert_int_eq(post_type(types[i]), -EPROTO);
		ck_assert_int_eq(nsent, 0);
		if (pass == 0)
			connect_and_offer(VERSION_WIN10_V5_3);
	}
	ck_assert(vmbus_server_connected(srv));
}
END_TEST

START_TEST(truncated_and_unknown)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE + 8];
	struct vmbus_msg m = { .type = CHANNELMSG_OPENCHANNEL };
	int len;

	connect_and_offer(VERSION_WIN10_V5_3);
	memset(buf, 0, sizeof(buf));
	m.u.open.child_relid = 1;
	len = vmbus_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(post_raw(1, buf, 20), -EBADMSG);
	ck_assert_int_eq(post_raw(1, buf, (size_t)len - 1), -EBADMSG);
	ck_assert_int_eq(post_raw(1, buf, 0), -EBADMSG);
	ck_assert_int_eq(post_raw(1, buf, 4), -EBADMSG);
	ck_assert_int_eq(post_raw(1, buf, VMBUS_MSG_MAX_SIZE + 1), -EMSGSIZE);
	ck_assert_int_eq(post_raw(1, NULL, 8), -EINVAL);
	buf[0] = 19;	/* CLOSE_RESERVED_CHANNEL: not supported */
	ck_assert_int_eq(post_raw(1, buf, 40), -ENOMSG);
	buf[0] = 200;
	ck_assert_int_eq(post_raw(1, buf, 40), -ENOMSG);
	ck_assert_int_eq(nsent, 0);
	ck_assert_int_eq(dev_a.opened, 0);
	/* Still serving. */
	gpadl_ok(1, 10, PFN0, 4);
}
END_TEST

START_TEST(wrong_message_connection_id)
{
	struct vmbus_msg m = { .type = CHANNELMSG_REQUESTOFFERS };

	ck_assert_int_eq(contact(VERSION_WIN10_V5_3, 0), 0);
	nsent = 0;
	ck_assert_int_eq(post_on(VMBUS_MESSAGE_CONNECTION_ID_4, &m), -EPROTO);
	ck_assert_int_eq(post_on(0x2001, &m), -EPROTO);
	ck_assert_int_eq(nsent, 0);
	ck_assert_int_eq(post_on(VMBUS_MESSAGE_CONNECTION_ID, &m), 0);
	ck_assert_int_eq(nsent, 3);
}
END_TEST

/* ---- Offers ------------------------------------------------------------ */

START_TEST(offers_then_all_delivered)
{
	struct vmbus_msg a, b;

	ck_assert_int_eq(contact(VERSION_WIN10_V5_3, 0), 0);
	/* Nothing is offered before the guest asks. */
	ck_assert_int_eq(nsent, 1);
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), 0);
	ck_assert_int_eq(nsent, 4);
	a = got(1, CHANNELMSG_OFFERCHANNEL);
	b = got(2, CHANNELMSG_OFFERCHANNEL);
	got(3, CHANNELMSG_ALLOFFERS_DELIVERED);

	ck_assert(vmbus_guid_equal(&a.u.offer.if_type, &scsi));
	ck_assert(vmbus_guid_equal(&a.u.offer.if_instance, &inst_a));
	ck_assert(vmbus_guid_equal(&b.u.offer.if_type, &net));
	ck_assert(vmbus_guid_equal(&b.u.offer.if_instance, &inst_b));
	ck_assert_uint_eq(a.u.offer.child_relid, vmbus_server_channel_relid(ch_a));
	ck_assert_uint_eq(b.u.offer.child_relid, vmbus_server_channel_relid(ch_b));
	ck_assert_uint_ne(a.u.offer.child_relid, b.u.offer.child_relid);
	ck_assert_uint_ne(a.u.offer.child_relid, 0);
	ck_assert_uint_ne(a.u.offer.connection_id, b.u.offer.connection_id);
	ck_assert_uint_eq(a.u.offer.connection_id, vmbus_server_channel_connection_id(ch_a));
	ck_assert_uint_gt(a.u.offer.connection_id, VMBUS_MESSAGE_CONNECTION_ID_4);
	ck_assert(a.u.offer.is_dedicated_interrupt);
	ck_assert(!a.u.offer.monitor_allocated);
	ck_assert_uint_eq(a.u.offer.sub_channel_index, 0);
	ck_assert_uint_eq(a.u.offer.chn_flags, VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS);
	ck_assert_uint_eq(a.u.offer.user_def[0], 0xab);
	ck_assert_uint_eq(a.u.offer.user_def[119], 0xcd);

	/* A second REQUESTOFFERS is refused and sends nothing. */
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), -EALREADY);
	ck_assert_int_eq(nsent, 4);
}
END_TEST

START_TEST(hot_add_while_connected)
{
	struct vmbus_server_offer o = make_offer(&scsi, &inst_b, 0);
	struct vmbus_server_channel *ch;
	struct vmbus_msg m;

	connect_and_offer(VERSION_WIN10_V5_3);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &ch), 0);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_OFFERCHANNEL);
	ck_assert_uint_eq(m.u.offer.child_relid, 3);
	ck_assert_uint_eq(m.u.offer.connection_id, vmbus_server_channel_connection_id(ch));
	ck_assert(vmbus_guid_equal(&m.u.offer.if_instance, &inst_b));
	/* The same device twice is refused. */
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &ch), -EEXIST);
	ck_assert_int_eq(nsent, 1);
}
END_TEST

START_TEST(add_before_request_offers)
{
	struct vmbus_server_offer o = make_offer(&scsi, &inst_b, 0);
	struct vmbus_server_channel *ch;

	ck_assert_int_eq(contact(VERSION_WIN10_V5_3, 0), 0);
	nsent = 0;
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &ch), 0);
	ck_assert_int_eq(nsent, 0);
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), 0);
	ck_assert_int_eq(nsent, 4);
	ck_assert_uint_eq(got(2, CHANNELMSG_OFFERCHANNEL).u.offer.child_relid, 3);
	got(3, CHANNELMSG_ALLOFFERS_DELIVERED);
}
END_TEST

START_TEST(subchannel_offer)
{
	struct vmbus_server_offer o = make_offer(&scsi, &inst_a, 1);
	struct vmbus_server_offer orphan = make_offer(&scsi, &inst_b, 2);
	struct vmbus_server_channel *sub, *x;
	struct vmbus_msg m;

	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	/* The device's protocol asked for a subchannel: offered at once. */
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &sub), 0);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_OFFERCHANNEL);
	ck_assert_uint_eq(m.u.offer.sub_channel_index, 1);
	ck_assert(vmbus_guid_equal(&m.u.offer.if_type, &scsi));
	ck_assert(vmbus_guid_equal(&m.u.offer.if_instance, &inst_a));
	ck_assert_uint_eq(m.u.offer.child_relid, vmbus_server_channel_relid(sub));
	ck_assert_uint_ne(m.u.offer.connection_id, vmbus_server_channel_connection_id(ch_a));
	/* A subchannel needs its primary; an index is taken once. */
	ck_assert_int_eq(vmbus_server_add_offer(srv, &orphan, &dev_ops, &dev_c, &x), -ENOENT);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &x), -EEXIST);
	ck_assert_int_eq(nsent, 1);
	/* It opens on its own ring. */
	gpadl_ok(3, 11, PFN0 + 16, 4);
	open_ok(3, 11, 2, 1);
	ck_assert_int_eq(dev_c.opened, 1);
	ck_assert(vmbus_server_channel_is_open(sub));
}
END_TEST

START_TEST(add_offer_bad_args)
{
	struct vmbus_server_offer o = make_offer(&scsi, &inst_b, 0);
	struct vmbus_server_device_ops no_close = { .opened = dev_opened };
	struct vmbus_server_channel *ch;

	ck_assert_int_eq(vmbus_server_add_offer(srv, NULL, &dev_ops, NULL, &ch), -EINVAL);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &no_close, NULL, &ch), -EINVAL);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, NULL, NULL), -EINVAL);
	ck_assert_int_eq(vmbus_server_remove_offer(srv, NULL), -EINVAL);
}
END_TEST

START_TEST(relids_run_out)
{
	struct vmbus_server_offer o;
	struct vmbus_server_channel *ch;
	uint32_t i;

	/* Two are registered; fill the rest with distinct instances. */
	for (i = 3; i <= VMBUS_SERVER_MAX_RELID; i++) {
		struct vmbus_guid g = VMBUS_GUID_INIT(i, 1u, 2u, 3u, 4ull);

		o = make_offer(&net, &g, 0);
		ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_b, &ch), 0);
		ck_assert_uint_eq(vmbus_server_channel_relid(ch), i);
	}
	{
		struct vmbus_guid g = VMBUS_GUID_INIT(0u, 9u, 9u, 9u, 9ull);

		o = make_offer(&net, &g, 0);
		ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_b, &ch), -ENOSPC);
	}
}
END_TEST

/* ---- GPADLs --------------------------------------------------------------- */

START_TEST(gpadl_multi_message)
{
	struct vmbus_msg m;
	const struct vmbus_gpadl *g;

	connect_and_offer(VERSION_WIN10_V5_3);
	/* 40 pages: 26 in the header, 14 in one body. No reply until done. */
	ck_assert_int_eq(gpadl(2, 0x1234, PFN0 + 100, 40), 0);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_GPADL_CREATED);
	ck_assert_uint_eq(m.u.gpadl_created.child_relid, 2);
	ck_assert_uint_eq(m.u.gpadl_created.gpadl, 0x1234);
	ck_assert_uint_eq(m.u.gpadl_created.creation_status, 0);
	g = vmbus_gpadl_find(vmbus_server_gpadl_table(srv), 0x1234);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(g), 40);
	ck_assert_uint_eq(vmbus_gpadl_child_relid(g), 2);

	/* 300 pages: a header and ten bodies. */
	nsent = 0;
	ck_assert_int_eq(gpadl(1, 0x1235, PFN0 + 200, 300), 0);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_GPADL_CREATED).u.gpadl_created.creation_status, 0);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 2);

	/* Torn down on request. */
	nsent = 0;
	ck_assert_int_eq(teardown_msg(2, 0x1234), 0);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_GPADL_TORNDOWN).u.gpadl_torndown.gpadl, 0x1234);
	ck_assert_ptr_null(vmbus_gpadl_find(vmbus_server_gpadl_table(srv), 0x1234));
}
END_TEST

START_TEST(gpadl_hostile)
{
	struct vmbus_msg m;

	connect_and_offer(VERSION_WIN10_V5_3);
	/* Unknown relid: refused at once, nothing kept. */
	ck_assert_int_eq(gpadl(9, 20, PFN0, 4), -ENOENT);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_GPADL_CREATED);
	ck_assert_uint_eq(m.u.gpadl_created.gpadl, 20);
	ck_assert_uint_ne(m.u.gpadl_created.creation_status, 0);
	nsent = 0;
	/* A page outside guest memory. */
	ck_assert_int_eq(gpadl(1, 21, PFN0 + RAM_PAGES - 2, 4), -EFAULT);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_ne(got(0, CHANNELMSG_GPADL_CREATED).u.gpadl_created.creation_status, 0);
	nsent = 0;
	/* An id reused: the second is refused, the first survives. */
	gpadl_ok(1, 22, PFN0, 8);
	ck_assert_int_eq(gpadl(2, 22, PFN0 + 8, 4), -EEXIST);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_ne(got(0, CHANNELMSG_GPADL_CREATED).u.gpadl_created.creation_status, 0);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 1);
	open_ok(1, 22, 4, 0);
	/* A body nobody started: dropped without reply. */
	{
		uint8_t buf[64];
		struct vmbus_channel_gpadl_body *b = (void *)buf;

		memset(buf, 0, sizeof(buf));
		b->header.msgtype = CHANNELMSG_GPADL_BODY;
		b->gpadl = 99;
		ck_assert_int_eq(post_raw(1, buf, sizeof(*b) + 8), -ENOENT);
		ck_assert_int_eq(nsent, 0);
	}
	/* Teardowns of unknown GPADLs or someone else's. */
	ck_assert_int_eq(teardown_msg(1, 77), -ENOENT);
	ck_assert_int_eq(teardown_msg(2, 22), -EPERM);
	ck_assert_int_eq(teardown_msg(55, 22), -ENOENT);
	ck_assert_int_eq(nsent, 0);
	ck_assert(vmbus_server_channel_is_open(ch_a));
}
END_TEST

START_TEST(gpadl_body_after_rescind)
{
	struct vmbus_gpadl_build b;
	static uint64_t pfns[40];
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int len;

	connect_and_offer(VERSION_WIN10_V5_3);
	for (int i = 0; i < 40; i++)
		pfns[i] = PFN0 + (uint64_t)i;
	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, 2, 30, pfns, 0, 40 * 4096), 2);
	len = vmbus_gpadl_build_msg(&b, 0, buf, sizeof(buf));
	ck_assert_int_eq(post_raw(1, buf, (size_t)len), 0);
	ck_assert_int_eq(vmbus_server_remove_offer(srv, ch_b), 0);
	ck_assert_int_eq(nsent, 1);
	got(0, CHANNELMSG_RESCIND_CHANNELOFFER);
	len = vmbus_gpadl_build_msg(&b, 1, buf, sizeof(buf));
	ck_assert_int_eq(post_raw(1, buf, (size_t)len), -ENOENT);
	ck_assert_int_eq(nsent, 2);
	ck_assert_uint_ne(got(1, CHANNELMSG_GPADL_CREATED).u.gpadl_created.creation_status, 0);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
}
END_TEST

/* ---- Open and close --------------------------------------------------------- */

START_TEST(open_close)
{
	const struct vmbus_gpadl *ring;
	void *pages[16];

	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0 + 32, 8);
	ck_assert(!vmbus_server_channel_is_open(ch_a));
	ck_assert_int_eq(vmbus_server_channel_signal_guest(ch_a), -ENOTCONN);
	ck_assert_int_eq(vmbus_server_channel_ring_pages(ch_a, pages, 16), -ENOTCONN);

	open_ok(1, 10, 3, 2);
	ck_assert_int_eq(dev_a.opened, 1);
	ck_assert_uint_eq(dev_a.info.ring_gpadl_id, 10);
	ck_assert_uint_eq(dev_a.info.ring_pages, 8);
	ck_assert_uint_eq(dev_a.info.downstream_offset, 3);
	ck_assert_uint_eq(dev_a.info.target_vp, 2);
	ck_assert_uint_eq(dev_a.info.open_id, 101);
	ck_assert_uint_eq(dev_a.info.userdata[0], 0x77);
	ck_assert_int_eq(dev_a.ring_pages_rc, 8);
	ck_assert_ptr_eq(dev_a.ring_page0, (uint8_t *)ram + 32 * 4096);
	ck_assert(vmbus_server_channel_is_open(ch_a));
	ck_assert_uint_eq(vmbus_server_channel_target_vp(ch_a), 2);
	ck_assert_uint_eq(vmbus_server_channel_downstream_offset(ch_a), 3);
	ring = vmbus_server_channel_ring_gpadl(ch_a);
	ck_assert_ptr_nonnull(ring);
	ck_assert_uint_eq(vmbus_gpadl_id(ring), 10);
	ck_assert_int_eq(vmbus_server_channel_ring_pages(ch_a, pages, 16), 8);
	ck_assert_ptr_eq(pages[3], (uint8_t *)ram + 35 * 4096);
	ck_assert_int_eq(vmbus_server_channel_ring_pages(ch_a, pages, 4), -ENOBUFS);

	/* The two ring views: 2 data pages to read, 4 to write. */
	{
		struct vmbus_ring send, recv;
		struct vmbus_ring_ctrl *g2h = (void *)((uint8_t *)ram + 32 * 4096);

		ck_assert_int_eq(vmbus_server_channel_rings(ch_a, pages, 16, &send, &recv), 0);
		ck_assert_uint_eq(vmbus_ring_data_size(&recv), 2 * 4096);
		ck_assert_uint_eq(vmbus_ring_data_size(&send), 4 * 4096);
		ck_assert_int_eq(vmbus_server_channel_rings(ch_a, pages, 4, &send, &recv), -ENOBUFS);
		/* A guest that left an index past its ring gets no views. */
		g2h->write_index = 3 * 4096;
		ck_assert_int_eq(vmbus_server_channel_rings(ch_a, pages, 16, &send, &recv), -ERANGE);
		g2h->write_index = 0;
	}

	/* Device -> guest and guest -> device signals. */
	ck_assert_int_eq(vmbus_server_channel_signal_guest(ch_a), 0);
	ck_assert_int_eq(nsig, 1);
	ck_assert_uint_eq(sigs[0].relid, 1);
	ck_assert_uint_eq(sigs[0].vp, 2);
	ck_assert_int_eq(vmbus_server_signal(srv, vmbus_server_channel_connection_id(ch_a)), 0);
	ck_assert_int_eq(dev_a.signalled, 1);
	ck_assert_int_eq(dev_b.signalled, 0);
	ck_assert_int_eq(vmbus_server_signal(srv, vmbus_server_channel_connection_id(ch_b)), -ENOENT);
	ck_assert_int_eq(vmbus_server_signal(srv, 0), -ENOENT);
	ck_assert_int_eq(vmbus_server_signal(srv, 0xffffffffu), -ENOENT);
	ck_assert_int_eq(vmbus_server_signal(srv, VMBUS_SERVER_CONN_ID_BASE), -ENOENT);

	/* The ring GPADL is referenced while open. */
	nsent = 0;
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 1), 0);
	ck_assert_int_eq(nsent, 0);		/* CLOSECHANNEL has no reply */
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert(!vmbus_server_channel_is_open(ch_a));
	ck_assert_ptr_null(vmbus_server_channel_ring_gpadl(ch_a));
	ck_assert_int_eq(vmbus_server_signal(srv, vmbus_server_channel_connection_id(ch_a)), -ENOENT);
	ck_assert_int_eq(dev_a.signalled, 1);
	/* Closing twice is refused quietly. */
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 1), -EINVAL);
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 77), -ENOENT);
	ck_assert_int_eq(dev_a.closed, 1);

	/* Reopen on the same GPADL, then tear it down after the close. */
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(dev_a.opened, 2);
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 1), 0);
	ck_assert_int_eq(teardown_msg(1, 10), 0);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_GPADL_TORNDOWN).u.gpadl_torndown.gpadl, 10);
}
END_TEST

START_TEST(open_refused_by_device)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	dev_a.open_ret = -EIO;
	open_fails(1, 10, 4, -EIO);
	ck_assert_int_eq(dev_a.opened, 1);
	ck_assert_int_eq(dev_a.closed, 0);
	ck_assert(!vmbus_server_channel_is_open(ch_a));
	/* The ring is not held: it can be torn down, or used again. */
	dev_a.open_ret = 0;
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(dev_a.opened, 2);
}
END_TEST

START_TEST(open_hostile)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);		/* fine ring */
	gpadl_ok(1, 11, PFN0 + 8, 2);		/* too small */
	gpadl_ok(1, 12, PFN0 + 10, 3);		/* too small for two rings */
	gpadl_ok(2, 13, PFN0 + 16, 8);		/* another channel's */
	ck_assert_int_eq(gpadl_range(1, 14, PFN0 + 24, 8, 0, 8 * 4096 - 100), 0);	/* not whole pages */
	ck_assert_int_eq(gpadl_range(1, 15, PFN0 + 32, 9, 16, 8 * 4096), 0);	/* offset into page */
	{
		/* Two ranges of 4 pages: right size, wrong shape for a ring. */
		static const uint64_t lo[4] = { PFN0 + 48, PFN0 + 49, PFN0 + 50, PFN0 + 51 };
		static const uint64_t hi[4] = { PFN0 + 60, PFN0 + 61, PFN0 + 62, PFN0 + 63 };
		const struct vmbus_gpadl_build_range r[2] = {
			{ .byte_offset = 0, .byte_count = 4 * 4096, .pfns = lo },
			{ .byte_offset = 0, .byte_count = 4 * 4096, .pfns = hi },
		};
		struct vmbus_gpadl_build b;
		uint8_t buf[VMBUS_MSG_MAX_SIZE];
		int len;

		ck_assert_int_eq(vmbus_gpadl_build_init(&b, 1, 16, r, 2), 1);
		len = vmbus_gpadl_build_msg(&b, 0, buf, sizeof(buf));
		ck_assert_int_eq(post_raw(1, buf, (size_t)len), 0);
	}
	ck_assert_int_eq(nsent, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(got(i, CHANNELMSG_GPADL_CREATED).u.gpadl_created.creation_status, 0);
	nsent = 0;

	open_fails(7, 10, 4, -ENOENT);		/* unknown relid */
	open_fails(0, 10, 4, -ENOENT);
	open_fails(1, 99, 4, -ENOENT);		/* unknown GPADL */
	open_fails(1, 13, 4, -EPERM);		/* another channel's GPADL */
	open_fails(1, 11, 1, -EINVAL);
	open_fails(1, 12, 2, -EINVAL);
	open_fails(1, 12, 1, -EINVAL);
	open_fails(1, 10, 0, -EINVAL);		/* no guest-to-host ring */
	open_fails(1, 10, 1, -EINVAL);		/* control page only */
	open_fails(1, 10, 7, -EINVAL);		/* host-to-guest control page only */
	open_fails(1, 10, 8, -EINVAL);		/* at the end */
	open_fails(1, 10, 9, -EINVAL);		/* outside */
	open_fails(1, 10, 0xffffffffu, -EINVAL);
	open_fails(1, 14, 4, -EINVAL);
	open_fails(1, 15, 4, -EINVAL);
	open_fails(1, 16, 4, -EINVAL);
	ck_assert_int_eq(dev_a.opened, 0);
	/* Nothing stayed referenced: every refused GPADL tears down. */
	ck_assert_int_eq(teardown_msg(1, 11), 0);

	/* Smallest legal ring pair, then an open of the open channel. */
	open_ok(1, 10, 2, 0);
	open_fails(1, 10, 2, -EALREADY);
	ck_assert_int_eq(dev_a.opened, 1);
	ck_assert(vmbus_server_channel_is_open(ch_a));
	ck_assert_int_eq(dev_a.closed, 0);

	/* The other channel still works. */
	open_ok(2, 13, 6, 1);
	ck_assert_int_eq(dev_b.opened, 1);
}
END_TEST

START_TEST(teardown_of_open_ring_held_back)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(teardown_msg(1, 10), -EINPROGRESS);
	ck_assert_int_eq(teardown_msg(1, 10), -EINPROGRESS);	/* repeated */
	ck_assert_int_eq(nsent, 0);
	ck_assert(vmbus_server_channel_is_open(ch_a));
	ck_assert_ptr_nonnull(vmbus_gpadl_find(vmbus_server_gpadl_table(srv), 10));
	/* The close releases the ring, and the guest gets its answer once. */
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 1), 0);
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_GPADL_TORNDOWN).u.gpadl_torndown.gpadl, 10);
	ck_assert_ptr_null(vmbus_gpadl_find(vmbus_server_gpadl_table(srv), 10));
}
END_TEST

START_TEST(device_gpadl_reference)
{
	struct vmbus_gpadl *g;

	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	gpadl_ok(1, 11, PFN0 + 8, 16);		/* a receive buffer */
	gpadl_ok(2, 12, PFN0 + 24, 4);
	ck_assert_int_eq(vmbus_server_channel_gpadl_get(ch_a, 11, &g), -ENOTCONN);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(vmbus_server_channel_gpadl_get(ch_a, 12, &g), -EPERM);
	ck_assert_int_eq(vmbus_server_channel_gpadl_get(ch_a, 13, &g), -ENOENT);
	ck_assert_int_eq(vmbus_server_channel_gpadl_get(ch_a, 11, &g), 0);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(g), 16);
	ck_assert_int_eq(teardown_msg(1, 11), -EINPROGRESS);
	ck_assert_int_eq(nsent, 0);
	vmbus_server_channel_gpadl_put(ch_a, g);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_GPADL_TORNDOWN).u.gpadl_torndown.gpadl, 11);
}
END_TEST

/* ---- Modify ------------------------------------------------------------------ */

START_TEST(modify_channel_53)
{
	struct vmbus_msg m;

	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(modify_msg(1, 5), 0);
	ck_assert_int_eq(dev_a.modified, 1);
	ck_assert_uint_eq(dev_a.modified_vp, 5);
	ck_assert_uint_eq(vmbus_server_channel_target_vp(ch_a), 5);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	ck_assert_uint_eq(m.u.modifychannel_response.child_relid, 1);
	ck_assert_uint_eq(m.u.modifychannel_response.status, 0);
	ck_assert_int_eq(vmbus_server_channel_signal_guest(ch_a), 0);
	ck_assert_uint_eq(sigs[0].vp, 5);

	/* A closed channel, an unknown one, the "no interrupt" VP. */
	nsent = 0;
	ck_assert_int_eq(modify_msg(2, 1), -EINVAL);
	ck_assert_int_eq(modify_msg(40, 1), -ENOENT);
	ck_assert_int_eq(modify_msg(1, 0xffffffffu), -EINVAL);
	ck_assert_int_eq(nsent, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_ne(got(i, CHANNELMSG_MODIFYCHANNEL_RESPONSE).u.modifychannel_response.status, 0);
	ck_assert_uint_eq(vmbus_server_channel_target_vp(ch_a), 5);
	ck_assert_int_eq(dev_a.modified, 1);
}
END_TEST

START_TEST(modify_channel_older)
{
	connect_and_offer(VERSION_WIN10_V5_2);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	/* Before 5.3 there is no response message. */
	ck_assert_int_eq(modify_msg(1, 3), 0);
	ck_assert_int_eq(nsent, 0);
	ck_assert_uint_eq(vmbus_server_channel_target_vp(ch_a), 3);
	ck_assert_int_eq(modify_msg(2, 3), -EINVAL);
	ck_assert_int_eq(nsent, 0);
	teardown();
	setup();
	/* Before 4.1 the message does not exist. */
	connect_and_offer(VERSION_WIN10);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(modify_msg(1, 3), -EPROTO);
	ck_assert_uint_eq(vmbus_server_channel_target_vp(ch_a), 0);
	ck_assert_int_eq(nsent, 0);
}
END_TEST

/* ---- Hot remove ------------------------------------------------------------- */

START_TEST(hot_remove_open_channel)
{
	struct vmbus_server_offer o = make_offer(&scsi, &inst_a, 0);
	struct vmbus_server_channel *ch, *ch2;
	struct vmbus_msg m;

	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	gpadl_ok(1, 11, PFN0 + 8, 4);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(vmbus_server_remove_offer(srv, ch_a), 0);
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_RESCIND_CHANNELOFFER);
	ck_assert_uint_eq(m.u.rescind.child_relid, 1);

	/* The relid is still the guest's: a new device gets another. */
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &ch), 0);
	ck_assert_uint_eq(vmbus_server_channel_relid(ch), 3);
	ck_assert_int_eq(nsent, 2);
	got(1, CHANNELMSG_OFFERCHANNEL);
	nsent = 0;

	/* The guest's cleanup, in Linux's order. */
	ck_assert_int_eq(relid_msg(CHANNELMSG_CLOSECHANNEL, 1), 0);
	ck_assert_int_eq(nsent, 0);
	open_fails(1, 10, 4, -EINVAL);		/* no opening a rescinded channel */
	ck_assert_int_eq(gpadl(1, 12, PFN0 + 20, 4), -EINVAL);
	ck_assert_uint_ne(got(0, CHANNELMSG_GPADL_CREATED).u.gpadl_created.creation_status, 0);
	nsent = 0;
	ck_assert_int_eq(teardown_msg(1, 10), 0);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_GPADL_TORNDOWN).u.gpadl_torndown.gpadl, 10);
	nsent = 0;
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 1), 0);
	ck_assert_int_eq(nsent, 0);
	/* GPADL 11, never torn down, went with the relid. */
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 1), -ENOENT);
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert_int_eq(dev_a.opened, 1);

	/* Now relid 1 is free again. */
	o = make_offer(&net, &inst_a, 0);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_c, &ch2), 0);
	ck_assert_uint_eq(vmbus_server_channel_relid(ch2), 1);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_OFFERCHANNEL).u.offer.child_relid, 1);
}
END_TEST

START_TEST(hot_remove_closed_and_unoffered)
{
	struct vmbus_server_offer o = make_offer(&scsi, &inst_a, 0);
	struct vmbus_server_channel *ch;

	/* Not yet offered to anyone: gone at once, relid free. */
	ck_assert_int_eq(vmbus_server_remove_offer(srv, ch_a), 0);
	ck_assert_int_eq(nsent, 0);
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_a, &ch), 0);
	ck_assert_uint_eq(vmbus_server_channel_relid(ch), 1);

	/* Offered, closed: rescind, and the guest releases it. */
	connect_and_offer(VERSION_WIN10_V5_3);
	ck_assert_int_eq(vmbus_server_remove_offer(srv, ch_b), 0);
	ck_assert_int_eq(dev_b.closed, 0);
	ck_assert_int_eq(nsent, 1);
	ck_assert_uint_eq(got(0, CHANNELMSG_RESCIND_CHANNELOFFER).u.rescind.child_relid, 2);
	ck_assert_int_eq(vmbus_server_remove_offer(srv, ch_b), -EINVAL);
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 2), 0);
	ck_assert_int_eq(nsent, 1);
}
END_TEST

START_TEST(relid_released_not_rescinded)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 1), -EINVAL);
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 2), -EINVAL);
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 3), -ENOENT);
	ck_assert_int_eq(relid_msg(CHANNELMSG_RELID_RELEASED, 0xffffffffu), -ENOENT);
	ck_assert_int_eq(nsent, 0);
	ck_assert(vmbus_server_channel_is_open(ch_a));
	ck_assert_int_eq(dev_a.closed, 0);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 1);
}
END_TEST

START_TEST(remove_from_own_callback)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	dev_a.remove_self = true;
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(dev_a.remove_rc, -EBUSY);
	ck_assert(vmbus_server_channel_is_open(ch_a));
}
END_TEST

/* ---- Unload and reset ----------------------------------------------------- */

START_TEST(unload_then_reconnect)
{
	struct vmbus_msg m;

	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	gpadl_ok(2, 11, PFN0 + 8, 8);
	gpadl_ok(2, 12, PFN0 + 16, 4);
	open_ok(1, 10, 4, 0);
	open_ok(2, 11, 4, 1);
	ck_assert_int_eq(teardown_msg(1, 10), -EINPROGRESS);
	ck_assert_int_eq(post_type(CHANNELMSG_UNLOAD), 0);
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert_int_eq(dev_b.closed, 1);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
	/* Only the response: no TORNDOWN for the held-back teardown. */
	ck_assert_int_eq(nsent, 1);
	got(0, CHANNELMSG_UNLOAD_RESPONSE);
	ck_assert(!vmbus_server_connected(srv));
	ck_assert_uint_eq(vmbus_server_version(srv), 0);
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), -ENOTCONN);
	ck_assert_int_eq(post_type(CHANNELMSG_UNLOAD), -ENOTCONN);
	ck_assert_int_eq(nsent, 1);

	/* The rebooted guest gets everything again, with the same relids. */
	nsent = 0;
	ck_assert_int_eq(contact(VERSION_WIN10_V5_2, 1), 0);
	ck_assert_int_eq(post_type(CHANNELMSG_REQUESTOFFERS), 0);
	ck_assert_int_eq(nsent, 4);
	m = got(1, CHANNELMSG_OFFERCHANNEL);
	ck_assert_uint_eq(m.u.offer.child_relid, 1);
	m = got(2, CHANNELMSG_OFFERCHANNEL);
	ck_assert_uint_eq(m.u.offer.child_relid, 2);
	got(3, CHANNELMSG_ALLOFFERS_DELIVERED);
	ck_assert_uint_eq(sent[3].vp, 1);
	gpadl_ok(1, 10, PFN0, 8);		/* ids free again */
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(dev_a.opened, 2);
}
END_TEST

START_TEST(unload_drops_rescinded)
{
	struct vmbus_server_offer o = make_offer(&net, &inst_a, 0);
	struct vmbus_server_channel *ch;

	connect_and_offer(VERSION_WIN10_V5_3);
	ck_assert_int_eq(vmbus_server_remove_offer(srv, ch_a), 0);
	ck_assert_int_eq(post_type(CHANNELMSG_UNLOAD), 0);
	ck_assert_int_eq(nsent, 2);
	got(0, CHANNELMSG_RESCIND_CHANNELOFFER);
	got(1, CHANNELMSG_UNLOAD_RESPONSE);
	/* The guest is gone, so is its hold on relid 1. */
	ck_assert_int_eq(vmbus_server_add_offer(srv, &o, &dev_ops, &dev_a, &ch), 0);
	ck_assert_uint_eq(vmbus_server_channel_relid(ch), 1);
}
END_TEST

START_TEST(reset_when_guest_dies)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	gpadl_ok(1, 11, PFN0 + 8, 8);
	open_ok(1, 10, 4, 0);
	vmbus_server_reset(srv);
	ck_assert_int_eq(nsent, 0);
	ck_assert_int_eq(dev_a.closed, 1);
	ck_assert_int_eq(dev_b.closed, 0);
	ck_assert(!vmbus_server_connected(srv));
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
	ck_assert_int_eq(vmbus_server_signal(srv, vmbus_server_channel_connection_id(ch_a)), -ENOENT);
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	open_ok(1, 10, 4, 0);
}
END_TEST

START_TEST(free_closes_open_channels)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(2, 10, PFN0, 8);
	open_ok(2, 10, 4, 0);
	vmbus_server_free(srv);
	srv = NULL;
	ck_assert_int_eq(dev_b.closed, 1);
	ck_assert_int_eq(nsent, 0);
}
END_TEST

START_TEST(device_reference_dropped_on_unload)
{
	connect_and_offer(VERSION_WIN10_V5_3);
	gpadl_ok(1, 10, PFN0, 8);
	gpadl_ok(1, 11, PFN0 + 8, 8);
	open_ok(1, 10, 4, 0);
	ck_assert_int_eq(vmbus_server_channel_gpadl_get(ch_a, 11, &dev_a.held), 0);
	ck_assert_int_eq(post_type(CHANNELMSG_UNLOAD), 0);
	ck_assert_ptr_null(dev_a.held);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(srv)), 0);
}
END_TEST

START_TEST(tl_connect_refused)
{
	struct vmbus_msg m = { .type = CHANNELMSG_TL_CONNECT_REQUEST };

	connect_and_offer(VERSION_WIN10_V5_3);
	m.u.tl_connect_request.guest_endpoint_id = inst_a;
	m.u.tl_connect_request.host_service_id = inst_b;
	ck_assert_int_eq(post(&m), -ENOTSUP);
	ck_assert_int_eq(nsent, 1);
	m = got(0, CHANNELMSG_TL_CONNECT_RESULT);
	ck_assert(vmbus_guid_equal(&m.u.tl_connect_result.guest_endpoint_id, &inst_a));
	ck_assert_uint_ne(m.u.tl_connect_result.status, 0);
}
END_TEST

START_TEST(new_bad_args)
{
	struct vmbus_server_ops ops;

	memset(&ops, 0, sizeof(ops));
	ck_assert_ptr_null(vmbus_server_new(NULL, map));
	ck_assert_ptr_null(vmbus_server_new(&ops, map));
	ops.send_message = cap_send;
	ck_assert_ptr_null(vmbus_server_new(&ops, map));
	ops.signal_guest = cap_signal;
	ck_assert_ptr_null(vmbus_server_new(&ops, NULL));
	ck_assert_int_eq(vmbus_server_handle_message(NULL, 1, "", 0), -EINVAL);
	ck_assert_int_eq(vmbus_server_signal(NULL, 0x2001), -ENOENT);
	vmbus_server_reset(NULL);
	vmbus_server_free(NULL);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc;

	tc = tcase_create("version");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, version_accepted, 0, VMBUS_VERSION_COUNT);
	tcase_add_loop_test(tc, version_rejected, 0,
			    (int)(sizeof(bad_versions) / sizeof(bad_versions[0])));
	tcase_add_test(tc, version_linux_fallback);
	tcase_add_test(tc, version_wrong_connection_id);
	tcase_add_test(tc, version_bad_sint_vtl);
	tcase_add_test(tc, contact_again_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, before_contact_ignored);
	tcase_add_test(tc, host_messages_from_guest);
	tcase_add_test(tc, truncated_and_unknown);
	tcase_add_test(tc, wrong_message_connection_id);
	tcase_add_test(tc, new_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("offers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, offers_then_all_delivered);
	tcase_add_test(tc, hot_add_while_connected);
	tcase_add_test(tc, add_before_request_offers);
	tcase_add_test(tc, subchannel_offer);
	tcase_add_test(tc, add_offer_bad_args);
	tcase_add_test(tc, relids_run_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("gpadl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gpadl_multi_message);
	tcase_add_test(tc, gpadl_hostile);
	tcase_add_test(tc, gpadl_body_after_rescind);
	tcase_add_test(tc, teardown_of_open_ring_held_back);
	tcase_add_test(tc, device_gpadl_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("channel");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_close);
	tcase_add_test(tc, open_refused_by_device);
	tcase_add_test(tc, open_hostile);
	tcase_add_test(tc, modify_channel_53);
	tcase_add_test(tc, modify_channel_older);
	tcase_add_test(tc, tl_connect_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hot_remove_open_channel);
	tcase_add_test(tc, hot_remove_closed_and_unoffered);
	tcase_add_test(tc, relid_released_not_rescinded);
	tcase_add_test(tc, remove_from_own_callback);
	tcase_add_test(tc, unload_then_reconnect);
	tcase_add_test(tc, unload_drops_rescinded);
	tcase_add_test(tc, reset_when_guest_dies);
	tcase_add_test(tc, free_closes_open_channels);
	tcase_add_test(tc, device_reference_dropped_on_unload);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(server_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
