/* SPDX-License-Identifier: MIT */
/*
 * Guest VMBus client: version negotiation, offers, GPADLs, channel open and
 * close, rescind and relid release, MODIFYCHANNEL and unload, as a state
 * machine with no threads, no I/O and no allocation.
 *
 * Sequences follow Linux drivers/hv/connection.c, channel_mgmt.c and
 * channel.c and OpenVMM vm/devices/vmbus/vmbus_client; wire formats are in
 * include/vmbus/proto/vmbus.h (docs/PROTOCOL.md section 3), encoded and
 * decoded by msg.c and split into GPADL messages by gpadl_build.c.
 */
#include <vmbus/client.h>

#include "freestanding.h"

#define POST_TRIES		100
#define FIRST_GPADL_HANDLE	0xe1e10u	/* where Linux starts counting */
#define MAX_GPADLS		65536u
#define MAX_OPEN_PAGES		(UINT32_MAX / HV_PAGE_SIZE) /* byte_count is 32 bits */

enum cl_state {
	CL_DISCONNECTED,
	CL_CONNECTING,
	CL_CONNECTED,
	CL_UNLOADING,
};

enum ch_state {
	CH_CLOSED,
	CH_OPEN_GPADL,		/* ring GPADL being created */
	CH_OPENING,		/* OPENCHANNEL posted */
	CH_OPEN_UNDO,		/* open failed: ring GPADL being torn down */
	CH_OPEN,
	CH_CLOSING,		/* CLOSECHANNEL posted, ring GPADL going */
};

enum gp_state {
	GP_FREE,
	GP_CREATING,
	GP_CREATED,
	GP_TEARING,
};

struct cl_chan {
	bool used;
	bool rescinded;
	bool modify_pending;
	uint8_t state;			/* enum ch_state */
	int open_err;			/* reported once CH_OPEN_UNDO ends */
	uint32_t relid;
	uint32_t ring_gpadl;
	uint32_t target_vp;
	uint32_t downstream;
	vmbus_client_done_fn *done;	/* open or close in flight */
	void *arg;
	vmbus_client_done_fn *modify_done;
	void *modify_arg;
	struct vmbus_msg_offer offer;
	uint8_t userdata[VMBUS_OPEN_USER_DATA_SIZE];
};

struct cl_gpadl {
	uint8_t state;			/* enum gp_state */
	bool ring;			/* a channel's ring: completion is internal */
	uint32_t handle;
	uint32_t relid;
	vmbus_client_done_fn *done;
	void *arg;
};

struct vmbus_client {
	struct vmbus_hv_guest hv;
	const struct vmbus_client_events *ev;
	void *ev_ctx;
	struct vmbus_log log;
	unsigned int max_ch;
	unsigned int max_gp;
	struct cl_chan *ch;
	struct cl_gpadl *gp;

	uint8_t state;			/* enum cl_state */
	bool offers_requested;
	unsigned int ver_idx;		/* vmbus_versions[] entry being asked */
	uint32_t version;
	uint32_t msg_conn_id;
	struct vmbus_client_connect_params cparams;
	vmbus_client_done_fn *done;	/* connect or unload in flight */
	void *arg;
	uint32_t next_gpadl;
};

/* ---- Memory layout ---------------------------------------------------------- */

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static bool cfg_sizes_ok(const struct vmbus_client_config *cfg)
{
	return cfg && cfg->max_channels >= 1 &&
	       cfg->max_channels <= VMBUS_CLIENT_MAX_RELID &&
	       cfg->max_gpadls >= 1 && cfg->max_gpadls <= MAX_GPADLS;
}

size_t vmbus_client_mem_size(const struct vmbus_client_config *cfg)
{
	if (!cfg_sizes_ok(cfg))
		return 0;
	return align8(sizeof(struct vmbus_client)) +
	       align8(sizeof(struct cl_chan) * cfg->max_channels) +
	       sizeof(struct cl_gpadl) * cfg->max_gpadls;
}

int vmbus_client_init(void *mem, size_t mem_size,
		      const struct vmbus_client_config *cfg,
		      struct vmbus_client **out)
{
	struct vmbus_client *cl;
	size_t need;
	uint8_t *p = mem;

	if (!out || !mem || ((uintptr_t)mem & 7) || !cfg_sizes_ok(cfg) ||
	    !cfg->hv.ops || !cfg->hv.ops->post_message)
		return -EINVAL;
	need = vmbus_client_mem_size(cfg);
	if (mem_size < need)
		return -ENOSPC;
	memset(mem, 0, need);

	cl = mem;
	p += align8(sizeof(*cl));
	cl->ch = (struct cl_chan *)p;
	p += align8(sizeof(struct cl_chan) * cfg->max_channels);
	cl->gp = (struct cl_gpadl *)p;

	cl->hv = cfg->hv;
	cl->ev = cfg->events;
	cl->ev_ctx = cfg->events_ctx;
	if (cfg->log)
		cl->log = *cfg->log;
	cl->max_ch = cfg->max_channels;
	cl->max_gp = cfg->max_gpadls;
	cl->state = CL_DISCONNECTED;
	cl->next_gpadl = FIRST_GPADL_HANDLE;
	*out = cl;
	return 0;
}

/* ---- Posting ------------------------------------------------------------------ */

/* Returned by post() for INITIATE_CONTACT refused with
 * HV_STATUS_INVALID_CONNECTION_ID: the host knows no connection 4, so it
 * predates 5.0 and the next version must be tried (Linux does so). */
#define POST_NO_CONNECTION	(-ENOTCONN)

static int post(struct vmbus_client *cl, uint32_t conn_id, const void *buf,
		size_t len, bool contact)
{
	uint16_t st = HV_STATUS_SUCCESS;
	int i;

	for (i = 0; i < POST_TRIES; i++) {
		st = vmbus_hv_post_message(&cl->hv, conn_id,
					   HV_MESSAGE_TYPE_VMBUS, buf,
					   (uint32_t)len);
		if (st == HV_STATUS_SUCCESS)
			return 0;
		if (st == HV_STATUS_INVALID_CONNECTION_ID && contact)
			return POST_NO_CONNECTION;
		if (st != HV_STATUS_INVALID_CONNECTION_ID &&
		    st != HV_STATUS_INSUFFICIENT_BUFFERS &&
		    st != HV_STATUS_INSUFFICIENT_MEMORY)
			break;
	}
	vmbus_logf(&cl->log, VMBUS_LOG_ERR,
		   "vmbus client: posting %s to connection %u failed, status %u",
		   vmbus_msg_type_name(len >= 4 ? *(const uint8_t *)buf : 0),
		   conn_id, st);
	return i < POST_TRIES ? -EIO : -EAGAIN;
}

static int send_msg(struct vmbus_client *cl, const struct vmbus_msg *m)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int n;

	n = vmbus_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	return post(cl, cl->msg_conn_id, buf, (size_t)n, false);
}

static int send_relid_msg(struct vmbus_client *cl, uint32_t type, uint32_t relid)
{
	struct vmbus_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	/* CLOSECHANNEL and RELID_RELEASED share the layout. */
	m.u.close.child_relid = relid;
	return send_msg(cl, &m);
}

/* ---- Tables --------------------------------------------------------------------- */

static struct cl_chan *chan_find(const struct vmbus_client *cl, uint32_t relid)
{
	unsigned int i;

	for (i = 0; i < cl->max_ch; i++)
		if (cl->ch[i].used && cl->ch[i].relid == relid)
			return &cl->ch[i];
	return NULL;
}

static struct cl_chan *chan_alloc(struct vmbus_client *cl)
{
	unsigned int i;

	for (i = 0; i < cl->max_ch; i++)
		if (!cl->ch[i].used)
			return &cl->ch[i];
	return NULL;
}

static struct cl_gpadl *gpadl_find(const struct vmbus_client *cl, uint32_t handle)
{
	unsigned int i;

	if (handle == 0)
		return NULL;
	for (i = 0; i < cl->max_gp; i++)
		if (cl->gp[i].state != GP_FREE && cl->gp[i].handle == handle)
			return &cl->gp[i];
	return NULL;
}

static bool relid_has_gpadls(const struct vmbus_client *cl, uint32_t relid)
{
	unsigned int i;

	for (i = 0; i < cl->max_gp; i++)
		if (cl->gp[i].state != GP_FREE && cl->gp[i].relid == relid)
			return true;
	return false;
}

/* A free slot with a fresh handle that no live GPADL uses. */
static struct cl_gpadl *gpadl_alloc(struct vmbus_client *cl)
{
	struct cl_gpadl *slot = NULL;
	unsigned int i;
	uint32_t h;

	for (i = 0; i < cl->max_gp && !slot; i++)
		if (cl->gp[i].state == GP_FREE)
			slot = &cl->gp[i];
	if (!slot)
		return NULL;
	/* At most max_gp handles are live, so this ends within max_gp + 2. */
	do {
		h = cl->next_gpadl++;
	} while (h == 0 || gpadl_find(cl, h));
	memset(slot, 0, sizeof(*slot));
	slot->handle = h;
	return slot;
}

static void gpadl_free(struct cl_gpadl *g)
{
	memset(g, 0, sizeof(*g));
}

/* ---- Channel life ----------------------------------------------------------------- */

/*
 * A rescinded channel leaves once the guest holds nothing of it: closed,
 * no GPADL, no MODIFYCHANNEL in flight. Then RELID_RELEASED tells the host
 * it may reuse the relid (Linux: hv_process_channel_removal()).
 */
static void maybe_release(struct vmbus_client *cl, uint32_t relid)
{
	struct cl_chan *ch = chan_find(cl, relid);

	if (!ch || !ch->rescinded || ch->state != CH_CLOSED ||
	    ch->modify_pending || relid_has_gpadls(cl, relid))
		return;
	memset(ch, 0, sizeof(*ch));
	if (cl->state != CL_CONNECTED)
		return;
	if (send_relid_msg(cl, CHANNELMSG_RELID_RELEASED, relid) < 0)
		vmbus_logf(&cl->log, VMBUS_LOG_ERR,
			   "vmbus client: relid %u not released", relid);
}

/* Start tearing down a GPADL; returns 0 or a post error. */
static int gpadl_start_teardown(struct vmbus_client *cl, struct cl_gpadl *g)
{
	struct vmbus_msg m;
	int err;

	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_GPADL_TEARDOWN;
	m.u.gpadl_teardown.child_relid = g->relid;
	m.u.gpadl_teardown.gpadl = g->handle;
	err = send_msg(cl, &m);
	if (err == 0)
		g->state = GP_TEARING;
	return err;
}

static void finish_chan_op(struct vmbus_client *cl, struct cl_chan *ch, int err)
{
	vmbus_client_done_fn *done = ch->done;
	void *arg = ch->arg;
	uint32_t relid = ch->relid;

	ch->done = NULL;
	ch->arg = NULL;
	if (done)
		done(arg, err);
	maybe_release(cl, relid);
}

/*
 * An open attempt failed after its ring GPADL was created: take the ring
 * back before reporting, so the caller may reuse the pages when done fires.
 */
static void open_undo(struct vmbus_client *cl, struct cl_chan *ch, int err)
{
	struct cl_gpadl *g = gpadl_find(cl, ch->ring_gpadl);

	ch->open_err = err;
	if (g && g->state == GP_CREATED && gpadl_start_teardown(cl, g) == 0) {
		ch->state = CH_OPEN_UNDO;
		return;
	}
	/* The teardown could not even be posted: forget the ring. */
	if (g)
		gpadl_free(g);
	ch->ring_gpadl = 0;
	ch->state = CH_CLOSED;
	finish_chan_op(cl, ch, err);
}

static int post_open(struct vmbus_client *cl, struct cl_chan *ch)
{
	struct vmbus_msg m;

	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_OPENCHANNEL;
	m.u.open.child_relid = ch->relid;
	m.u.open.openid = ch->relid;	/* what Linux sends */
	m.u.open.ringbuffer_gpadlhandle = ch->ring_gpadl;
	m.u.open.target_vp = ch->target_vp;
	m.u.open.downstream_ringbuffer_pageoffset = ch->downstream;
	memcpy(m.u.open.userdata, ch->userdata, sizeof(m.u.open.userdata));
	return send_msg(cl, &m);
}

/* ---- Requests ---------------------------------------------------------------------- */

/* Post INITIATE_CONTACT for vmbus_versions[cl->ver_idx], moving past
 * versions above the cap and those whose connection id the host lacks. */
static int try_contact(struct vmbus_client *cl)
{
	const struct vmbus_client_connect_params *p = &cl->cparams;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg m;
	uint32_t v;
	int n, err;

	for (; cl->ver_idx < VMBUS_VERSION_COUNT; cl->ver_idx++) {
		v = vmbus_versions[cl->ver_idx];
		if (v > p->max_version)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = CHANNELMSG_INITIATE_CONTACT;
		m.u.initiate_contact.version_requested = v;
		m.u.initiate_contact.target_vcpu = p->target_vcpu;
		if (v >= VERSION_WIN10_V5) {
			m.u.initiate_contact.msg_sint = VMBUS_MESSAGE_SINT;
			m.u.initiate_contact.msg_vtl = p->msg_vtl;
		} else {
			m.u.initiate_contact.interrupt_page = p->interrupt_page;
		}
		m.u.initiate_contact.monitor_page1 = p->monitor_page1;
		m.u.initiate_contact.monitor_page2 = p->monitor_page2;
		n = vmbus_msg_encode(&m, buf, sizeof(buf));
		if (n < 0)
			return n;
		err = post(cl, vmbus_version_contact_conn_id(v), buf,
			   (size_t)n, true);
		if (err == 0)
			return 0;
		if (err != POST_NO_CONNECTION)
			return err;
		vmbus_logf(&cl->log, VMBUS_LOG_INFO,
			   "vmbus client: no connection for version %u.%u",
			   VMBUS_VERSION_MAJOR(v), VMBUS_VERSION_MINOR(v));
	}
	return -ENOTSUP;
}

int vmbus_client_connect(struct vmbus_client *cl,
			 const struct vmbus_client_connect_params *params,
			 vmbus_client_done_fn *done, void *arg)
{
	int err;

	if (!cl || !params)
		return -EINVAL;
	if (cl->state != CL_DISCONNECTED)
		return -EALREADY;
	cl->cparams = *params;
	if (!cl->cparams.max_version)
		cl->cparams.max_version = vmbus_versions[0];
	if (cl->cparams.max_version < vmbus_versions[VMBUS_VERSION_COUNT - 1])
		return -EINVAL;

	cl->ver_idx = 0;
	cl->version = 0;
	cl->msg_conn_id = 0;
	cl->offers_requested = false;
	cl->done = done;
	cl->arg = arg;
	cl->state = CL_CONNECTING;
	err = try_contact(cl);
	if (err) {
		cl->state = CL_DISCONNECTED;
		cl->done = NULL;
		cl->arg = NULL;
	}
	return err;
}

uint32_t vmbus_client_version(const struct vmbus_client *cl)
{
	return cl && cl->state == CL_CONNECTED ? cl->version : 0;
}

uint32_t vmbus_client_msg_conn_id(const struct vmbus_client *cl)
{
	return cl && cl->state == CL_CONNECTED ? cl->msg_conn_id : 0;
}

bool vmbus_client_connected(const struct vmbus_client *cl)
{
	return cl && cl->state == CL_CONNECTED;
}

int vmbus_client_request_offers(struct vmbus_client *cl)
{
	struct vmbus_msg m;
	int err;

	if (!cl)
		return -EINVAL;
	if (cl->state != CL_CONNECTED)
		return -ENOTCONN;
	if (cl->offers_requested)
		return -EALREADY;
	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_REQUESTOFFERS;
	err = send_msg(cl, &m);
	if (err == 0)
		cl->offers_requested = true;
	return err;
}

int vmbus_client_get_offer(const struct vmbus_client *cl, uint32_t relid,
			   struct vmbus_msg_offer *out)
{
	const struct cl_chan *ch;

	if (!cl || !out)
		return -EINVAL;
	ch = chan_find(cl, relid);
	if (!ch)
		return -ENOENT;
	*out = ch->offer;
	return 0;
}

/* Checks shared by the requests that act on one channel. */
static int usable_chan(struct vmbus_client *cl, uint32_t relid,
		       struct cl_chan **out)
{
	struct cl_chan *ch;

	if (!cl)
		return -EINVAL;
	if (cl->state != CL_CONNECTED)
		return -ENOTCONN;
	ch = chan_find(cl, relid);
	if (!ch)
		return -ENOENT;
	*out = ch;
	return 0;
}

/* Post every message of a GPADL; the slot is freed on failure. */
static int gpadl_post(struct vmbus_client *cl, struct cl_gpadl *g,
		      const struct vmbus_gpadl_build_range *ranges,
		      uint16_t range_count)
{
	struct vmbus_gpadl_build b;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	uint32_t i;
	int count, n, err;

	count = vmbus_gpadl_build_init(&b, g->relid, g->handle, ranges,
				       range_count);
	if (count < 0) {
		gpadl_free(g);
		return count;
	}
	for (i = 0; i < (uint32_t)count; i++) {
		n = vmbus_gpadl_build_msg(&b, i, buf, sizeof(buf));
		err = n < 0 ? n : post(cl, cl->msg_conn_id, buf, (size_t)n, false);
		if (err) {
			if (i > 0)
				vmbus_logf(&cl->log, VMBUS_LOG_ERR,
					   "vmbus client: GPADL %#x abandoned after %u of %d messages",
					   g->handle, i, count);
			gpadl_free(g);
			return err;
		}
	}
	g->state = GP_CREATING;
	return 0;
}

int vmbus_client_gpadl_create(struct vmbus_client *cl, uint32_t relid,
			      const struct vmbus_gpadl_build_range *ranges,
			      uint16_t range_count, uint32_t *gpadl,
			      vmbus_client_done_fn *done, void *arg)
{
	struct cl_chan *ch;
	struct cl_gpadl *g;
	int err;

	if (!gpadl)
		return -EINVAL;
	err = usable_chan(cl, relid, &ch);
	if (err)
		return err;
	if (ch->rescinded)
		return -ENODEV;
	g = gpadl_alloc(cl);
	if (!g)
		return -ENOSPC;
	g->relid = relid;
	g->done = done;
	g->arg = arg;
	err = gpadl_post(cl, g, ranges, range_count);
	if (err == 0)
		*gpadl = g->handle;
	return err;
}

int vmbus_client_gpadl_teardown(struct vmbus_client *cl, uint32_t relid,
				uint32_t gpadl, vmbus_client_done_fn *done,
				void *arg)
{
	struct cl_chan *ch;
	struct cl_gpadl *g;
	int err;

	err = usable_chan(cl, relid, &ch);
	if (err)
		return err;
	g = gpadl_find(cl, gpadl);
	if (!g || g->relid != relid || g->state != GP_CREATED)
		return -ENOENT;
	if (g->ring)
		return -EBUSY;
	err = gpadl_start_teardown(cl, g);
	if (err == 0) {
		g->done = done;
		g->arg = arg;
	}
	return err;
}

int vmbus_client_open(struct vmbus_client *cl, uint32_t relid,
		      const struct vmbus_client_open_params *p,
		      vmbus_client_done_fn *done, void *arg)
{
	struct vmbus_gpadl_build_range range;
	struct cl_chan *ch;
	struct cl_gpadl *g;
	int err;

	if (!p || !p->pfns || p->page_count > MAX_OPEN_PAGES ||
	    p->downstream_page_offset < 2 ||
	    p->downstream_page_offset > p->page_count ||
	    p->page_count - p->downstream_page_offset < 2 ||
	    p->userdata_len > VMBUS_OPEN_USER_DATA_SIZE ||
	    (p->userdata_len && !p->userdata))
		return -EINVAL;
	err = usable_chan(cl, relid, &ch);
	if (err)
		return err;
	if (ch->rescinded)
		return -ENODEV;
	if (ch->state != CH_CLOSED)
		return -EBUSY;
	g = gpadl_alloc(cl);
	if (!g)
		return -ENOSPC;
	g->relid = relid;
	g->ring = true;

	range.byte_offset = 0;
	range.byte_count = p->page_count * HV_PAGE_SIZE;
	range.pfns = p->pfns;
	err = gpadl_post(cl, g, &range, 1);
	if (err)
		return err;

	memset(ch->userdata, 0, sizeof(ch->userdata));
	if (p->userdata_len)
		memcpy(ch->userdata, p->userdata, p->userdata_len);
	ch->target_vp = p->target_vp;
	ch->downstream = p->downstream_page_offset;
	ch->ring_gpadl = g->handle;
	ch->open_err = 0;
	ch->done = done;
	ch->arg = arg;
	ch->state = CH_OPEN_GPADL;
	return 0;
}

uint32_t vmbus_client_ring_gpadl(const struct vmbus_client *cl, uint32_t relid)
{
	const struct cl_chan *ch = cl ? chan_find(cl, relid) : NULL;

	return ch && ch->state == CH_OPEN ? ch->ring_gpadl : 0;
}

int vmbus_client_close(struct vmbus_client *cl, uint32_t relid,
		       vmbus_client_done_fn *done, void *arg)
{
	struct cl_chan *ch;
	struct cl_gpadl *g;
	int err;

	err = usable_chan(cl, relid, &ch);
	if (err)
		return err;
	if (ch->state != CH_OPEN)
		return -EBUSY;
	err = send_relid_msg(cl, CHANNELMSG_CLOSECHANNEL, relid);
	if (err)
		return err;

	ch->done = done;
	ch->arg = arg;
	g = gpadl_find(cl, ch->ring_gpadl);
	if (g && gpadl_start_teardown(cl, g) == 0) {
		ch->state = CH_CLOSING;
		return 0;
	}
	/* The channel is closed on the host; a ring GPADL that cannot be
	 * torn down is leaked rather than reused (Linux does the same). */
	vmbus_logf(&cl->log, VMBUS_LOG_ERR,
		   "vmbus client: relid %u closed, ring GPADL %#x leaked",
		   relid, ch->ring_gpadl);
	if (g)
		gpadl_free(g);
	ch->ring_gpadl = 0;
	ch->state = CH_CLOSED;
	ch->done = NULL;
	ch->arg = NULL;
	maybe_release(cl, relid);
	return VMBUS_CLIENT_COMPLETED;
}

int vmbus_client_modify_channel(struct vmbus_client *cl, uint32_t relid,
				uint32_t target_vp, vmbus_client_done_fn *done,
				void *arg)
{
	struct cl_chan *ch;
	struct vmbus_msg m;
	int err;

	err = usable_chan(cl, relid, &ch);
	if (err)
		return err;
	if (cl->version < VERSION_WIN10_V4_1)
		return -EOPNOTSUPP;
	if (ch->rescinded)
		return -ENODEV;
	if (ch->modify_pending)
		return -EBUSY;
	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_MODIFYCHANNEL;
	m.u.modifychannel.child_relid = relid;
	m.u.modifychannel.target_vp = target_vp;
	err = send_msg(cl, &m);
	if (err)
		return err;
	if (cl->version < VERSION_WIN10_V5_3)
		return VMBUS_CLIENT_COMPLETED;
	ch->modify_pending = true;
	ch->modify_done = done;
	ch->modify_arg = arg;
	return 0;
}

/*
 * Forget every channel and GPADL (the host did so on UNLOAD), completing
 * what was pending with -ECONNRESET. Callbacks are collected first and run
 * after the tables are clean, so a callback may start anew.
 */
static void reset_all(struct vmbus_client *cl)
{
	unsigned int i;

	cl->state = CL_DISCONNECTED;
	cl->version = 0;
	cl->msg_conn_id = 0;
	cl->offers_requested = false;
	for (i = 0; i < cl->max_gp; i++) {
		struct cl_gpadl g = cl->gp[i];

		gpadl_free(&cl->gp[i]);
		if (g.state != GP_FREE && !g.ring && g.done)
			g.done(g.arg, -ECONNRESET);
	}
	for (i = 0; i < cl->max_ch; i++) {
		struct cl_chan ch = cl->ch[i];

		memset(&cl->ch[i], 0, sizeof(cl->ch[i]));
		if (!ch.used)
			continue;
		if (ch.state != CH_CLOSED && ch.state != CH_OPEN && ch.done)
			ch.done(ch.arg, -ECONNRESET);
		if (ch.modify_pending && ch.modify_done)
			ch.modify_done(ch.modify_arg, -ECONNRESET);
	}
}

int vmbus_client_unload(struct vmbus_client *cl, vmbus_client_done_fn *done,
			void *arg)
{
	struct vmbus_msg m;
	int err;

	if (!cl)
		return -EINVAL;
	if (cl->state != CL_CONNECTED)
		return -ENOTCONN;
	if (cl->version < VERSION_WIN8_1) {
		reset_all(cl);
		return VMBUS_CLIENT_COMPLETED;
	}
	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_UNLOAD;
	err = send_msg(cl, &m);
	if (err)
		return err;
	cl->state = CL_UNLOADING;
	cl->done = done;
	cl->arg = arg;
	return 0;
}

/* ---- Host messages --------------------------------------------------------------- */

static int drop(struct vmbus_client *cl, int err, const char *what, uint32_t id)
{
	vmbus_logf(&cl->log, VMBUS_LOG_WARN,
		   "vmbus client: ignoring %s (%u): error %d", what, id, -err);
	return err;
}

static void finish_connect(struct vmbus_client *cl, int err)
{
	vmbus_client_done_fn *done = cl->done;
	void *arg = cl->arg;

	cl->done = NULL;
	cl->arg = NULL;
	if (err)
		cl->state = CL_DISCONNECTED;
	if (done)
		done(arg, err);
}

static int on_version_response(struct vmbus_client *cl,
			       const struct vmbus_msg_version_response *r)
{
	uint32_t v;
	int err;

	if (cl->state != CL_CONNECTING)
		return drop(cl, -EPROTO, "unexpected VERSION_RESPONSE", 0);
	v = vmbus_versions[cl->ver_idx];
	if (!r->version_supported) {
		vmbus_logf(&cl->log, VMBUS_LOG_INFO,
			   "vmbus client: host refused version %u.%u",
			   VMBUS_VERSION_MAJOR(v), VMBUS_VERSION_MINOR(v));
		cl->ver_idx++;
		err = try_contact(cl);
		if (err)
			finish_connect(cl, err);
		return 0;
	}
	if (r->connection_state != 0) {
		/* OpenVMM's client treats this as a failed connection. */
		vmbus_logf(&cl->log, VMBUS_LOG_ERR,
			   "vmbus client: host failed the connection, state %u",
			   r->connection_state);
		finish_connect(cl, -EIO);
		return 0;
	}
	if (v >= VERSION_WIN10_V5 && r->msg_conn_id == 0) {
		vmbus_logf(&cl->log, VMBUS_LOG_ERR,
			   "vmbus client: version %u.%u accepted without a message connection id",
			   VMBUS_VERSION_MAJOR(v), VMBUS_VERSION_MINOR(v));
		finish_connect(cl, -EPROTO);
		return 0;
	}
	cl->version = v;
	cl->msg_conn_id = v >= VERSION_WIN10_V5 ? r->msg_conn_id :
						  VMBUS_MESSAGE_CONNECTION_ID;
	cl->state = CL_CONNECTED;
	vmbus_logf(&cl->log, VMBUS_LOG_INFO,
		   "vmbus client: connected, version %u.%u, connection %u",
		   VMBUS_VERSION_MAJOR(v), VMBUS_VERSION_MINOR(v),
		   cl->msg_conn_id);
	finish_connect(cl, 0);
	return 0;
}

static int on_offer(struct vmbus_client *cl, const struct vmbus_msg_offer *o)
{
	struct cl_chan *ch;

	if (o->child_relid == 0 || o->child_relid > VMBUS_CLIENT_MAX_RELID)
		return drop(cl, -ERANGE, "offer with relid", o->child_relid);
	if (chan_find(cl, o->child_relid))
		return drop(cl, -EEXIST, "second offer of relid", o->child_relid);
	ch = chan_alloc(cl);
	if (!ch)
		return drop(cl, -ENOSPC, "offer beyond the channel table, relid",
			    o->child_relid);
	memset(ch, 0, sizeof(*ch));
	ch->used = true;
	ch->relid = o->child_relid;
	ch->offer = *o;
	ch->state = CH_CLOSED;
	if (cl->ev && cl->ev->offer)
		cl->ev->offer(cl->ev_ctx, o);
	return 0;
}

static int on_rescind(struct vmbus_client *cl, uint32_t relid)
{
	struct cl_chan *ch = chan_find(cl, relid);
	unsigned int i;

	if (!ch)
		return drop(cl, -ENOENT, "rescind of unknown relid", relid);
	if (ch->rescinded)
		return drop(cl, -EPROTO, "second rescind of relid", relid);
	ch->rescinded = true;

	/* Nobody may wait forever on a channel that is gone (Linux:
	 * vmbus_rescind_cleanup()). GPADLs still being created are dropped;
	 * the host forgets them with the relid. */
	for (i = 0; i < cl->max_gp; i++) {
		struct cl_gpadl *g = &cl->gp[i];
		vmbus_client_done_fn *done = g->done;
		void *arg = g->arg;

		if (g->state != GP_CREATING || g->relid != relid || g->ring)
			continue;
		gpadl_free(g);
		if (done)
			done(arg, -ENODEV);
	}
	ch = chan_find(cl, relid);
	if (ch && ch->state == CH_OPEN_GPADL) {
		struct cl_gpadl *g = gpadl_find(cl, ch->ring_gpadl);

		if (g)
			gpadl_free(g);
		ch->ring_gpadl = 0;
		ch->state = CH_CLOSED;
		finish_chan_op(cl, ch, -ENODEV);
	} else if (ch && ch->state == CH_OPENING) {
		open_undo(cl, ch, -ENODEV);
	}
	ch = chan_find(cl, relid);
	if (ch && ch->modify_pending) {
		vmbus_client_done_fn *done = ch->modify_done;
		void *arg = ch->modify_arg;

		ch->modify_pending = false;
		ch->modify_done = NULL;
		ch->modify_arg = NULL;
		if (done)
			done(arg, -ENODEV);
	}
	if (chan_find(cl, relid) && cl->ev && cl->ev->rescind)
		cl->ev->rescind(cl->ev_ctx, relid);
	maybe_release(cl, relid);
	return 0;
}

static int on_gpadl_created(struct vmbus_client *cl,
			    const struct vmbus_msg_gpadl_created *c)
{
	struct cl_gpadl *g = gpadl_find(cl, c->gpadl);
	struct cl_chan *ch;
	vmbus_client_done_fn *done;
	void *arg;
	int err;

	if (!g || g->state != GP_CREATING || g->relid != c->child_relid)
		return drop(cl, -ENOENT, "GPADL_CREATED for GPADL", c->gpadl);
	if (c->creation_status)
		vmbus_logf(&cl->log, VMBUS_LOG_ERR,
			   "vmbus client: host refused GPADL %#x, status %#x",
			   c->gpadl, c->creation_status);

	if (g->ring) {
		ch = chan_find(cl, g->relid);
		if (!ch || ch->state != CH_OPEN_GPADL ||
		    ch->ring_gpadl != g->handle) {
			/* Cannot happen: rescind frees a pending ring. */
			return drop(cl, -EPROTO, "stray ring GPADL", c->gpadl);
		}
		if (c->creation_status) {
			gpadl_free(g);
			ch->ring_gpadl = 0;
			ch->state = CH_CLOSED;
			finish_chan_op(cl, ch, -EIO);
			return 0;
		}
		g->state = GP_CREATED;
		err = post_open(cl, ch);
		if (err) {
			open_undo(cl, ch, err);
			return 0;
		}
		ch->state = CH_OPENING;
		return 0;
	}

	done = g->done;
	arg = g->arg;
	g->done = NULL;
	g->arg = NULL;
	if (c->creation_status)
		gpadl_free(g);
	else
		g->state = GP_CREATED;
	if (done)
		done(arg, c->creation_status ? -EIO : 0);
	return 0;
}

static int on_gpadl_torndown(struct vmbus_client *cl, uint32_t gpadl)
{
	struct cl_gpadl *g = gpadl_find(cl, gpadl);
	struct cl_chan *ch;
	vmbus_client_done_fn *done;
	uint32_t relid;
	void *arg;
	int err;

	if (!g || g->state != GP_TEARING)
		return drop(cl, -ENOENT, "GPADL_TORNDOWN for GPADL", gpadl);
	relid = g->relid;
	if (g->ring) {
		gpadl_free(g);
		ch = chan_find(cl, relid);
		if (!ch || ch->ring_gpadl != gpadl ||
		    (ch->state != CH_CLOSING && ch->state != CH_OPEN_UNDO))
			return 0;
		err = ch->state == CH_CLOSING ? 0 : ch->open_err;
		ch->ring_gpadl = 0;
		ch->state = CH_CLOSED;
		finish_chan_op(cl, ch, err);
		return 0;
	}
	done = g->done;
	arg = g->arg;
	gpadl_free(g);
	if (done)
		done(arg, 0);
	maybe_release(cl, relid);
	return 0;
}

static int on_open_result(struct vmbus_client *cl,
			  const struct vmbus_msg_open_result *r)
{
	struct cl_chan *ch = chan_find(cl, r->child_relid);

	if (!ch || ch->state != CH_OPENING || r->openid != ch->relid)
		return drop(cl, -ENOENT, "OPENCHANNEL_RESULT for relid",
			    r->child_relid);
	if (r->status) {
		vmbus_logf(&cl->log, VMBUS_LOG_ERR,
			   "vmbus client: host refused to open relid %u, status %#x",
			   ch->relid, r->status);
		open_undo(cl, ch, -EIO);
		return 0;
	}
	ch->state = CH_OPEN;
	finish_chan_op(cl, ch, 0);
	return 0;
}

static int on_modify_response(struct vmbus_client *cl,
			      const struct vmbus_msg_modifychannel_response *r)
{
	struct cl_chan *ch = chan_find(cl, r->child_relid);
	vmbus_client_done_fn *done;
	void *arg;

	if (!ch || !ch->modify_pending)
		return drop(cl, -ENOENT, "MODIFYCHANNEL_RESPONSE for relid",
			    r->child_relid);
	done = ch->modify_done;
	arg = ch->modify_arg;
	ch->modify_pending = false;
	ch->modify_done = NULL;
	ch->modify_arg = NULL;
	if (done)
		done(arg, r->status ? -EIO : 0);
	maybe_release(cl, r->child_relid);
	return 0;
}

static int on_unload_response(struct vmbus_client *cl)
{
	vmbus_client_done_fn *done = cl->done;
	void *arg = cl->arg;

	if (cl->state != CL_UNLOADING)
		return drop(cl, -EPROTO, "unexpected UNLOAD_RESPONSE", 0);
	cl->done = NULL;
	cl->arg = NULL;
	reset_all(cl);
	if (done)
		done(arg, 0);
	return 0;
}

int vmbus_client_handle_message(struct vmbus_client *cl, const void *data,
				size_t len)
{
	struct vmbus_msg m;
	int type;

	if (!cl)
		return -EINVAL;
	type = vmbus_msg_decode(data, len, &m);
	if (type < 0)
		return drop(cl, type, "malformed message of length", (uint32_t)len);
	if (!vmbus_msg_host_may_send(m.type))
		return drop(cl, -EPROTO, "guest-only message type", m.type);

	if (m.type == CHANNELMSG_VERSION_RESPONSE)
		return on_version_response(cl, &m.u.version_response);
	if (m.type == CHANNELMSG_UNLOAD_RESPONSE)
		return on_unload_response(cl);
	/* Everything else belongs to an established connection; during an
	 * unload the host may still finish what was in flight. */
	if (cl->state != CL_CONNECTED && cl->state != CL_UNLOADING)
		return drop(cl, -EPROTO, "message before connect, type", m.type);

	switch (m.type) {
	case CHANNELMSG_OFFERCHANNEL:
		return on_offer(cl, &m.u.offer);
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		return on_rescind(cl, m.u.rescind.child_relid);
	case CHANNELMSG_ALLOFFERS_DELIVERED:
		if (!cl->offers_requested)
			return drop(cl, -EPROTO, "unrequested ALLOFFERS_DELIVERED", 0);
		if (cl->ev && cl->ev->offers_delivered)
			cl->ev->offers_delivered(cl->ev_ctx);
		return 0;
	case CHANNELMSG_OPENCHANNEL_RESULT:
		return on_open_result(cl, &m.u.open_result);
	case CHANNELMSG_GPADL_CREATED:
		return on_gpadl_created(cl, &m.u.gpadl_created);
	case CHANNELMSG_GPADL_TORNDOWN:
		return on_gpadl_torndown(cl, m.u.gpadl_torndown.gpadl);
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		return on_modify_response(cl, &m.u.modifychannel_response);
	default:
		/* TL_CONNECT_RESULT: hvsock is not offered by this client. */
		return drop(cl, -EPROTO, "unsupported message type", m.type);
	}
}
