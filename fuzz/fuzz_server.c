/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the host VMBus server (libvmbus/server.c): a
 * sequence of guest messages and device actions fed into one server with
 * two registered devices and a small guest memory map. Message formats:
 * include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h).
 *
 * Input: a mode byte, then records.
 *  mode bit 0      start with a valid INITIATE_CONTACT, version
 *                  vmbus_versions[(mode >> 1) & 7]
 *  mode bit 4      then REQUESTOFFERS
 *  mode bit 5      then a GPADL of 8 pages and an OPENCHANNEL on relid 1
 *  mode bit 6      device 0 refuses opens
 * Each record starts with an op byte; op & 7 selects:
 *  0 raw      len byte + bytes, posted on connection id (op >> 3) & 3 of
 *             {1, 4, 0x2001, 0}
 *  1 typed    type byte, len byte, bytes: a message header of that type
 *             followed by the bytes, on connection 1
 *  2 signal   byte b: HvSignalEvent on connection id 0x2000 + b
 *  3 device   byte b: slot b & 7, action (b >> 3) & 3: remove the offer,
 *             add it, signal the guest, take or put a GPADL reference
 *             (id from the next byte)
 *  4 reset    the guest went away
 *  5 gpadl    relid, id, first page, page count bytes: a well-formed
 *             GPADL header and bodies
 *  6 open     relid, GPADL id, downstream offset, target VP bytes
 *  7 canned   byte t: REQUESTOFFERS, UNLOAD, CLOSECHANNEL, RELID_RELEASED,
 *             GPADL_TEARDOWN, MODIFYCHANNEL, INITIATE_CONTACT (right or
 *             wrong connection id), argument t >> 3
 * Everything is freed after each input, so leaks show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>
#include <vmbus/msg.h>
#include <vmbus/server.h>

#define RAM_PFN		16u
#define RAM_PAGES	64u
#define SLOTS		8

static uint8_t ram[RAM_PAGES * HV_PAGE_SIZE] __attribute__((aligned(4096)));

struct slot {
	struct vmbus_server_channel *ch;
	struct vmbus_gpadl *held;
	bool fail_open;
};

struct input {
	const uint8_t *p;
	size_t len;
};

static struct vmbus_server *srv;
static struct slot slots[SLOTS];
static volatile uint8_t sink;

static uint8_t next(struct input *in)
{
	uint8_t b;

	if (!in->len)
		return 0;
	b = *in->p++;
	in->len--;
	return b;
}

static int fz_send(void *opaque, uint32_t vp, uint32_t sint, const void *data, uint32_t len)
{
	(void)opaque;
	(void)vp;
	(void)sint;
	/* Touch every byte: the sanitizers check the server's buffer. */
	for (uint32_t i = 0; i < len; i++)
		sink ^= ((const uint8_t *)data)[i];
	return len <= VMBUS_MSG_MAX_SIZE ? 0 : -1;
}

static int fz_signal(void *opaque, uint32_t vp, uint32_t relid)
{
	(void)opaque;
	sink ^= (uint8_t)(vp ^ relid);
	return relid == 0 || relid > VMBUS_SERVER_MAX_RELID ? -1 : 0;
}

static int fz_opened(struct vmbus_server_channel *ch, const struct vmbus_server_open_info *info,
		     void *ctx)
{
	struct slot *s = ctx;
	void *pages[RAM_PAGES];
	int n;

	/* What a channel layer does: map both rings and touch them. */
	n = vmbus_server_channel_ring_pages(ch, pages, RAM_PAGES);
	if (n > 0) {
		sink ^= *(volatile uint8_t *)pages[0];
		sink ^= *(volatile uint8_t *)pages[info->downstream_offset];
		sink ^= *((volatile uint8_t *)pages[n - 1] + HV_PAGE_SIZE - 1);
	}
	return s->fail_open ? -5 : 0;
}

static void fz_closed(struct vmbus_server_channel *ch, void *ctx)
{
	struct slot *s = ctx;

	if (s->held) {
		vmbus_server_channel_gpadl_put(ch, s->held);
		s->held = NULL;
	}
}

static void fz_signalled(struct vmbus_server_channel *ch, void *ctx)
{
	(void)ctx;
	vmbus_server_channel_signal_guest(ch);
}

static const struct vmbus_server_device_ops fz_dev = {
	.opened = fz_opened,
	.closed = fz_closed,
	.signalled = fz_signalled,
};

static void add_slot(unsigned int i)
{
	static const struct vmbus_guid types[2] = { VMBUS_GUID_SCSI, VMBUS_GUID_NET };
	struct vmbus_server_offer o;

	if (slots[i].ch)
		return;
	memset(&o, 0, sizeof(o));
	o.if_type = types[i & 1];
	o.if_instance.b[0] = (uint8_t)(i & 1);
	o.sub_channel_index = (uint16_t)(i / 2);
	if (vmbus_server_add_offer(srv, &o, &fz_dev, &slots[i], &slots[i].ch) < 0)
		slots[i].ch = NULL;
}

static void post(uint32_t conn, const void *data, size_t len)
{
	vmbus_server_handle_message(srv, conn, data, len);
}

static void post_msg(const struct vmbus_msg *m)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int len = vmbus_msg_encode(m, buf, sizeof(buf));

	if (len > 0)
		post(VMBUS_MESSAGE_CONNECTION_ID, buf, (size_t)len);
}

static void contact(uint32_t version, uint32_t conn)
{
	struct vmbus_msg m = { .type = CHANNELMSG_INITIATE_CONTACT };
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int len;

	m.u.initiate_contact.version_requested = version;
	m.u.initiate_contact.msg_sint = VMBUS_MESSAGE_SINT;
	len = vmbus_msg_encode(&m, buf, sizeof(buf));
	if (len > 0)
		post(conn, buf, (size_t)len);
}

static void gpadl(uint32_t relid, uint32_t id, uint32_t first, uint32_t npages)
{
	uint64_t pfns[RAM_PAGES + 8];
	struct vmbus_gpadl_build b;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int n, len;

	/* Allow a few pages past the end of guest memory. */
	for (uint32_t i = 0; i < npages; i++)
		pfns[i] = RAM_PFN + first + i;
	n = vmbus_gpadl_build_init_single(&b, relid, id, pfns, 0, npages * HV_PAGE_SIZE);
	for (int i = 0; i < n; i++) {
		len = vmbus_gpadl_build_msg(&b, (uint32_t)i, buf, sizeof(buf));
		if (len > 0)
			post(VMBUS_MESSAGE_CONNECTION_ID, buf, (size_t)len);
	}
}

static void open_ch(uint32_t relid, uint32_t id, uint32_t offset, uint32_t vp)
{
	struct vmbus_msg m = { .type = CHANNELMSG_OPENCHANNEL };

	m.u.open.child_relid = relid;
	m.u.open.ringbuffer_gpadlhandle = id;
	m.u.open.downstream_ringbuffer_pageoffset = offset;
	m.u.open.target_vp = vp;
	post_msg(&m);
}

static void device_action(struct input *in)
{
	uint8_t b = next(in);
	struct slot *s = &slots[b & 7];

	switch ((b >> 3) & 3) {
	case 0:
		if (s->ch && vmbus_server_remove_offer(srv, s->ch) == 0)
			s->ch = NULL;
		break;
	case 1:
		add_slot(b & 7);
		break;
	case 2:
		if (s->ch)
			vmbus_server_channel_signal_guest(s->ch);
		break;
	default: {
		uint8_t id = next(in);

		if (!s->ch)
			break;
		if (s->held) {
			vmbus_server_channel_gpadl_put(s->ch, s->held);
			s->held = NULL;
		} else if (vmbus_server_channel_gpadl_get(s->ch, id, &s->held) < 0) {
			s->held = NULL;
		}
		break;
	}
	}
}

static void canned(uint8_t t)
{
	struct vmbus_msg m;
	uint32_t arg = t >> 3;

	memset(&m, 0, sizeof(m));
	switch (t & 7) {
	case 0:
		m.type = CHANNELMSG_REQUESTOFFERS;
		break;
	case 1:
		m.type = CHANNELMSG_UNLOAD;
		break;
	case 2:
		m.type = CHANNELMSG_CLOSECHANNEL;
		m.u.close.child_relid = arg;
		break;
	case 3:
		m.type = CHANNELMSG_RELID_RELEASED;
		m.u.relid_released.child_relid = arg;
		break;
	case 4:
		m.type = CHANNELMSG_GPADL_TEARDOWN;
		m.u.gpadl_teardown.child_relid = arg & 3;
		m.u.gpadl_teardown.gpadl = arg;
		break;
	case 5:
		m.type = CHANNELMSG_MODIFYCHANNEL;
		m.u.modifychannel.child_relid = arg & 7;
		m.u.modifychannel.target_vp = arg;
		break;
	case 6:
		contact(vmbus_versions[arg & 7], vmbus_version_contact_conn_id(vmbus_versions[arg & 7]));
		return;
	default:
		contact(vmbus_versions[arg & 7], arg);
		return;
	}
	post_msg(&m);
}

static void run(struct input *in)
{
	static const uint32_t conns[4] = { 1, 4, 0x2001, 0 };
	uint8_t buf[256];

	while (in->len) {
		uint8_t op = next(in);
		size_t len;

		switch (op & 7) {
		case 0:
			len = next(in);
			if (len > in->len)
				len = in->len;
			post(conns[(op >> 3) & 3], in->p, len);
			in->p += len;
			in->len -= len;
			break;
		case 1:
			memset(buf, 0, sizeof(buf));
			buf[0] = next(in);
			len = next(in);
			if (len > in->len)
				len = in->len;
			if (len > sizeof(buf) - 8)
				len = sizeof(buf) - 8;
			memcpy(buf + 8, in->p, len);
			in->p += len;
			in->len -= len;
			post(VMBUS_MESSAGE_CONNECTION_ID, buf, len + 8);
			break;
		case 2:
			vmbus_server_signal(srv, VMBUS_SERVER_CONN_ID_BASE + next(in));
			break;
		case 3:
			device_action(in);
			break;
		case 4:
			vmbus_server_reset(srv);
			break;
		case 5: {
			uint8_t relid = next(in), id = next(in), first = next(in);
			uint8_t npages = next(in);

			gpadl(relid & 7, id, first % RAM_PAGES, (uint32_t)(npages % RAM_PAGES) + 1);
			break;
		}
		case 6: {
			uint8_t relid = next(in), id = next(in), off = next(in);
			uint8_t vp = next(in);

			open_ch(relid & 7, id, off, vp);
			break;
		}
		default:
			canned(next(in));
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmbus_server_ops ops;
	struct vmbus_gpa_map *map;
	struct input in = { data, size };
	uint8_t mode;

	if (!size)
		return 0;
	map = vmbus_gpa_map_new();
	if (!map)
		return 0;
	if (vmbus_gpa_map_add(map, (uint64_t)RAM_PFN * HV_PAGE_SIZE, sizeof(ram), ram) < 0)
		goto out_map;
	memset(&ops, 0, sizeof(ops));
	ops.send_message = fz_send;
	ops.signal_guest = fz_signal;
	srv = vmbus_server_new(&ops, map);
	if (!srv)
		goto out_map;
	memset(slots, 0, sizeof(slots));
	add_slot(0);
	add_slot(1);

	mode = next(&in);
	slots[0].fail_open = mode & 0x40;
	if (mode & 0x01) {
		uint32_t v = vmbus_versions[(mode >> 1) & 7];

		contact(v, vmbus_version_contact_conn_id(v));
	}
	if (mode & 0x10)
		canned(0);
	if (mode & 0x20) {
		gpadl(1, 1, 0, 8);
		open_ch(1, 1, 4, 0);
	}
	run(&in);

	vmbus_server_free(srv);
	srv = NULL;
out_map:
	vmbus_gpa_map_free(map);
	return 0;
}
