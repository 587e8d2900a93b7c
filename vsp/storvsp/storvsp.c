/* SPDX-License-Identifier: MIT */
/*
 * storvsp: the vstor protocol, host side. Reads vstor packets from a VMBus
 * channel, runs the initialization handshake, turns EXECUTE_SRB packets and
 * their GPA-direct ranges into SCSI commands on guest memory, and answers
 * each packet with a COMPLETE_IO.
 *
 * Formats: include/vmbus/proto/vstor.h. Host behaviour (state machine,
 * NTSTATUS answers, accepted versions, properties, resets as no-ops, reply
 * sizes that echo the request) follows OpenVMM
 * vm/devices/storage/storvsp/src/lib.rs; what the guest sends and checks
 * follows Linux drivers/scsi/storvsc_drv.c (storvsc_channel_init,
 * storvsc_do_io, storvsc_on_channel_callback). docs/PROTOCOL.md section 5.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/proto/tlfs.h>
#include <vmbus/storvsp.h>

/* Bytes of vstor_packet before the union: operation, flags, status. */
#define VSTOR_HDR_SIZE		12u
#define NO_REQ			UINT32_MAX

enum proto_state {
	ST_BEGIN = 0,
	ST_QUERY_VERSION,
	ST_QUERY_PROPERTIES,
	ST_END_INIT,
	ST_READY,
};

enum req_state {
	RQ_FREE = 0,
	RQ_BACKEND,	/* an asynchronous backend holds it */
	RQ_UNSENT,	/* answered, waiting for ring space */
};

struct storvsp_request {
	struct storvsp_channel *ch;
	uint32_t idx;
	uint32_t state;
	uint32_t next;		/* unsent FIFO link */
	uint64_t trans_id;
	uint32_t reply_len;
	uint8_t sense_max;	/* sense bytes the guest can take */
	struct vstor_packet reply;
	struct scsi_io_plan plan;
	struct iovec *iov;
	unsigned int iovcnt;
};

/* Binds a server offer to a channel index (the offer's callback ctx). */
struct glue {
	struct storvsp *sv;
	unsigned int index;
	struct vmbus_server_channel *sch;
};

struct storvsp_channel {
	struct storvsp *sv;		/* NULL once detached */
	unsigned int index;
	struct vmbus_channel *vch;
	void *vch_mem;
	uint8_t *buf;
	size_t buflen;
	int failed;
	struct storvsp_request *reqs;
	struct iovec *iov_pool;
	unsigned int iov_per_req;
	uint32_t *free_stack;
	unsigned int nfree;
	unsigned int depth;
	uint32_t unsent_head, unsent_tail;
	unsigned int batch;		/* storvsp_channel_batch_begin() depth */
	uint64_t *pfns;			/* scratch: one range's PFNs */
	unsigned int pfns_max;
	bool notify_enum, notify_remove;
	void **pages;			/* ring GPADL pages (server glue) */
	struct storvsp_channel_stats stats;
};

struct storvsp {
	struct vmbus_log log;
	const struct vmbus_gpa_map *map;
	struct scsi_target *target;
	unsigned int nchannels;
	uint32_t max_transfer;
	uint16_t max_version;
	unsigned int depth;
	storvsp_submit_fn *submit;
	void *submit_ctx;
	/* Protocol state: written by the primary's thread, read by every
	 * channel's, hence the atomics. */
	uint32_t state;
	uint32_t version;
	uint32_t subch_requested;
	struct storvsp_channel *chans[STORVSP_MAX_CHANNELS];
	struct vmbus_server *srv;
	struct vmbus_guid instance;
	unsigned int noffers;
	struct glue glue[STORVSP_MAX_CHANNELS];
};

static const uint16_t accepted_versions[] = {
	VMSTOR_PROTO_VERSION_WIN10,
	VMSTOR_PROTO_VERSION_WIN8_1,
	VMSTOR_PROTO_VERSION_WIN8,
	VMSTOR_PROTO_VERSION_WIN7,
	VMSTOR_PROTO_VERSION_WIN6,
};

static uint32_t load_state(const struct storvsp *sv)
{
	return __atomic_load_n(&sv->state, __ATOMIC_ACQUIRE);
}

static uint16_t load_version(const struct storvsp *sv)
{
	return (uint16_t)__atomic_load_n(&sv->version, __ATOMIC_ACQUIRE);
}

static void set_state(struct storvsp *sv, uint32_t st)
{
	__atomic_store_n(&sv->state, st, __ATOMIC_RELEASE);
}

/* ---- Controller ------------------------------------------------------------ */

struct storvsp *storvsp_new(const struct storvsp_config *cfg)
{
	struct storvsp *sv;
	unsigned int n;
	uint32_t mt;

	if (!cfg || !cfg->map || !cfg->target)
		return NULL;
	n = cfg->channels ? cfg->channels : 1;
	mt = cfg->max_transfer ? cfg->max_transfer : STORVSP_DEFAULT_MAX_TRANSFER;
	if (n > STORVSP_MAX_CHANNELS || mt % HV_PAGE_SIZE ||
	    mt > STORVSP_MAX_TRANSFER_LIMIT ||
	    cfg->queue_depth > STORVSP_MAX_QUEUE_DEPTH)
		return NULL;
	if (cfg->max_version && cfg->max_version < VMSTOR_PROTO_VERSION_WIN6)
		return NULL;
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return NULL;
	if (cfg->log)
		sv->log = *cfg->log;
	sv->map = cfg->map;
	sv->target = cfg->target;
	sv->nchannels = n;
	sv->max_transfer = mt;
	sv->max_version = cfg->max_version ? cfg->max_version : VMSTOR_PROTO_VERSION_WIN10;
	sv->depth = cfg->queue_depth ? cfg->queue_depth : STORVSP_DEFAULT_QUEUE_DEPTH;
	sv->submit = cfg->submit;
	sv->submit_ctx = cfg->submit_ctx;
	return sv;
}

void storvsp_free(struct storvsp *sv)
{
	unsigned int i;

	if (!sv)
		return;
	storvsp_unregister(sv);
	for (i = 0; i < STORVSP_MAX_CHANNELS; i++)
		storvsp_channel_detach(sv->chans[i]);
	free(sv);
}

uint16_t storvsp_version(const struct storvsp *sv)
{
	return sv ? load_version(sv) : 0;
}

bool storvsp_ready(const struct storvsp *sv)
{
	return sv && load_state(sv) == ST_READY;
}

unsigned int storvsp_subchannels_requested(const struct storvsp *sv)
{
	return sv ? sv->subch_requested : 0;
}

/* ---- Request table -------------------------------------------------------------- */

static struct storvsp_request *req_get(struct storvsp_channel *ch)
{
	struct storvsp_request *r;

	if (!ch->nfree)
		return NULL;
	r = &ch->reqs[ch->free_stack[--ch->nfree]];
	r->state = RQ_BACKEND;
	r->next = NO_REQ;
	r->iovcnt = 0;
	memset(&r->reply, 0, sizeof(r->reply));
	ch->stats.in_flight++;
	return r;
}

static void channel_release(struct storvsp_channel *ch);

static void req_put(struct storvsp_request *r)
{
	struct storvsp_channel *ch = r->ch;

	r->state = RQ_FREE;
	ch->free_stack[ch->nfree++] = r->idx;
	ch->stats.in_flight--;
	/* A detached channel lives on only for its outstanding requests. */
	if (!ch->sv && !ch->stats.in_flight)
		channel_release(ch);
}

static void fail_channel(struct storvsp_channel *ch, int err)
{
	if (ch->failed)
		return;
	ch->failed = err;
	vmbus_logf(&ch->sv->log, VMBUS_LOG_ERR,
		   "storvsp channel %u: failed, error %d", ch->index, -err);
}

/* Send one answer, or queue it behind answers already waiting so the
 * guest sees them in order. */
static void send_reply(struct storvsp_request *r)
{
	struct storvsp_channel *ch = r->ch;
	int ret;

	if (!ch->sv) {
		req_put(r);
		return;
	}
	if (ch->unsent_head == NO_REQ && !ch->failed) {
		ret = vmbus_channel_send_comp(ch->vch, &r->reply, r->reply_len,
					      r->trans_id);
		if (ret != -EAGAIN) {
			if (ret)
				fail_channel(ch, ret);
			req_put(r);
			return;
		}
	}
	if (ch->failed) {
		req_put(r);
		return;
	}
	r->state = RQ_UNSENT;
	r->next = NO_REQ;
	if (ch->unsent_head == NO_REQ)
		ch->unsent_head = r->idx;
	else
		ch->reqs[ch->unsent_tail].next = r->idx;
	ch->unsent_tail = r->idx;
	ch->stats.deferred++;
}

/* Returns false while the ring is still too full for the oldest answer. */
static bool flush_unsent(struct storvsp_channel *ch)
{
	while (ch->unsent_head != NO_REQ) {
		struct storvsp_request *r = &ch->reqs[ch->unsent_head];
		int ret = vmbus_channel_send_comp(ch->vch, &r->reply, r->reply_len,
						  r->trans_id);

		if (ret == -EAGAIN)
			return false;
		if (ret)
			fail_channel(ch, ret);
		ch->unsent_head = r->next;
		req_put(r);
	}
	return true;
}

/* ---- Answers ------------------------------------------------------------------ */

static uint32_t nt_status(uint8_t srb_status)
{
	switch (SRB_STATUS(srb_status)) {
	case SRB_STATUS_SUCCESS:
		return VSTOR_STATUS_SUCCESS;
	case SRB_STATUS_INVALID_LUN:
		return VSTOR_STATUS_DEVICE_DOES_NOT_EXIST;
	case SRB_STATUS_TIMEOUT:
		return VSTOR_STATUS_IO_TIMEOUT;
	case SRB_STATUS_SELECTION_TIMEOUT:
		return VSTOR_STATUS_DEVICE_NOT_CONNECTED;
	case SRB_STATUS_DATA_OVERRUN:
		return VSTOR_STATUS_BUFFER_OVERFLOW;
	case SRB_STATUS_ABORTED:
		return VSTOR_STATUS_CANCELLED;
	default:
		return VSTOR_STATUS_IO_DEVICE_ERROR;
	}
}

/* Answer a control packet: COMPLETE_IO with status and whatever payload
 * the caller already put in r->reply. */
static void answer(struct storvsp_request *r, uint32_t status)
{
	r->reply.operation = VSTOR_OPERATION_COMPLETE_IO;
	r->reply.flags = 0;
	r->reply.status = status;
	if (status != VSTOR_STATUS_SUCCESS)
		r->ch->stats.bad_packets++;
	send_reply(r);
}

/* Answer an SRB the transport refused before the target saw it. The
 * request block is echoed with the statuses filled in and no data moved. */
static void srb_refuse(struct storvsp_request *r, uint32_t status, uint8_t srb_status)
{
	struct vmscsi_request *o = &r->reply.vm_srb;

	o->srb_status = srb_status;
	o->scsi_status = SCSI_STATUS_GOOD;
	o->sense_info_length = 0;
	o->data_transfer_length = 0;
	memset(o->sense_data, 0, sizeof(o->sense_data));
	answer(r, status);
}

static void srb_finish(struct storvsp_request *r, const struct scsi_result *res)
{
	struct vmscsi_request *o = &r->reply.vm_srb;
	uint8_t srb = res->srb_status;
	size_t n = res->sense_len;

	if (n > r->sense_max)
		n = r->sense_max;
	o->scsi_status = res->status;
	memset(o->sense_data, 0, sizeof(o->sense_data));
	if (n)
		memcpy(o->sense_data, res->sense, n);
	else
		srb &= (uint8_t)~SRB_STATUS_AUTOSENSE_VALID;
	o->srb_status = srb;
	o->sense_info_length = (uint8_t)n;
	o->data_transfer_length = (uint32_t)res->transferred;
	r->reply.operation = VSTOR_OPERATION_COMPLETE_IO;
	r->reply.status = nt_status(srb);
	send_reply(r);
}

/* ---- Initialization (primary channel) -------------------------------------------- */

static bool version_ok(const struct storvsp *sv, uint16_t v)
{
	unsigned int i;

	if (v > sv->max_version)
		return false;
	for (i = 0; i < sizeof(accepted_versions) / sizeof(accepted_versions[0]); i++)
		if (accepted_versions[i] == v)
			return true;
	return false;
}

static bool multichannel(const struct storvsp *sv)
{
	return sv->nchannels > 1 && load_version(sv) >= VMSTOR_PROTO_VERSION_WIN8;
}

static int offer_subchannels(struct storvsp *sv, unsigned int count);

static void ctl_query_version(struct storvsp *sv, struct storvsp_request *r,
			      const struct vstor_packet *in, size_t plen)
{
	uint16_t v;

	if (load_state(sv) != ST_QUERY_VERSION) {
		answer(r, VSTOR_STATUS_INVALID_DEVICE_STATE);
		return;
	}
	if (plen < VSTOR_HDR_SIZE + sizeof(struct vmstorage_protocol_version)) {
		answer(r, VSTOR_STATUS_INVALID_PARAMETER);
		return;
	}
	v = in->version.major_minor;
	r->reply.version.major_minor = v;
	r->reply.version.revision = 0;
	if (!version_ok(sv, v)) {
		vmbus_logf(&sv->log, VMBUS_LOG_INFO,
			   "storvsp: guest asked for version %#x, refused", v);
		answer(r, VSTOR_STATUS_REVISION_MISMATCH);
		return;
	}
	__atomic_store_n(&sv->version, v, __ATOMIC_RELEASE);
	set_state(sv, ST_QUERY_PROPERTIES);
	vmbus_logf(&sv->log, VMBUS_LOG_INFO, "storvsp: vstor version %#x", v);
	answer(r, VSTOR_STATUS_SUCCESS);
}

static void ctl_query_properties(struct storvsp *sv, struct storvsp_request *r)
{
	struct vmstorage_channel_properties *p = &r->reply.storage_channel_properties;

	if (load_state(sv) != ST_QUERY_PROPERTIES) {
		answer(r, VSTOR_STATUS_INVALID_DEVICE_STATE);
		return;
	}
	p->max_transfer_bytes = sv->max_transfer;
	/* Multichannel came with WIN8 (5.1); OpenVMM reports it only then. */
	if (multichannel(sv)) {
		p->flags = VSTOR_PROPERTIES_MULTI_CHANNEL;
		p->max_channel_cnt = (uint16_t)(sv->nchannels - 1);
	}
	set_state(sv, ST_END_INIT);
	answer(r, VSTOR_STATUS_SUCCESS);
}

static void ctl_create_subchannels(struct storvsp *sv, struct storvsp_request *r,
				   const struct vstor_packet *in, size_t plen)
{
	uint32_t st = load_state(sv);
	uint16_t n;

	if ((st != ST_END_INIT && st != ST_READY) || !multichannel(sv)) {
		answer(r, VSTOR_STATUS_INVALID_DEVICE_STATE);
		return;
	}
	if (plen < VSTOR_HDR_SIZE + sizeof(uint16_t)) {
		answer(r, VSTOR_STATUS_INVALID_PARAMETER);
		return;
	}
	n = in->sub_channel_count;
	if (n == 0 || n > sv->nchannels - 1) {
		answer(r, VSTOR_STATUS_INVALID_PARAMETER);
		return;
	}
	if (n > sv->subch_requested)
		sv->subch_requested = n;
	if (offer_subchannels(sv, sv->subch_requested)) {
		answer(r, VSTOR_STATUS_UNSUCCESSFUL);
		return;
	}
	answer(r, VSTOR_STATUS_SUCCESS);
}

static void handle_control(struct storvsp_channel *ch, struct storvsp_request *r,
			   const struct vstor_packet *in, size_t plen)
{
	struct storvsp *sv = ch->sv;

	/* Subchannels carry I/O only; the handshake belongs to the primary. */
	if (ch->index != 0) {
		answer(r, VSTOR_STATUS_INVALID_DEVICE_STATE);
		return;
	}
	switch (in->operation) {
	case VSTOR_OPERATION_BEGIN_INITIALIZATION:
		if (load_state(sv) != ST_BEGIN) {
			answer(r, VSTOR_STATUS_INVALID_DEVICE_STATE);
			return;
		}
		set_state(sv, ST_QUERY_VERSION);
		answer(r, VSTOR_STATUS_SUCCESS);
		return;
	case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION:
		ctl_query_version(sv, r, in, plen);
		return;
	case VSTOR_OPERATION_QUERY_PROPERTIES:
		ctl_query_properties(sv, r);
		return;
	case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
		ctl_create_subchannels(sv, r, in, plen);
		return;
	default: /* END_INITIALIZATION */
		if (load_state(sv) != ST_END_INIT) {
			answer(r, VSTOR_STATUS_INVALID_DEVICE_STATE);
			return;
		}
		set_state(sv, ST_READY);
		answer(r, VSTOR_STATUS_SUCCESS);
		return;
	}
}

/* ---- EXECUTE_SRB ------------------------------------------------------------------ */

/*
 * Check every GPA range of the packet against guest memory and turn the
 * first dtl bytes into iovecs. Returns 0, or a negative errno and the SRB
 * is refused: -EINVAL malformed ranges, -EFAULT a page outside guest RAM,
 * -ERANGE ranges shorter than data_transfer_length.
 */
static int map_ranges(struct storvsp_channel *ch, struct storvsp_request *r,
		      const struct vmbus_channel_packet *pkt, uint32_t dtl)
{
	const struct vmbus_gpa_map *map = ch->sv->map;
	struct vmbus_ring_gpa_iter it;
	struct vmbus_ring_gpa_range rg;
	uint64_t total = 0;
	uint32_t left = dtl, i;
	int count, n;

	if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT)
		return dtl ? -ERANGE : 0;
	count = vmbus_ring_parse_gpa_direct(pkt->data, pkt->len, &it);
	if (count < 0 || (unsigned int)count > STORVSP_MAX_RANGES)
		return -EINVAL;
	/* First pass: every listed page must be guest RAM, whatever part of
	 * it the command ends up using. */
	while (vmbus_ring_gpa_next(&it, &rg)) {
		for (i = 0; i < rg.pfn_count; i++)
			if (!vmbus_gpa_page(map, vmbus_ring_gpa_pfn(&rg, i)))
				return -EFAULT;
		total += rg.byte_count;
	}
	if (total < dtl)
		return -ERANGE;
	vmbus_ring_parse_gpa_direct(pkt->data, pkt->len, &it);
	while (left && vmbus_ring_gpa_next(&it, &rg)) {
		struct vmbus_gpa_pagelist pl;
		uint32_t use = rg.byte_count < left ? rg.byte_count : left;
		uint32_t npfn = (uint32_t)(((uint64_t)rg.byte_offset + use +
					    HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);

		/* use <= max_transfer, so npfn fits the scratch array. */
		for (i = 0; i < npfn; i++)
			ch->pfns[i] = vmbus_ring_gpa_pfn(&rg, i);
		pl.pfns = ch->pfns;
		pl.pfn_count = npfn;
		pl.byte_offset = rg.byte_offset;
		pl.byte_count = use;
		n = vmbus_gpa_pagelist_iov(map, &pl, 0, use, r->iov + r->iovcnt,
					   ch->iov_per_req - r->iovcnt);
		if (n < 0)
			return n == -EFAULT ? -EFAULT : -EINVAL;
		r->iovcnt += (unsigned int)n;
		left -= use;
	}
	return 0;
}

static void run_srb(struct storvsp_channel *ch, struct storvsp_request *r,
		    const struct vmscsi_request *srb, enum scsi_dir dir, uint32_t dtl)
{
	struct storvsp *sv = ch->sv;
	struct scsi_result res;
	struct scsi_data data = scsi_data_iov(r->iov, r->iovcnt);
	int op, err;

	op = scsi_target_decode(sv->target, srb->lun, srb->cdb, srb->cdb_length,
				dtl, dir, &r->plan, &res);
	if (op < 0) {
		srb_refuse(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	ch->stats.srbs++;
	if (op == SCSI_PLAN_DONE) {
		srb_finish(r, &res);
		return;
	}
	if (sv->submit && op != SCSI_PLAN_EMULATE) {
		err = sv->submit(sv->submit_ctx, r, &r->plan, r->iov, r->iovcnt);
		if (!err)
			return;		/* storvsp_request_complete() follows */
		scsi_target_complete_io(sv->target, &r->plan, err, &res);
		srb_finish(r, &res);
		return;
	}
	scsi_target_execute_plan(sv->target, &r->plan, &data, &res);
	srb_finish(r, &res);
}

static void handle_srb(struct storvsp_channel *ch, struct storvsp_request *r,
		       const struct vstor_packet *in, size_t plen,
		       const struct vmbus_channel_packet *pkt)
{
	struct storvsp *sv = ch->sv;
	uint16_t ver = load_version(sv);
	bool win8 = ver >= VMSTOR_PROTO_VERSION_WIN8;
	struct vmscsi_request srb = in->vm_srb;
	size_t need = win8 ? VSTOR_PACKET_SIZE_WIN8 : VSTOR_PACKET_SIZE_PRE_WIN8;
	enum scsi_dir dir;
	uint32_t dtl;
	int err;

	/* Before WIN8 the request block ends before the extension, whatever
	 * follows it in the packet is not part of it. */
	if (!win8)
		memset(&srb.win8_extension, 0, sizeof(srb.win8_extension));
	r->reply.vm_srb = srb;
	r->sense_max = srb.sense_info_length;
	if (r->sense_max > (win8 ? VMSCSI_SENSE_BUFFER_SIZE : VMSCSI_SENSE_BUFFER_SIZE_PRE_WIN8))
		r->sense_max = win8 ? VMSCSI_SENSE_BUFFER_SIZE : VMSCSI_SENSE_BUFFER_SIZE_PRE_WIN8;

	if (load_state(sv) != ST_READY) {
		srb_refuse(r, VSTOR_STATUS_INVALID_DEVICE_STATE, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	if (plen < need || srb.cdb_length == 0 || srb.cdb_length > VMSCSI_CDB_SIZE ||
	    srb.data_in > VSTOR_DATA_UNKNOWN) {
		srb_refuse(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	dtl = srb.data_transfer_length;
	if (dtl > sv->max_transfer) {
		srb_refuse(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	/* The controller has one bus and one target; LUNs hang off it. */
	if (srb.path_id != 0 || srb.target_id != 0) {
		srb_refuse(r, VSTOR_STATUS_DEVICE_DOES_NOT_EXIST, SRB_STATUS_INVALID_LUN);
		return;
	}
	err = map_ranges(ch, r, pkt, dtl);
	if (err) {
		vmbus_logf(&sv->log, VMBUS_LOG_DEBUG,
			   "storvsp channel %u: SRB with bad data ranges (%d)",
			   ch->index, -err);
		srb_refuse(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST);
		return;
	}
	if (!dtl)
		dir = SCSI_DIR_NONE;
	else if (srb.data_in == VSTOR_DATA_IN)
		dir = SCSI_DIR_IN;
	else if (srb.data_in == VSTOR_DATA_OUT)
		dir = SCSI_DIR_OUT;
	else
		dir = SCSI_DIR_UNKNOWN;
	run_srb(ch, r, &srb, dir, dtl);
}

/* ---- Packet dispatch -------------------------------------------------------------- */

static void handle_packet(struct storvsp_channel *ch, const struct vmbus_channel_packet *pkt)
{
	struct storvsp *sv = ch->sv;
	struct storvsp_request *r;
	struct vstor_packet in;
	size_t plen = pkt->payload_len;

	if (pkt->type == VM_PKT_COMP)
		return;		/* nothing we send asks for a completion */
	if (!(pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)) {
		/* Every vstor request wants an answer; one that does not is
		 * malformed, and running it unanswered helps no one. */
		ch->stats.bad_packets++;
		vmbus_logf(&sv->log, VMBUS_LOG_DEBUG,
			   "storvsp channel %u: packet without completion request dropped",
			   ch->index);
		return;
	}
	r = req_get(ch);	/* the caller made sure one is free */
	r->trans_id = pkt->trans_id;
	/* Answers echo the request's size class, as Hyper-V does: a full
	 * packet for a full request (Linux drops anything shorter), the
	 * pre-WIN8 size otherwise. Windows guests want exactly one of the
	 * two, never something in between. */
	r->reply_len = plen >= VSTOR_PACKET_SIZE_WIN8 ? VSTOR_PACKET_SIZE_WIN8 :
						       VSTOR_PACKET_SIZE_PRE_WIN8;

	if (pkt->type != VM_PKT_DATA_INBAND && pkt->type != VM_PKT_DATA_USING_GPA_DIRECT) {
		answer(r, VSTOR_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	if (plen < VSTOR_HDR_SIZE) {
		answer(r, VSTOR_STATUS_INVALID_PARAMETER);
		return;
	}
	memset(&in, 0, sizeof(in));
	memcpy(&in, pkt->payload, plen < sizeof(in) ? plen : sizeof(in));

	switch (in.operation) {
	case VSTOR_OPERATION_EXECUTE_SRB:
		handle_srb(ch, r, &in, plen, pkt);
		return;
	case VSTOR_OPERATION_BEGIN_INITIALIZATION:
	case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION:
	case VSTOR_OPERATION_QUERY_PROPERTIES:
	case VSTOR_OPERATION_END_INITIALIZATION:
	case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
		handle_control(ch, r, &in, plen);
		return;
	case VSTOR_OPERATION_RESET_LUN:
	case VSTOR_OPERATION_RESET_BUS:
	case VSTOR_OPERATION_RESET_ADAPTER:
		/* Commands run to completion (or sit in a backend that will
		 * complete them), so there is nothing to abort: Hyper-V and
		 * OpenVMM answer resets with success as well. */
		answer(r, load_state(sv) == ST_READY ? VSTOR_STATUS_SUCCESS :
						       VSTOR_STATUS_INVALID_DEVICE_STATE);
		return;
	default:
		vmbus_logf(&sv->log, VMBUS_LOG_DEBUG,
			   "storvsp channel %u: unknown operation %u", ch->index,
			   in.operation);
		answer(r, VSTOR_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
}

/* Unsolicited packets: transaction id 0, no completion wanted, sized for
 * the negotiated version as OpenVMM sends them. */
static void send_notifications(struct storvsp_channel *ch)
{
	struct vstor_packet p;
	uint32_t len = load_version(ch->sv) >= VMSTOR_PROTO_VERSION_WIN8 ?
		       VSTOR_PACKET_SIZE_WIN8 : VSTOR_PACKET_SIZE_PRE_WIN8;
	int ret;

	while (ch->notify_enum || ch->notify_remove) {
		memset(&p, 0, sizeof(p));
		p.operation = ch->notify_remove ? VSTOR_OPERATION_REMOVE_DEVICE :
						  VSTOR_OPERATION_ENUMERATE_BUS;
		ret = vmbus_channel_send_inband(ch->vch, &p, len, 0, 0);
		if (ret == -EAGAIN)
			return;
		if (ret)
			fail_channel(ch, ret);
		if (ch->notify_remove)
			ch->notify_remove = false;
		else
			ch->notify_enum = false;
	}
}

int storvsp_channel_process(struct storvsp_channel *ch)
{
	struct vmbus_channel_packet pkt;
	int n = 0, ret;

	if (!ch || !ch->sv)
		return -EINVAL;
	if (ch->failed)
		return ch->failed;
	if (!flush_unsent(ch))
		return ch->failed ? ch->failed : 0;
	send_notifications(ch);
	for (;;) {
		vmbus_channel_mask(ch->vch);
		while (ch->nfree && ch->unsent_head == NO_REQ && !ch->failed) {
			ret = vmbus_channel_recv_next(ch->vch, ch->buf, ch->buflen, &pkt);
			if (ret == 0)
				break;
			if (ret < 0) {
				fail_channel(ch, ret == -ENOBUFS ? -EMSGSIZE : ret);
				break;
			}
			n++;
			ch->stats.packets++;
			handle_packet(ch, &pkt);
		}
		ret = vmbus_channel_recv_end(ch->vch);
		if (ret)
			fail_channel(ch, ret);
		if (ch->failed) {
			vmbus_channel_unmask(ch->vch);
			return ch->failed;
		}
		/* Table or send ring full: stay masked. A completion or the
		 * guest's space signal brings the caller back. */
		if (!ch->nfree || ch->unsent_head != NO_REQ)
			return n;
		if (!vmbus_channel_unmask(ch->vch))
			return n;
	}
}

void storvsp_channel_batch_begin(struct storvsp_channel *ch)
{
	if (!ch || !ch->sv)
		return;
	if (ch->batch++)
		return;
	vmbus_channel_send_batch_begin(ch->vch);
	/* The caller reads the ring after the batch anyway: the answers
	 * are what the guest is waiting for, so its next requests may
	 * already be there. Meanwhile it need not signal. */
	vmbus_channel_mask(ch->vch);
}

void storvsp_channel_batch_end(struct storvsp_channel *ch)
{
	if (!ch || !ch->sv || !ch->batch || --ch->batch)
		return;
	vmbus_channel_send_batch_end(ch->vch);
	/* Inside the batch a full ring refuses without asking the guest to
	 * signal when room frees up; out of it, that request is made. */
	if (ch->unsent_head != NO_REQ && !ch->failed)
		flush_unsent(ch);
}

static int notify(struct storvsp *sv, bool remove)
{
	struct storvsp_channel *ch;

	if (!sv)
		return -EINVAL;
	ch = sv->chans[0];
	if (!ch || load_state(sv) != ST_READY)
		return -ENOTCONN;
	if (load_version(sv) < VMSTOR_PROTO_VERSION_WIN7)
		return -EOPNOTSUPP;
	if (remove)
		ch->notify_remove = true;
	else
		ch->notify_enum = true;
	if (ch->unsent_head == NO_REQ && !ch->failed)
		send_notifications(ch);
	return 0;
}

int storvsp_notify_luns_changed(struct storvsp *sv)
{
	return notify(sv, false);
}

int storvsp_notify_remove_device(struct storvsp *sv)
{
	return notify(sv, true);
}

/* ---- Channels ---------------------------------------------------------------------- */

static void channel_release(struct storvsp_channel *ch)
{
	free(ch->reqs);
	free(ch->iov_pool);
	free(ch->free_stack);
	free(ch->pfns);
	free(ch);
}

int storvsp_channel_attach(struct storvsp *sv, unsigned int index,
			   const struct vmbus_ring *send,
			   const struct vmbus_ring *recv,
			   vmbus_channel_signal_fn *signal, void *signal_ctx,
			   struct storvsp_channel **out)
{
	struct vmbus_channel_config cfg = { 0 };
	struct storvsp_channel *ch;
	size_t memsz;
	unsigned int i;
	uint32_t rsz;
	int ret;

	if (!sv || !send || !recv || !signal || !out || index >= sv->nchannels)
		return -EINVAL;
	if (sv->chans[index])
		return -EBUSY;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->index = index;
	ch->depth = sv->depth;
	ch->iov_per_req = sv->max_transfer / HV_PAGE_SIZE + 2 * STORVSP_MAX_RANGES;
	ch->pfns_max = sv->max_transfer / HV_PAGE_SIZE + 2;
	rsz = vmbus_ring_data_size(recv);
	ch->buflen = rsz < STORVSP_MAX_PACKET ? rsz : STORVSP_MAX_PACKET;
	memsz = vmbus_channel_mem_size(0);
	ch->vch_mem = malloc(memsz);
	ch->buf = malloc(ch->buflen);
	ch->reqs = calloc(ch->depth, sizeof(*ch->reqs));
	ch->iov_pool = calloc((size_t)ch->depth * ch->iov_per_req, sizeof(struct iovec));
	ch->free_stack = calloc(ch->depth, sizeof(uint32_t));
	ch->pfns = calloc(ch->pfns_max, sizeof(uint64_t));
	if (!ch->vch_mem || !ch->buf || !ch->reqs || !ch->iov_pool ||
	    !ch->free_stack || !ch->pfns) {
		ret = -ENOMEM;
		goto fail;
	}
	cfg.send = send;
	cfg.recv = recv;
	cfg.signal = signal;
	cfg.signal_ctx = signal_ctx;
	cfg.max_requests = 0;
	cfg.log = &sv->log;
	ret = vmbus_channel_init(ch->vch_mem, memsz, &cfg, &ch->vch);
	if (ret)
		goto fail;
	for (i = 0; i < ch->depth; i++) {
		ch->reqs[i].ch = ch;
		ch->reqs[i].idx = i;
		ch->reqs[i].iov = ch->iov_pool + (size_t)i * ch->iov_per_req;
		ch->free_stack[i] = ch->depth - 1 - i;
	}
	ch->nfree = ch->depth;
	ch->unsent_head = ch->unsent_tail = NO_REQ;
	ch->sv = sv;
	if (index == 0) {
		set_state(sv, ST_BEGIN);
		__atomic_store_n(&sv->version, 0, __ATOMIC_RELEASE);
	}
	sv->chans[index] = ch;
	*out = ch;
	return 0;
fail:
	free(ch->vch_mem);
	free(ch->buf);
	channel_release(ch);
	return ret;
}

void storvsp_channel_detach(struct storvsp_channel *ch)
{
	struct storvsp *sv;

	if (!ch || !ch->sv)
		return;
	sv = ch->sv;
	sv->chans[ch->index] = NULL;
	if (ch->index == 0) {
		/* A guest that opens the primary again starts over (Linux
		 * does after hibernation, kexec or a driver reload). */
		set_state(sv, ST_BEGIN);
		__atomic_store_n(&sv->version, 0, __ATOMIC_RELEASE);
	}
	/* Answers that never made it to the ring are dropped with the ring. */
	while (ch->unsent_head != NO_REQ) {
		struct storvsp_request *r = &ch->reqs[ch->unsent_head];

		ch->unsent_head = r->next;
		r->state = RQ_FREE;
		ch->free_stack[ch->nfree++] = r->idx;
		ch->stats.in_flight--;
	}
	free(ch->vch_mem);
	free(ch->buf);
	free(ch->pages);
	ch->vch_mem = NULL;
	ch->vch = NULL;
	ch->buf = NULL;
	ch->pages = NULL;
	ch->sv = NULL;
	if (!ch->stats.in_flight)
		channel_release(ch);
}

struct storvsp_channel *storvsp_channel_get(struct storvsp *sv, unsigned int index)
{
	if (!sv || index >= STORVSP_MAX_CHANNELS)
		return NULL;
	return sv->chans[index];
}

unsigned int storvsp_channel_index(const struct storvsp_channel *ch)
{
	return ch->index;
}

void storvsp_channel_get_stats(const struct storvsp_channel *ch,
			       struct storvsp_channel_stats *out)
{
	*out = ch->stats;
}

/* ---- Asynchronous completion -------------------------------------------------------- */

void storvsp_request_complete(struct storvsp_request *req, int err)
{
	struct scsi_result res;
	struct storvsp_channel *ch;

	if (!req || req->state != RQ_BACKEND)
		return;
	ch = req->ch;
	if (!ch->sv) {
		req_put(req);
		return;
	}
	if (scsi_target_complete_io(ch->sv->target, &req->plan, err, &res)) {
		srb_refuse(req, VSTOR_STATUS_UNSUCCESSFUL, SRB_STATUS_ERROR);
		return;
	}
	srb_finish(req, &res);
}

struct storvsp_channel *storvsp_request_channel(const struct storvsp_request *req)
{
	return req && req->ch->sv ? req->ch : NULL;
}

/* ---- VMBus server glue ---------------------------------------------------------------- */

static void glue_signal(void *ctx)
{
	vmbus_server_channel_signal_guest(ctx);
}

static int glue_opened(struct vmbus_server_channel *sch,
		       const struct vmbus_server_open_info *info, void *ctx)
{
	struct glue *g = ctx;
	struct storvsp_channel *ch;
	struct vmbus_ring send, recv;
	void **pages;
	int ret;

	pages = calloc(info->ring_pages, sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	ret = vmbus_server_channel_rings(sch, pages, info->ring_pages, &send, &recv);
	if (!ret)
		ret = storvsp_channel_attach(g->sv, g->index, &send, &recv,
					     glue_signal, sch, &ch);
	if (ret) {
		vmbus_logf(&g->sv->log, VMBUS_LOG_WARN,
			   "storvsp: refusing open of channel %u: %d", g->index, -ret);
		free(pages);
		return ret;
	}
	ch->pages = pages;
	return 0;
}

static void glue_closed(struct vmbus_server_channel *sch, void *ctx)
{
	struct glue *g = ctx;

	(void)sch;
	storvsp_channel_detach(g->sv->chans[g->index]);
}

static void glue_signalled(struct vmbus_server_channel *sch, void *ctx)
{
	struct glue *g = ctx;
	struct storvsp_channel *ch = g->sv->chans[g->index];

	(void)sch;
	if (ch)
		storvsp_channel_process(ch);
}

static const struct vmbus_server_device_ops glue_ops = {
	.opened = glue_opened,
	.closed = glue_closed,
	.signalled = glue_signalled,
};

static int add_offer(struct storvsp *sv, unsigned int index)
{
	struct vmbus_server_offer offer;

	memset(&offer, 0, sizeof(offer));
	offer.if_type = (struct vmbus_guid)VMBUS_GUID_SCSI;
	offer.if_instance = sv->instance;
	offer.sub_channel_index = (uint16_t)index;
	sv->glue[index].sv = sv;
	sv->glue[index].index = index;
	return vmbus_server_add_offer(sv->srv, &offer, &glue_ops, &sv->glue[index],
				      &sv->glue[index].sch);
}

static int offer_subchannels(struct storvsp *sv, unsigned int count)
{
	int ret;

	/* Without a server the caller attaches subchannels itself. */
	if (!sv->srv)
		return 0;
	while (sv->noffers <= count) {
		ret = add_offer(sv, sv->noffers);
		if (ret) {
			vmbus_logf(&sv->log, VMBUS_LOG_WARN,
				   "storvsp: cannot offer subchannel %u: %d",
				   sv->noffers, -ret);
			return ret;
		}
		sv->noffers++;
	}
	return 0;
}

int storvsp_register(struct storvsp *sv, struct vmbus_server *srv,
		     const struct vmbus_guid *instance)
{
	int ret;

	if (!sv || !srv || !instance)
		return -EINVAL;
	if (sv->srv)
		return -EALREADY;
	sv->srv = srv;
	sv->instance = *instance;
	ret = add_offer(sv, 0);
	if (ret) {
		sv->srv = NULL;
		return ret;
	}
	sv->noffers = 1;
	/* Subchannels asked for before registering are offered now. */
	if (sv->subch_requested)
		offer_subchannels(sv, sv->subch_requested);
	return 0;
}

void storvsp_unregister(struct storvsp *sv)
{
	if (!sv || !sv->srv)
		return;
	/* Subchannels first: a primary may not go while they remain. */
	while (sv->noffers) {
		sv->noffers--;
		vmbus_server_remove_offer(sv->srv, sv->glue[sv->noffers].sch);
		sv->glue[sv->noffers].sch = NULL;
	}
	sv->srv = NULL;
}
