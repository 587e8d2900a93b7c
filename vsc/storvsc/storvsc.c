/* SPDX-License-Identifier: MIT */
/*
 * storvsc: the vstor protocol, guest side, with a block API. Freestanding;
 * allocates nothing.
 *
 * Sequence: Linux drivers/scsi/storvsc_drv.c (storvsc_channel_init,
 * handle_multichannel_storage, storvsc_queuecommand, storvsc_do_io,
 * storvsc_on_channel_callback, storvsc_on_io_completion). Formats:
 * include/vmbus/proto/vstor.h and scsi.h; docs/PROTOCOL.md section 5.
 */
#include <vmbus/proto/scsi.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/storvsc.h>

#include "freestanding.h"

#define RX_BUF_SIZE		512u
#define UNMAP_PARAM_LEN		(SCSI_UNMAP_HEADER_LEN + SCSI_UNMAP_DESCRIPTOR_LEN)
#define MAX_REQUESTS		65535u
#define INQUIRY_LEN		36u
#define MODE_SENSE_LEN		4u

enum ctl_step {
	CTL_IDLE = 0,
	CTL_BEGIN,
	CTL_VERSION,
	CTL_PROPERTIES,
	CTL_END,
	CTL_SUBCHANNELS,
};

enum scan_step {
	SCAN_IDLE = 0,
	SCAN_REPORT_LUNS,
	SCAN_INQUIRY,
	SCAN_CAPACITY,
	SCAN_MODE_SENSE,
};

enum req_kind {
	REQ_FREE = 0,
	REQ_USER,
	REQ_SCAN,
};

struct sc_req {
	uint8_t param[UNMAP_PARAM_LEN];	/* UNMAP parameter list */
	uint8_t kind;
	uint8_t cdb0;
	uint32_t len;			/* data buffer bytes */
	storvsc_io_done_fn *done;
	void *arg;
};

struct storvsc {
	struct vmbus_log log;
	struct vmbus_channel *chans[STORVSC_MAX_CHANNELS];
	unsigned int nchans;
	unsigned int rr;
	unsigned int max_requests;
	unsigned int max_luns;
	unsigned int want_subch;
	uint16_t max_version;
	storvsc_virt_to_pfn_fn *virt_to_pfn;
	void *virt_ctx;
	const struct storvsc_events *events;
	void *events_ctx;

	/* Handshake: one control packet in flight at a time. */
	int ctl_cookie;			/* its address identifies control replies */
	enum ctl_step ctl;
	unsigned int ver_idx;
	bool started, ready;
	uint16_t version;
	uint32_t max_transfer;
	bool multichannel;
	unsigned int host_subch;
	unsigned int subch_created;
	storvsc_done_fn *start_done;
	void *start_arg;

	/* LUN scan */
	enum scan_step scan;
	storvsc_done_fn *scan_done;
	void *scan_arg;
	uint8_t scan_luns[STORVSC_MAX_LUNS];
	unsigned int scan_nluns, scan_pos;
	struct storvsc_lun cur;

	struct sc_req *reqs;
	uint32_t *free_stack;
	unsigned int nfree;
	struct storvsc_lun *luns;
	unsigned int nluns;
	uint8_t *scan_buf;
	uint8_t *rx_buf;
};

static const uint16_t versions[] = {
	VMSTOR_PROTO_VERSION_WIN10,
	VMSTOR_PROTO_VERSION_WIN8_1,
	VMSTOR_PROTO_VERSION_WIN8,
};
#define NVERSIONS	(sizeof(versions) / sizeof(versions[0]))

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- Setup ---------------------------------------------------------------------- */

static bool cfg_ok(const struct storvsc_config *cfg)
{
	return cfg && cfg->primary && cfg->virt_to_pfn &&
	       cfg->max_requests >= 1 && cfg->max_requests <= MAX_REQUESTS &&
	       cfg->max_luns >= 1 && cfg->max_luns <= STORVSC_MAX_LUNS &&
	       (cfg->max_version == 0 ||
		(cfg->max_version >= VMSTOR_PROTO_VERSION_WIN8 &&
		 cfg->max_version <= VMSTOR_PROTO_VERSION_WIN10));
}

size_t storvsc_mem_size(const struct storvsc_config *cfg)
{
	if (!cfg_ok(cfg))
		return 0;
	return align8(sizeof(struct storvsc)) +
	       align8(sizeof(struct sc_req) * cfg->max_requests) +
	       align8(sizeof(uint32_t) * cfg->max_requests) +
	       align8(sizeof(struct storvsc_lun) * cfg->max_luns) +
	       STORVSC_SCAN_BUF_SIZE + RX_BUF_SIZE;
}

int storvsc_init(void *mem, size_t mem_size, const struct storvsc_config *cfg,
		 struct storvsc **out)
{
	size_t need = storvsc_mem_size(cfg);
	struct storvsc *sc = mem;
	uint8_t *p = mem;
	unsigned int i;

	if (!need || !mem || !out || ((uintptr_t)mem & 7))
		return -EINVAL;
	if (mem_size < need)
		return -ENOSPC;
	memset(mem, 0, need);
	p += align8(sizeof(*sc));
	sc->reqs = (struct sc_req *)p;
	p += align8(sizeof(struct sc_req) * cfg->max_requests);
	sc->free_stack = (uint32_t *)p;
	p += align8(sizeof(uint32_t) * cfg->max_requests);
	sc->luns = (struct storvsc_lun *)p;
	p += align8(sizeof(struct storvsc_lun) * cfg->max_luns);
	sc->scan_buf = p;
	p += STORVSC_SCAN_BUF_SIZE;
	sc->rx_buf = p;

	if (cfg->log)
		sc->log = *cfg->log;
	sc->chans[0] = cfg->primary;
	sc->nchans = 1;
	sc->max_requests = cfg->max_requests;
	sc->max_luns = cfg->max_luns;
	sc->want_subch = cfg->subchannels;
	sc->max_version = cfg->max_version ? cfg->max_version : VMSTOR_PROTO_VERSION_WIN10;
	sc->virt_to_pfn = cfg->virt_to_pfn;
	sc->virt_ctx = cfg->virt_ctx;
	sc->events = cfg->events;
	sc->events_ctx = cfg->events_ctx;
	for (i = 0; i < cfg->max_requests; i++)
		sc->free_stack[i] = cfg->max_requests - 1 - i;
	sc->nfree = cfg->max_requests;
	*out = sc;
	return 0;
}

int storvsc_add_channel(struct storvsc *sc, struct vmbus_channel *ch)
{
	unsigned int i;

	if (!sc || !ch)
		return -EINVAL;
	for (i = 0; i < sc->nchans; i++)
		if (sc->chans[i] == ch)
			return -EEXIST;
	if (sc->nchans >= STORVSC_MAX_CHANNELS)
		return -ENOSPC;
	sc->chans[sc->nchans++] = ch;
	return 0;
}

bool storvsc_ready(const struct storvsc *sc)
{
	return sc && sc->ready;
}

uint16_t storvsc_version(const struct storvsc *sc)
{
	return sc ? sc->version : 0;
}

uint32_t storvsc_max_transfer(const struct storvsc *sc)
{
	return sc ? sc->max_transfer : 0;
}

unsigned int storvsc_host_subchannels(const struct storvsc *sc)
{
	return sc && sc->multichannel ? sc->host_subch : 0;
}

unsigned int storvsc_subchannels_created(const struct storvsc *sc)
{
	return sc ? sc->subch_created : 0;
}

unsigned int storvsc_lun_count(const struct storvsc *sc)
{
	return sc ? sc->nluns : 0;
}

int storvsc_lun_info(const struct storvsc *sc, unsigned int idx,
		     struct storvsc_lun *out)
{
	if (!sc || !out || idx >= sc->nluns)
		return -ENOENT;
	*out = sc->luns[idx];
	return 0;
}

unsigned int storvsc_in_flight(const struct storvsc *sc)
{
	return sc ? sc->max_requests - sc->nfree : 0;
}

/* ---- Sense ---------------------------------------------------------------------- */

enum storvsc_error storvsc_decode_sense(const uint8_t *sense, size_t len,
					uint8_t *key, uint8_t *asc, uint8_t *ascq)
{
	uint8_t k = 0, a = 0, q = 0, code;

	if (sense && len >= 1) {
		code = sense[0] & 0x7f;
		if ((code == 0x70 || code == 0x71) && len >= 3) {
			k = sense[SCSI_SENSE_OFF_KEY] & 0x0f;
			if (len > SCSI_SENSE_OFF_ASCQ) {
				a = sense[SCSI_SENSE_OFF_ASC];
				q = sense[SCSI_SENSE_OFF_ASCQ];
			}
		} else if ((code == 0x72 || code == 0x73) && len >= 4) {
			k = sense[1] & 0x0f;
			a = sense[2];
			q = sense[3];
		}
	}
	if (key)
		*key = k;
	if (asc)
		*asc = a;
	if (ascq)
		*ascq = q;
	switch (k) {
	case SCSI_SENSE_NO_SENSE:
	case SCSI_SENSE_RECOVERED_ERROR:
		return STORVSC_OK;
	case SCSI_SENSE_NOT_READY:
		return STORVSC_ERR_NOT_READY;
	case SCSI_SENSE_MEDIUM_ERROR:
	case SCSI_SENSE_HARDWARE_ERROR:
		return STORVSC_ERR_MEDIUM;
	case SCSI_SENSE_DATA_PROTECT:
		return STORVSC_ERR_WRITE_PROTECTED;
	case SCSI_SENSE_ILLEGAL_REQUEST:
		if (a == SCSI_ASC_LBA_OUT_OF_RANGE)
			return STORVSC_ERR_LBA_OUT_OF_RANGE;
		if (a == SCSI_ASC_LUN_NOT_SUPPORTED)
			return STORVSC_ERR_LUN_NOT_SUPPORTED;
		return STORVSC_ERR_ILLEGAL_REQUEST;
	case SCSI_SENSE_UNIT_ATTENTION:
		return STORVSC_ERR_UNIT_ATTENTION;
	case SCSI_SENSE_ABORTED_COMMAND:
		return STORVSC_ERR_ABORTED;
	default:
		return STORVSC_ERR_OTHER;
	}
}

/* Fill res from a COMPLETE_IO (already copied, at least a full packet). */
static void decode_completion(const struct vstor_packet *p, uint32_t buflen,
			      struct storvsc_result *res)
{
	const struct vmscsi_request *s = &p->vm_srb;
	uint8_t srb = s->srb_status;
	uint32_t dtl = s->data_transfer_length;
	size_t slen = s->sense_info_length;
	enum storvsc_error e;

	res->vstor_status = p->status;
	res->scsi_status = s->scsi_status;
	res->srb_status = srb;
	if (SRB_STATUS(srb) == SRB_STATUS_SUCCESS && s->scsi_status == SCSI_STATUS_GOOD) {
		res->error = STORVSC_OK;
		res->transferred = dtl < buflen ? dtl : buflen;
		return;
	}
	/* As Linux: a failed command moved nothing unless the host says it
	 * overran. */
	if (SRB_STATUS(srb) == SRB_STATUS_DATA_OVERRUN)
		res->transferred = dtl < buflen ? dtl : buflen;
	if (slen > VMSCSI_SENSE_BUFFER_SIZE)
		slen = VMSCSI_SENSE_BUFFER_SIZE;
	if (s->scsi_status == SCSI_STATUS_CHECK_CONDITION &&
	    (srb & SRB_STATUS_AUTOSENSE_VALID) && slen) {
		e = storvsc_decode_sense(s->sense_data, slen, &res->sense_key,
					 &res->asc, &res->ascq);
		if (e != STORVSC_OK) {
			res->error = e;
			return;
		}
	}
	switch (SRB_STATUS(srb)) {
	case SRB_STATUS_INVALID_LUN:
	case SRB_STATUS_SELECTION_TIMEOUT:
		res->error = STORVSC_ERR_LUN_NOT_SUPPORTED;
		break;
	case SRB_STATUS_ABORTED:
	case SRB_STATUS_BUS_RESET:
		res->error = STORVSC_ERR_ABORTED;
		break;
	case SRB_STATUS_INVALID_REQUEST:
		res->error = STORVSC_ERR_ILLEGAL_REQUEST;
		break;
	default:
		res->error = STORVSC_ERR_OTHER;
		break;
	}
}

/* ---- Sending SRBs ------------------------------------------------------------------ */

static struct sc_req *req_get(struct storvsc *sc)
{
	struct sc_req *r;

	if (!sc->nfree)
		return NULL;
	r = &sc->reqs[sc->free_stack[--sc->nfree]];
	return r;
}

static void req_put(struct storvsc *sc, struct sc_req *r)
{
	r->kind = REQ_FREE;
	r->done = NULL;
	sc->free_stack[sc->nfree++] = (uint32_t)(r - sc->reqs);
}

/* Build the page list of a small buffer in the client's own memory. */
static uint32_t own_pages(struct storvsc *sc, const void *va, uint32_t len,
			  uint64_t *pfns, uint32_t *offset)
{
	uintptr_t a = (uintptr_t)va;
	uintptr_t first = a & ~(uintptr_t)(HV_PAGE_SIZE - 1);
	uint32_t n = 0;
	uintptr_t pg;

	*offset = (uint32_t)(a - first);
	for (pg = first; pg < a + len; pg += HV_PAGE_SIZE)
		pfns[n++] = sc->virt_to_pfn(sc->virt_ctx, (const void *)pg);
	return n;
}

/*
 * Send one EXECUTE_SRB for r: GPA-direct when there is data, in-band when
 * not (storvsc_do_io), on the next channel with room.
 */
static int send_srb(struct storvsc *sc, struct sc_req *r, unsigned int lun,
		    const uint8_t *cdb, unsigned int cdb_len, enum storvsc_dir dir,
		    const struct storvsc_buf *buf)
{
	struct vstor_packet p;
	struct vmscsi_request *s = &p.vm_srb;
	struct vmbus_ring_gpa range;
	unsigned int i;
	int ret = -EAGAIN;

	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_EXECUTE_SRB;
	p.flags = VSTOR_REQUEST_COMPLETION_FLAG;
	s->length = sizeof(struct vmscsi_request);
	s->lun = (uint8_t)lun;
	s->cdb_length = (uint8_t)cdb_len;
	s->sense_info_length = VMSCSI_SENSE_BUFFER_SIZE;
	memcpy(s->cdb, cdb, cdb_len);
	s->win8_extension.time_out_value = 60;
	s->win8_extension.srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER |
				      SRB_FLAGS_QUEUE_ACTION_ENABLE |
				      SRB_FLAGS_NO_QUEUE_FREEZE;
	s->win8_extension.queue_tag = SP_UNTAGGED;
	s->win8_extension.queue_action = SRB_SIMPLE_TAG_REQUEST;
	switch (dir) {
	case STORVSC_DIR_OUT:
		s->data_in = VSTOR_DATA_OUT;
		s->win8_extension.srb_flags |= SRB_FLAGS_DATA_OUT;
		break;
	case STORVSC_DIR_IN:
		s->data_in = VSTOR_DATA_IN;
		s->win8_extension.srb_flags |= SRB_FLAGS_DATA_IN;
		break;
	default:
		s->data_in = VSTOR_DATA_UNKNOWN;
		break;
	}
	r->cdb0 = cdb[0];
	r->len = dir == STORVSC_DIR_NONE ? 0 : buf->len;
	s->data_transfer_length = r->len;
	if (r->len) {
		range.byte_count = buf->len;
		range.byte_offset = buf->offset;
		range.pfns = buf->pfns;
	}
	for (i = 0; i < sc->nchans; i++) {
		struct vmbus_channel *ch = sc->chans[(sc->rr + i) % sc->nchans];

		if (r->len)
			ret = vmbus_channel_send_request_gpa(ch, &range, 1, &p, sizeof(p),
							     r, NULL);
		else
			ret = vmbus_channel_send_request(ch, &p, sizeof(p), r, NULL);
		/* Full ring or no request slot there: try the next channel. */
		if (ret != -EAGAIN && ret != -ENOBUFS)
			break;
	}
	sc->rr = (sc->rr + 1) % sc->nchans;
	if (ret == -ENOBUFS)
		ret = -EAGAIN;
	return ret;
}

static bool buf_ok(const struct storvsc_buf *b)
{
	return b && b->pfns && b->len && b->offset < HV_PAGE_SIZE;
}

static int submit(struct storvsc *sc, enum req_kind kind, unsigned int lun,
		  const uint8_t *cdb, unsigned int cdb_len, enum storvsc_dir dir,
		  const struct storvsc_buf *buf, storvsc_io_done_fn *done, void *arg)
{
	struct sc_req *r;
	int ret;

	if (dir != STORVSC_DIR_NONE && !buf_ok(buf))
		return -EINVAL;
	if (dir != STORVSC_DIR_NONE && buf->len > sc->max_transfer)
		return -E2BIG;
	r = req_get(sc);
	if (!r)
		return -EAGAIN;
	r->kind = (uint8_t)kind;
	r->done = done;
	r->arg = arg;
	ret = send_srb(sc, r, lun, cdb, cdb_len, dir, buf);
	if (ret)
		req_put(sc, r);
	return ret;
}

static const struct storvsc_lun *find_lun(const struct storvsc *sc, unsigned int lun)
{
	unsigned int i;

	for (i = 0; i < sc->nluns; i++)
		if (sc->luns[i].lun == lun && sc->luns[i].block_size)
			return &sc->luns[i];
	return NULL;
}

static int rw(struct storvsc *sc, bool write, unsigned int lun, uint64_t lba,
	      uint32_t blocks, const struct storvsc_buf *buf, bool fua,
	      storvsc_io_done_fn *done, void *arg)
{
	const struct storvsc_lun *l;
	uint8_t cdb[16];

	if (!sc || !sc->ready)
		return -ENOTCONN;
	l = find_lun(sc, lun);
	if (!l)
		return -ENODEV;
	if (!blocks || !buf_ok(buf) || lba + blocks < lba ||
	    (uint64_t)blocks * l->block_size != buf->len)
		return -EINVAL;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = write ? SCSI_OP_WRITE_16 : SCSI_OP_READ_16;
	if (write && fua)
		cdb[1] = SCSI_RW_FUA;
	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, blocks);
	return submit(sc, REQ_USER, lun, cdb, sizeof(cdb),
		      write ? STORVSC_DIR_OUT : STORVSC_DIR_IN, buf, done, arg);
}

int storvsc_read(struct storvsc *sc, unsigned int lun, uint64_t lba,
		 uint32_t blocks, const struct storvsc_buf *buf,
		 storvsc_io_done_fn *done, void *arg)
{
	return rw(sc, false, lun, lba, blocks, buf, false, done, arg);
}

int storvsc_write(struct storvsc *sc, unsigned int lun, uint64_t lba,
		  uint32_t blocks, const struct storvsc_buf *buf, bool fua,
		  storvsc_io_done_fn *done, void *arg)
{
	return rw(sc, true, lun, lba, blocks, buf, fua, done, arg);
}

int storvsc_flush(struct storvsc *sc, unsigned int lun,
		  storvsc_io_done_fn *done, void *arg)
{
	uint8_t cdb[10] = { SCSI_OP_SYNCHRONIZE_CACHE_10 };

	if (!sc || !sc->ready)
		return -ENOTCONN;
	if (!find_lun(sc, lun))
		return -ENODEV;
	return submit(sc, REQ_USER, lun, cdb, sizeof(cdb), STORVSC_DIR_NONE, NULL,
		      done, arg);
}

int storvsc_unmap(struct storvsc *sc, unsigned int lun, uint64_t lba,
		  uint32_t blocks, storvsc_io_done_fn *done, void *arg)
{
	uint8_t cdb[10] = { SCSI_OP_UNMAP };
	struct storvsc_buf b;
	uint64_t pfns[2];
	struct sc_req *r;
	int ret;

	if (!sc || !sc->ready)
		return -ENOTCONN;
	if (!find_lun(sc, lun))
		return -ENODEV;
	if (!blocks || lba + blocks < lba)
		return -EINVAL;
	r = req_get(sc);
	if (!r)
		return -EAGAIN;
	/* Parameter list: data length, block descriptor data length, then
	 * one descriptor {LBA, count, reserved} (SBC-3 5.28). */
	memset(r->param, 0, sizeof(r->param));
	put_be16(r->param, UNMAP_PARAM_LEN - 2);
	put_be16(r->param + 2, SCSI_UNMAP_DESCRIPTOR_LEN);
	put_be64(r->param + SCSI_UNMAP_HEADER_LEN, lba);
	put_be32(r->param + SCSI_UNMAP_HEADER_LEN + 8, blocks);
	put_be16(cdb + 7, UNMAP_PARAM_LEN);
	own_pages(sc, r->param, UNMAP_PARAM_LEN, pfns, &b.offset);
	b.pfns = pfns;
	b.len = UNMAP_PARAM_LEN;
	r->kind = REQ_USER;
	r->done = done;
	r->arg = arg;
	ret = send_srb(sc, r, lun, cdb, sizeof(cdb), STORVSC_DIR_OUT, &b);
	if (ret)
		req_put(sc, r);
	return ret;
}

int storvsc_scsi(struct storvsc *sc, unsigned int lun, const uint8_t *cdb,
		 unsigned int cdb_len, enum storvsc_dir dir,
		 const struct storvsc_buf *buf, storvsc_io_done_fn *done,
		 void *arg)
{
	if (!sc || !sc->ready)
		return -ENOTCONN;
	if (!cdb || !cdb_len || cdb_len > VMSCSI_CDB_SIZE || lun >= STORVSC_MAX_LUNS ||
	    dir > STORVSC_DIR_OUT)
		return -EINVAL;
	return submit(sc, REQ_USER, lun, cdb, cdb_len, dir, buf, done, arg);
}

/* ---- LUN scan ---------------------------------------------------------------------- */

static void scan_finish(struct storvsc *sc, int err)
{
	storvsc_done_fn *done = sc->scan_done;
	void *arg = sc->scan_arg;

	sc->scan = SCAN_IDLE;
	sc->scan_done = NULL;
	if (!err)
		sc->ready = true;
	if (done)
		done(arg, err);
}

/* One scan command on the internal buffer. */
static int scan_cmd(struct storvsc *sc, unsigned int lun, const uint8_t *cdb,
		    unsigned int cdb_len, uint32_t len)
{
	struct storvsc_buf b;
	uint64_t pfns[2];
	struct sc_req *r;
	int ret;

	r = req_get(sc);
	if (!r)
		return -EAGAIN;
	memset(sc->scan_buf, 0, len);
	own_pages(sc, sc->scan_buf, len, pfns, &b.offset);
	b.pfns = pfns;
	b.len = len;
	r->kind = REQ_SCAN;
	r->done = NULL;
	ret = send_srb(sc, r, lun, cdb, cdb_len, STORVSC_DIR_IN, &b);
	if (ret)
		req_put(sc, r);
	return ret;
}

static int scan_lun_step(struct storvsc *sc);

/* Ask the next LUN of the report for its INQUIRY data, or finish. */
static int scan_next_lun(struct storvsc *sc)
{
	uint8_t cdb[6] = { SCSI_OP_INQUIRY, 0, 0, 0, INQUIRY_LEN, 0 };

	if (sc->scan_pos >= sc->scan_nluns) {
		scan_finish(sc, 0);
		return 0;
	}
	memset(&sc->cur, 0, sizeof(sc->cur));
	sc->cur.lun = sc->scan_luns[sc->scan_pos];
	sc->scan = SCAN_INQUIRY;
	return scan_cmd(sc, sc->cur.lun, cdb, sizeof(cdb), INQUIRY_LEN);
}

static void copy_ascii(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : ' ';
	while (n && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static void scan_keep_lun(struct storvsc *sc)
{
	if (sc->nluns < sc->max_luns)
		sc->luns[sc->nluns++] = sc->cur;
	sc->scan_pos++;
}

static void scan_report(struct storvsc *sc, const struct storvsc_result *res)
{
	uint32_t n = res->transferred, list, i;
	const uint8_t *e;

	if (res->error != STORVSC_OK || n < SCSI_REPORT_LUNS_HDR_LEN) {
		scan_finish(sc, -EIO);
		return;
	}
	list = get_be32(sc->scan_buf);
	/* Trust neither the list length nor the transfer count alone. */
	if (list > n - SCSI_REPORT_LUNS_HDR_LEN)
		list = n - SCSI_REPORT_LUNS_HDR_LEN;
	sc->nluns = 0;
	sc->scan_nluns = 0;
	sc->scan_pos = 0;
	for (i = 0; i + SCSI_REPORT_LUNS_ENTRY_LEN <= list &&
		    sc->scan_nluns < STORVSC_MAX_LUNS; i += SCSI_REPORT_LUNS_ENTRY_LEN) {
		unsigned int lun;

		e = sc->scan_buf + SCSI_REPORT_LUNS_HDR_LEN + i;
		/* Peripheral (00b, bus 0) or flat (01b) addressing; a
		 * vmscsi_request can only name LUNs below 256. */
		if (e[0] == 0)
			lun = e[1];
		else if ((e[0] & 0xc0) == 0x40)
			lun = ((unsigned int)(e[0] & 0x3f) << 8) | e[1];
		else
			continue;
		if (lun < STORVSC_MAX_LUNS)
			sc->scan_luns[sc->scan_nluns++] = (uint8_t)lun;
	}
	if (scan_next_lun(sc))
		scan_finish(sc, -EIO);
}

static int scan_lun_step(struct storvsc *sc)
{
	uint8_t cap[16] = { SCSI_OP_SERVICE_ACTION_IN_16, SCSI_SAI_READ_CAPACITY_16 };
	uint8_t ms[6] = { SCSI_OP_MODE_SENSE_6, 0, SCSI_MODE_PAGE_ALL, 0, MODE_SENSE_LEN, 0 };

	if (sc->scan == SCAN_CAPACITY) {
		put_be32(cap + 10, SCSI_READ_CAP16_LEN);
		return scan_cmd(sc, sc->cur.lun, cap, sizeof(cap), SCSI_READ_CAP16_LEN);
	}
	return scan_cmd(sc, sc->cur.lun, ms, sizeof(ms), MODE_SENSE_LEN);
}

static void scan_reply(struct storvsc *sc, const struct storvsc_result *res)
{
	const uint8_t *b = sc->scan_buf;
	uint64_t last;
	uint32_t bs;

	switch (sc->scan) {
	case SCAN_REPORT_LUNS:
		scan_report(sc, res);
		return;
	case SCAN_INQUIRY:
		/* Only a connected LUN (qualifier 000b) is kept. */
		if (res->error != STORVSC_OK || res->transferred < INQUIRY_LEN ||
		    (b[0] >> 5) != 0) {
			sc->scan_pos++;
			break;
		}
		sc->cur.device_type = b[0] & 0x1f;
		copy_ascii(sc->cur.vendor, b + 8, 8);
		copy_ascii(sc->cur.product, b + 16, 16);
		if (sc->cur.device_type != SCSI_TYPE_DISK) {
			scan_keep_lun(sc);
			break;
		}
		sc->scan = SCAN_CAPACITY;
		if (scan_lun_step(sc))
			scan_finish(sc, -EIO);
		return;
	case SCAN_CAPACITY:
		last = get_be64(b);
		bs = get_be32(b + 8);
		/* A block size that is no power of two in 512..64K, or a
		 * capacity that wraps, is not a disk we can address. */
		if (res->error != STORVSC_OK || res->transferred < 12 ||
		    last == UINT64_MAX || bs < 512 || bs > 65536 || (bs & (bs - 1))) {
			sc->scan_pos++;
			break;
		}
		sc->cur.blocks = last + 1;
		sc->cur.block_size = bs;
		sc->scan = SCAN_MODE_SENSE;
		if (scan_lun_step(sc))
			scan_finish(sc, -EIO);
		return;
	case SCAN_MODE_SENSE:
		if (res->error == STORVSC_OK && res->transferred >= 3)
			sc->cur.read_only = (b[2] & SCSI_MODE_DSP_WP) != 0;
		scan_keep_lun(sc);
		break;
	default:
		return;
	}
	if (scan_next_lun(sc))
		scan_finish(sc, -EIO);
}

static int scan_begin(struct storvsc *sc)
{
	uint8_t cdb[12] = { SCSI_OP_REPORT_LUNS };
	uint32_t len = SCSI_REPORT_LUNS_HDR_LEN +
		       STORVSC_MAX_LUNS * SCSI_REPORT_LUNS_ENTRY_LEN;

	put_be32(cdb + 6, len);
	sc->scan = SCAN_REPORT_LUNS;
	return scan_cmd(sc, 0, cdb, sizeof(cdb), len);
}

int storvsc_rescan(struct storvsc *sc, storvsc_done_fn *done, void *arg)
{
	int ret;

	if (!sc)
		return -EINVAL;
	if (!sc->ready)
		return -ENOTCONN;
	if (sc->scan != SCAN_IDLE)
		return -EBUSY;
	sc->scan_done = done;
	sc->scan_arg = arg;
	ret = scan_begin(sc);
	if (ret) {
		sc->scan = SCAN_IDLE;
		sc->scan_done = NULL;
	}
	return ret;
}

/* ---- Handshake ------------------------------------------------------------------------ */

static void start_finish(struct storvsc *sc, int err)
{
	storvsc_done_fn *done = sc->start_done;
	void *arg = sc->start_arg;

	sc->ctl = CTL_IDLE;
	if (err) {
		vmbus_logf(&sc->log, VMBUS_LOG_ERR, "storvsc: initialization failed: %d", -err);
		sc->start_done = NULL;
		if (done)
			done(arg, err);
		return;
	}
	/* The scan's completion is the start's. */
	sc->scan_done = done;
	sc->scan_arg = arg;
	sc->start_done = NULL;
	err = scan_begin(sc);
	if (err) {
		sc->scan = SCAN_IDLE;
		sc->scan_done = NULL;
		if (done)
			done(arg, err);
	}
}

/* storvsc_execute_vstor_op: a full-size in-band packet, completion wanted. */
static int ctl_send(struct storvsc *sc, enum ctl_step step, uint32_t op,
		    const struct vstor_packet *tmpl)
{
	struct vstor_packet p;

	if (tmpl)
		p = *tmpl;
	else
		memset(&p, 0, sizeof(p));
	p.operation = op;
	p.flags = VSTOR_REQUEST_COMPLETION_FLAG;
	sc->ctl = step;
	return vmbus_channel_send_request(sc->chans[0], &p, sizeof(p),
					  &sc->ctl_cookie, NULL);
}

static int ctl_version(struct storvsc *sc)
{
	struct vstor_packet p;

	while (sc->ver_idx < NVERSIONS && versions[sc->ver_idx] > sc->max_version)
		sc->ver_idx++;
	if (sc->ver_idx >= NVERSIONS)
		return -ENOTSUP;
	memset(&p, 0, sizeof(p));
	p.version.major_minor = versions[sc->ver_idx];
	p.version.revision = 0;
	return ctl_send(sc, CTL_VERSION, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, &p);
}

/* After END_INITIALIZATION: subchannels as handle_multichannel_storage()
 * asks for them, or straight to the scan. */
static int ctl_after_end(struct storvsc *sc)
{
	struct vstor_packet p;
	unsigned int n = sc->want_subch;

	if (!sc->multichannel || !n || !sc->host_subch)
		return 1;
	if (n > sc->host_subch)
		n = sc->host_subch;
	memset(&p, 0, sizeof(p));
	p.sub_channel_count = (uint16_t)n;
	sc->subch_created = n;	/* confirmed by the reply */
	return ctl_send(sc, CTL_SUBCHANNELS, VSTOR_OPERATION_CREATE_SUB_CHANNELS, &p);
}

static void ctl_reply(struct storvsc *sc, const struct vmbus_channel_packet *pkt)
{
	struct vstor_packet p;
	int ret = 0;

	if (sc->ctl == CTL_IDLE)
		return;
	/* Linux drops shorter answers; failing the step beats waiting for a
	 * reply that will never come. */
	if (pkt->payload_len < sizeof(p)) {
		start_finish(sc, -EPROTO);
		return;
	}
	memcpy(&p, pkt->payload, sizeof(p));
	if (p.operation != VSTOR_OPERATION_COMPLETE_IO) {
		start_finish(sc, -EPROTO);
		return;
	}
	switch (sc->ctl) {
	case CTL_BEGIN:
		ret = p.status ? -EIO : ctl_version(sc);
		break;
	case CTL_VERSION:
		if (p.status) {
			sc->ver_idx++;
			ret = ctl_version(sc);
			break;
		}
		sc->version = versions[sc->ver_idx];
		ret = ctl_send(sc, CTL_PROPERTIES, VSTOR_OPERATION_QUERY_PROPERTIES, NULL);
		break;
	case CTL_PROPERTIES:
		if (p.status) {
			ret = -EIO;
			break;
		}
		/* Linux rounds down to whole pages and refuses nothing; a
		 * host that allows no page at all is unusable. */
		sc->max_transfer = p.storage_channel_properties.max_transfer_bytes &
				   ~(HV_PAGE_SIZE - 1);
		if (!sc->max_transfer) {
			ret = -EPROTO;
			break;
		}
		sc->multichannel = sc->version >= VMSTOR_PROTO_VERSION_WIN8 &&
				   (p.storage_channel_properties.flags &
				    VSTOR_PROPERTIES_MULTI_CHANNEL);
		sc->host_subch = p.storage_channel_properties.max_channel_cnt;
		ret = ctl_send(sc, CTL_END, VSTOR_OPERATION_END_INITIALIZATION, NULL);
		break;
	case CTL_END:
		if (p.status) {
			ret = -EIO;
			break;
		}
		ret = ctl_after_end(sc);
		if (ret == 1) {
			start_finish(sc, 0);
			return;
		}
		break;
	case CTL_SUBCHANNELS:
		if (p.status) {
			vmbus_logf(&sc->log, VMBUS_LOG_WARN,
				   "storvsc: host refused %u subchannels (status %#x)",
				   sc->subch_created, p.status);
			sc->subch_created = 0;
		}
		start_finish(sc, 0);
		return;
	default:
		return;
	}
	if (ret)
		start_finish(sc, ret);
}

int storvsc_start(struct storvsc *sc, storvsc_done_fn *done, void *arg)
{
	int ret;

	if (!sc)
		return -EINVAL;
	if (sc->started)
		return -EALREADY;
	sc->start_done = done;
	sc->start_arg = arg;
	ret = ctl_send(sc, CTL_BEGIN, VSTOR_OPERATION_BEGIN_INITIALIZATION, NULL);
	if (ret) {
		sc->ctl = CTL_IDLE;
		sc->start_done = NULL;
		return ret;
	}
	sc->started = true;
	return 0;
}

/* ---- Receiving -------------------------------------------------------------------------- */

static void srb_reply(struct storvsc *sc, struct sc_req *r,
		      const struct vmbus_channel_packet *pkt)
{
	struct storvsc_result res;
	struct vstor_packet p;
	storvsc_io_done_fn *done = r->done;
	void *arg = r->arg;
	uint8_t kind = r->kind;

	memset(&res, 0, sizeof(res));
	if (pkt->payload_len < sizeof(p)) {
		res.error = STORVSC_ERR_OTHER;
	} else {
		memcpy(&p, pkt->payload, sizeof(p));
		if (p.operation != VSTOR_OPERATION_COMPLETE_IO) {
			res.error = STORVSC_ERR_OTHER;
			res.vstor_status = p.status;
		} else {
			decode_completion(&p, r->len, &res);
		}
	}
	req_put(sc, r);
	if (kind == REQ_SCAN)
		scan_reply(sc, &res);
	else if (done)
		done(arg, &res);
}

static int on_packet(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct storvsc *sc = ctx;
	uint32_t op;
	struct sc_req *r;

	if (pkt->type == VM_PKT_COMP) {
		if (pkt->comp_status)
			return 0;	/* unknown transaction: dropped */
		if (pkt->cookie == &sc->ctl_cookie) {
			ctl_reply(sc, pkt);
			return 0;
		}
		r = pkt->cookie;
		if (r >= sc->reqs && r < sc->reqs + sc->max_requests && r->kind != REQ_FREE)
			srb_reply(sc, r, pkt);
		return 0;
	}
	/* Hyper-V's unsolicited packets carry transaction id 0. */
	if (pkt->trans_id != 0 || pkt->payload_len < sizeof(op))
		return 0;
	memcpy(&op, pkt->payload, sizeof(op));
	if ((op == VSTOR_OPERATION_ENUMERATE_BUS || op == VSTOR_OPERATION_REMOVE_DEVICE) &&
	    sc->events && sc->events->rescan)
		sc->events->rescan(sc->events_ctx);
	return 0;
}

int storvsc_process(struct storvsc *sc)
{
	unsigned int i;
	int total = 0, n, err = 0;

	if (!sc)
		return -EINVAL;
	/* Requests the completion callbacks send go out together, with one
	 * signal per channel at the end rather than one each time the host
	 * has emptied the ring in between. */
	for (i = 0; i < sc->nchans; i++)
		vmbus_channel_send_batch_begin(sc->chans[i]);
	for (i = 0; i < sc->nchans; i++) {
		n = vmbus_channel_process(sc->chans[i], sc->rx_buf, RX_BUF_SIZE, 0,
					  on_packet, sc);
		if (n < 0) {
			if (!err)
				err = n;
			vmbus_logf(&sc->log, VMBUS_LOG_ERR,
				   "storvsc: channel %u failed: %d", i, -n);
			continue;
		}
		total += n;
	}
	for (i = 0; i < sc->nchans; i++)
		vmbus_channel_send_batch_end(sc->chans[i]);
	return err ? err : total;
}
