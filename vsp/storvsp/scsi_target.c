/* SPDX-License-Identifier: MIT */
/*
 * SCSI target for storvsp: CDB decoding and validation, emulated commands
 * (INQUIRY and VPD pages, READ CAPACITY, MODE SENSE/SELECT, REPORT LUNS,
 * REQUEST SENSE, UNMAP, WRITE SAME) and block I/O through a disk ops table.
 *
 * Formats: T10 SPC-4 / SBC-3 (fixed sense data, VPD 00h/80h/83h/B0h/B1h/B2h,
 * READ CAPACITY 10/16, mode parameter headers, block descriptors and the
 * caching page, REPORT LUNS, UNMAP parameter list); the command set and the
 * answers to odd cases follow OpenVMM vm/devices/storage/scsidisk and
 * storvsp. See include/vmbus/scsi_target.h for the API and the policy on
 * hostile lengths.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/scsi_target.h>

/* WRITE SAME without UNMAP writes block by block; cap it like OpenVMM. */
#define MAX_WRITE_SAME_BYTES	(8u * 1024u * 1024u)
/* Blocks handed to one write call while replicating a WRITE SAME block. */
#define WRITE_SAME_BATCH	64u

struct scsi_lun {
	struct scsi_disk_ops ops;
	void *ctx;
	uint64_t blocks;
	uint32_t block_size;
	uint32_t max_blocks;		/* per READ/WRITE */
	uint32_t max_ws_blocks;		/* per WRITE SAME without UNMAP */
	bool read_only;
	char vendor[8];
	char product[16];
	char revision[4];
	char serial[SCSI_TARGET_SERIAL_MAX];
	uint8_t serial_len;
	uint64_t naa;

	/* Mutable state shared by concurrent commands. */
	pthread_mutex_t lock;
	bool wce;			/* write cache enabled */
	bool sense_valid;
	uint8_t sense[SCSI_SENSE_FIXED_LEN];
};

struct scsi_target {
	struct vmbus_log log;
	struct scsi_lun *luns[SCSI_TARGET_MAX_LUNS];
};

/* ---- Byte helpers ----------------------------------------------------------- */

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
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

/* Space-padded copy of a configured string into a fixed T10 field. */
static void pad_copy(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : ' ';
	for (; i < n; i++)
		dst[i] = ' ';
}

/* ---- Results ------------------------------------------------------------------ */

static void res_good(struct scsi_result *res, size_t xfer, size_t data_len)
{
	memset(res, 0, sizeof(*res));
	res->status = SCSI_STATUS_GOOD;
	res->srb_status = SRB_STATUS_SUCCESS;
	res->transferred = xfer;
	res->residual = data_len - xfer;
}

static void build_sense(uint8_t *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(s, 0, SCSI_SENSE_FIXED_LEN);
	s[SCSI_SENSE_OFF_RESPONSE] = SCSI_SENSE_RESPONSE_FIXED;
	s[SCSI_SENSE_OFF_KEY] = key & 0x0f;
	s[SCSI_SENSE_OFF_ADD_LEN] = SCSI_SENSE_FIXED_LEN - 8;
	s[SCSI_SENSE_OFF_ASC] = asc;
	s[SCSI_SENSE_OFF_ASCQ] = ascq;
}

static void res_check(struct scsi_result *res, size_t data_len, uint8_t srb,
		      uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(res, 0, sizeof(*res));
	res->status = SCSI_STATUS_CHECK_CONDITION;
	res->srb_status = srb | SRB_STATUS_AUTOSENSE_VALID;
	res->sense_len = SCSI_SENSE_FIXED_LEN;
	build_sense(res->sense, key, asc, ascq);
	res->residual = data_len;
}

static void res_illegal(struct scsi_result *res, size_t data_len, uint8_t asc)
{
	res_check(res, data_len, SRB_STATUS_INVALID_REQUEST,
		  SCSI_SENSE_ILLEGAL_REQUEST, asc, 0);
}

static void res_bad_cdb(struct scsi_result *res, size_t data_len)
{
	res_illegal(res, data_len, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

static void res_no_lun(struct scsi_result *res, size_t data_len)
{
	res_check(res, data_len, SRB_STATUS_INVALID_LUN, SCSI_SENSE_ILLEGAL_REQUEST,
		  SCSI_ASC_LUN_NOT_SUPPORTED, 0);
}

static void res_write_protected(struct scsi_result *res, size_t data_len)
{
	res_check(res, data_len, SRB_STATUS_ERROR, SCSI_SENSE_DATA_PROTECT,
		  SCSI_ASC_WRITE_PROTECTED, 0);
}

static void res_io_error(struct scsi_result *res, size_t data_len, bool read, int err)
{
	if (err == -EROFS) {
		res_write_protected(res, data_len);
		return;
	}
	res_check(res, data_len, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR,
		  read ? SCSI_ASC_UNRECOVERED_READ_ERROR : SCSI_ASC_WRITE_ERROR, 0);
}

static void res_no_memory(struct scsi_result *res, size_t data_len)
{
	res_check(res, data_len, SRB_STATUS_ERROR, SCSI_SENSE_HARDWARE_ERROR,
		  SCSI_ASC_INTERNAL_TARGET_FAILURE, 0);
}

/* ---- LUN lookup and per-LUN state ------------------------------------------ */

static struct scsi_lun *lun_get(const struct scsi_target *t, unsigned int lun)
{
	if (lun >= SCSI_TARGET_MAX_LUNS)
		return NULL;
	return __atomic_load_n(&t->luns[lun], __ATOMIC_ACQUIRE);
}

/* Every final answer passes here: the LUN remembers the sense of its last
 * command for REQUEST SENSE, and a good answer clears it (OpenVMM does so). */
static void finish(struct scsi_target *t, unsigned int lun, const struct scsi_result *res)
{
	struct scsi_lun *l = lun_get(t, lun);

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->sense_valid = res->sense_len != 0;
	if (l->sense_valid)
		memcpy(l->sense, res->sense, SCSI_SENSE_FIXED_LEN);
	pthread_mutex_unlock(&l->lock);
}

static bool lun_wce(struct scsi_lun *l)
{
	bool wce;

	pthread_mutex_lock(&l->lock);
	wce = l->wce;
	pthread_mutex_unlock(&l->lock);
	return wce;
}

/* ---- Target and LUN management ----------------------------------------------- */

struct scsi_target *scsi_target_new(const struct vmbus_log *log)
{
	struct scsi_target *t = calloc(1, sizeof(*t));

	if (t && log)
		t->log = *log;
	return t;
}

static void lun_free(struct scsi_lun *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void scsi_target_free(struct scsi_target *t)
{
	unsigned int i;

	if (!t)
		return;
	for (i = 0; i < SCSI_TARGET_MAX_LUNS; i++)
		lun_free(t->luns[i]);
	free(t);
}

static int lun_init(struct scsi_lun *l, const struct scsi_disk_info *info,
		    const struct scsi_disk_ops *ops, void *ctx)
{
	uint32_t bs = info->block_size;
	uint32_t max = info->max_transfer ? info->max_transfer
					  : SCSI_TARGET_DEFAULT_MAX_TRANSFER;
	size_t n = 0;

	if ((bs != 512 && bs != 4096) || info->size == 0 || info->size % bs)
		return -EINVAL;
	if (max < bs)
		return -EINVAL;
	l->ops = *ops;
	l->ctx = ctx;
	l->block_size = bs;
	l->blocks = info->size / bs;
	l->max_blocks = max / bs;
	l->max_ws_blocks = MAX_WRITE_SAME_BYTES / bs;
	l->read_only = info->read_only;
	pad_copy(l->vendor, sizeof(l->vendor), info->vendor ? info->vendor : "Msft");
	pad_copy(l->product, sizeof(l->product),
		 info->product ? info->product : "Virtual Disk");
	pad_copy(l->revision, sizeof(l->revision), info->revision ? info->revision : "1.0");
	while (info->serial && info->serial[n] && n < sizeof(l->serial))
		n++;
	pad_copy(l->serial, n, info->serial);
	l->serial_len = (uint8_t)n;
	l->naa = info->naa;
	/* A disk with a volatile cache starts write-back; the initiator may
	 * switch it to write-through with MODE SELECT. */
	l->wce = ops->flush != NULL;
	return 0;
}

int scsi_target_add_lun(struct scsi_target *t, unsigned int lun,
			const struct scsi_disk_info *info,
			const struct scsi_disk_ops *ops, void *ctx)
{
	struct scsi_lun *l;
	int err;

	if (!t || !info || !ops || !ops->read || !ops->write || lun >= SCSI_TARGET_MAX_LUNS)
		return -EINVAL;
	if (t->luns[lun])
		return -EEXIST;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	err = lun_init(l, info, ops, ctx);
	if (err) {
		free(l);
		return err;
	}
	if (pthread_mutex_init(&l->lock, NULL)) {
		free(l);
		return -ENOMEM;
	}
	__atomic_store_n(&t->luns[lun], l, __ATOMIC_RELEASE);
	return 0;
}

int scsi_target_remove_lun(struct scsi_target *t, unsigned int lun)
{
	struct scsi_lun *l;

	if (!t || lun >= SCSI_TARGET_MAX_LUNS || !t->luns[lun])
		return -ENOENT;
	l = t->luns[lun];
	__atomic_store_n(&t->luns[lun], NULL, __ATOMIC_RELEASE);
	lun_free(l);
	return 0;
}

bool scsi_target_has_lun(const struct scsi_target *t, unsigned int lun)
{
	return t && lun_get(t, lun) != NULL;
}

/* ---- Decoding ------------------------------------------------------------------ */

/* Bytes a supported opcode's CDB occupies; 0 for an opcode we do not serve. */
static size_t cdb_len_for(uint8_t op)
{
	switch (op) {
	case SCSI_OP_TEST_UNIT_READY:
	case SCSI_OP_REQUEST_SENSE:
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
	case SCSI_OP_INQUIRY:
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SENSE_6:
	case SCSI_OP_START_STOP_UNIT:
		return 6;
	case SCSI_OP_READ_CAPACITY_10:
	case SCSI_OP_READ_10:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_UNMAP:
	case SCSI_OP_MODE_SELECT_10:
	case SCSI_OP_MODE_SENSE_10:
		return 10;
	case SCSI_OP_REPORT_LUNS:
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_VERIFY_12:
		return 12;
	case SCSI_OP_READ_16:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_VERIFY_16:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
	case SCSI_OP_WRITE_SAME_16:
	case SCSI_OP_SERVICE_ACTION_IN_16:
		return 16;
	default:
		return 0;
	}
}

/*
 * The command will move bytes in direction want. The initiator must have
 * declared at least that much buffer, in a compatible direction; otherwise
 * the command fails before any data moves.
 */
static bool want_buffer(const struct scsi_io_plan *p, struct scsi_result *res,
			enum scsi_dir want, uint64_t bytes)
{
	if (bytes == 0)
		return true;
	if (bytes > p->data_len || (p->dir != want && p->dir != SCSI_DIR_UNKNOWN)) {
		res_bad_cdb(res, p->data_len);
		return false;
	}
	return true;
}

/* lba..lba+blocks must lie inside the disk; lba itself always must. */
static bool range_ok(const struct scsi_lun *l, uint64_t lba, uint64_t blocks)
{
	return lba < l->blocks && blocks <= l->blocks - lba;
}

static int plan_done_good(struct scsi_io_plan *p, struct scsi_result *res)
{
	res_good(res, 0, p->data_len);
	p->op = SCSI_PLAN_DONE;
	return SCSI_PLAN_DONE;
}

static int plan_fail(struct scsi_io_plan *p)
{
	p->op = SCSI_PLAN_DONE;
	return SCSI_PLAN_DONE;
}

static int plan_emulate(struct scsi_io_plan *p, size_t xfer)
{
	p->op = SCSI_PLAN_EMULATE;
	p->xfer = xfer;
	return SCSI_PLAN_EMULATE;
}

struct rw_fields {
	uint64_t lba;
	uint64_t blocks;
	uint8_t flags;
	bool write;
};

/* Pull LBA, length and flags out of a READ/WRITE CDB of any size. */
static bool rw_fields(const uint8_t *c, struct rw_fields *f)
{
	f->flags = c[1];
	switch (c[0]) {
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
		f->flags = 0;
		f->lba = get_be24(c + 1) & 0x1fffff;
		/* A zero transfer length means 256 blocks in the 6-byte CDB. */
		f->blocks = c[4] ? c[4] : 256;
		f->write = c[0] == SCSI_OP_WRITE_6;
		return true;
	case SCSI_OP_READ_10:
	case SCSI_OP_WRITE_10:
		f->lba = get_be32(c + 2);
		f->blocks = get_be16(c + 7);
		f->write = c[0] == SCSI_OP_WRITE_10;
		break;
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
		f->lba = get_be32(c + 2);
		f->blocks = get_be32(c + 6);
		f->write = c[0] == SCSI_OP_WRITE_12;
		break;
	default:
		f->lba = get_be64(c + 2);
		f->blocks = get_be32(c + 10);
		f->write = c[0] == SCSI_OP_WRITE_16;
		/* bit 0 is DLD2 in the 16-byte CDB, not RELADR */
		return !(f->flags & SCSI_RW_PROTECT_MASK);
	}
	/* No protection information, no relative addressing. */
	return !(f->flags & (SCSI_RW_PROTECT_MASK | SCSI_RW_RELADR));
}

static int decode_rw(struct scsi_lun *l, struct scsi_io_plan *p, struct scsi_result *res)
{
	struct rw_fields f;

	if (!rw_fields(p->cdb, &f)) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!range_ok(l, f.lba, f.blocks)) {
		res_illegal(res, p->data_len, SCSI_ASC_LBA_OUT_OF_RANGE);
		return plan_fail(p);
	}
	if (f.blocks > l->max_blocks) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!want_buffer(p, res, f.write ? SCSI_DIR_OUT : SCSI_DIR_IN,
			 f.blocks * l->block_size))
		return plan_fail(p);
	if (f.write && l->read_only) {
		res_write_protected(res, p->data_len);
		return plan_fail(p);
	}
	if (f.blocks == 0)
		return plan_done_good(p, res);
	p->lba = f.lba;
	p->blocks = f.blocks;
	p->offset = f.lba * l->block_size;
	p->len = f.blocks * l->block_size;
	p->xfer = (size_t)p->len;
	if (f.write) {
		p->fua = (f.flags & SCSI_RW_FUA) || (l->ops.flush && !lun_wce(l));
		p->op = SCSI_PLAN_WRITE;
	} else {
		p->op = SCSI_PLAN_READ;
	}
	return p->op;
}

static int decode_verify(struct scsi_lun *l, struct scsi_io_plan *p, struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint8_t bad = SCSI_RW_PROTECT_MASK | SCSI_VERIFY_BYTCHK_MASK;
	uint64_t lba, blocks;

	if (c[0] == SCSI_OP_VERIFY_16) {
		lba = get_be64(c + 2);
		blocks = get_be32(c + 10);
	} else {
		lba = get_be32(c + 2);
		blocks = c[0] == SCSI_OP_VERIFY_10 ? get_be16(c + 7) : get_be32(c + 6);
		bad |= SCSI_RW_RELADR;
	}
	/* Only BYTCHK=0 (check the medium, no data compared) is served. */
	if (c[1] & bad) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!range_ok(l, lba, blocks)) {
		res_illegal(res, p->data_len, SCSI_ASC_LBA_OUT_OF_RANGE);
		return plan_fail(p);
	}
	return plan_done_good(p, res);
}

static int decode_sync_cache(struct scsi_lun *l, struct scsi_io_plan *p,
			     struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint64_t lba, blocks;

	if (c[0] == SCSI_OP_SYNCHRONIZE_CACHE_16) {
		lba = get_be64(c + 2);
		blocks = get_be32(c + 10);
	} else {
		lba = get_be32(c + 2);
		blocks = get_be16(c + 7);
	}
	/* zero blocks means "to the end of the disk" */
	if (!range_ok(l, lba, blocks)) {
		res_illegal(res, p->data_len, SCSI_ASC_LBA_OUT_OF_RANGE);
		return plan_fail(p);
	}
	if (!l->ops.flush)
		return plan_done_good(p, res);
	p->op = SCSI_PLAN_FLUSH;
	return SCSI_PLAN_FLUSH;
}

static int decode_write_same(struct scsi_lun *l, struct scsi_io_plan *p,
			     struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint8_t bad = SCSI_RW_PROTECT_MASK | SCSI_WS_ANCHOR | 0x01;
	uint64_t lba, blocks;
	bool unmap = c[1] & SCSI_WS_UNMAP;

	if (c[0] == SCSI_OP_WRITE_SAME_16) {
		lba = get_be64(c + 2);
		blocks = get_be32(c + 10);
	} else {
		lba = get_be32(c + 2);
		blocks = get_be16(c + 7);
	}
	/* VPD B0h sets WSNZ, so a zero length is not "to the end". Without a
	 * discard op, UNMAP is not advertised (LBPWS=0) and is refused. */
	if ((c[1] & bad) || blocks == 0 || (unmap && !l->ops.discard)) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!range_ok(l, lba, blocks)) {
		res_illegal(res, p->data_len, SCSI_ASC_LBA_OUT_OF_RANGE);
		return plan_fail(p);
	}
	if (!unmap && blocks > l->max_ws_blocks) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!want_buffer(p, res, SCSI_DIR_OUT, l->block_size))
		return plan_fail(p);
	if (l->read_only) {
		res_write_protected(res, p->data_len);
		return plan_fail(p);
	}
	p->lba = lba;
	p->blocks = blocks;
	p->offset = lba * l->block_size;
	p->len = blocks * l->block_size;
	p->xfer = l->block_size;
	if (unmap) {
		p->op = SCSI_PLAN_DISCARD;
		return SCSI_PLAN_DISCARD;
	}
	p->fua = l->ops.flush && !lun_wce(l);
	p->op = SCSI_PLAN_EMULATE;
	return SCSI_PLAN_EMULATE;
}

static int decode_unmap(struct scsi_lun *l, struct scsi_io_plan *p, struct scsi_result *res)
{
	uint16_t plen = get_be16(p->cdb + 7);

	if (!l->ops.discard) {
		res_illegal(res, p->data_len, SCSI_ASC_INVALID_OPCODE);
		return plan_fail(p);
	}
	if (p->cdb[1] & 0x01) {		/* ANCHOR */
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (plen == 0)
		return plan_done_good(p, res);
	if (!want_buffer(p, res, SCSI_DIR_OUT, plen))
		return plan_fail(p);
	if (l->read_only) {
		res_write_protected(res, p->data_len);
		return plan_fail(p);
	}
	return plan_emulate(p, plen);
}

static int decode_inquiry(struct scsi_lun *l, struct scsi_io_plan *p, struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint16_t alloc = get_be16(c + 3);
	bool evpd = c[1] & SCSI_INQ_EVPD;

	if ((c[1] & ~SCSI_INQ_EVPD) || (!evpd && c[2] != 0)) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (evpd) {
		if (!l) {
			res_no_lun(res, p->data_len);
			return plan_fail(p);
		}
		switch (c[2]) {
		case SCSI_VPD_SUPPORTED_PAGES:
		case SCSI_VPD_UNIT_SERIAL:
		case SCSI_VPD_DEVICE_ID:
		case SCSI_VPD_BLOCK_LIMITS:
		case SCSI_VPD_BLOCK_DEV_CHARS:
		case SCSI_VPD_LB_PROVISIONING:
			break;
		default:
			res_bad_cdb(res, p->data_len);
			return plan_fail(p);
		}
	}
	if (!want_buffer(p, res, SCSI_DIR_IN, alloc))
		return plan_fail(p);
	return plan_emulate(p, alloc);
}

static int decode_mode_sense(struct scsi_io_plan *p, struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint8_t pc = c[2] >> 6, page = c[2] & 0x3f, subpage = c[3];
	uint16_t alloc = c[0] == SCSI_OP_MODE_SENSE_6 ? c[4] : get_be16(c + 7);

	if (pc == SCSI_MODE_PC_SAVED) {
		res_illegal(res, p->data_len, SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED);
		return plan_fail(p);
	}
	if ((page != SCSI_MODE_PAGE_CACHING && page != SCSI_MODE_PAGE_ALL) ||
	    (subpage != 0 && subpage != SCSI_MODE_SUBPAGE_ALL)) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!want_buffer(p, res, SCSI_DIR_IN, alloc))
		return plan_fail(p);
	return plan_emulate(p, alloc);
}

static int decode_mode_select(struct scsi_io_plan *p, struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint16_t plen = c[0] == SCSI_OP_MODE_SELECT_6 ? c[4] : get_be16(c + 7);

	/* Saved pages are not kept. */
	if (c[1] & SCSI_MODE_SP) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (plen == 0)
		return plan_done_good(p, res);
	if (!want_buffer(p, res, SCSI_DIR_OUT, plen))
		return plan_fail(p);
	return plan_emulate(p, plen);
}

static int decode_read_capacity(struct scsi_io_plan *p, struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	uint64_t want;

	if (c[0] == SCSI_OP_READ_CAPACITY_10) {
		/* With PMI clear the LBA field must be zero. */
		if (!(c[8] & 0x01) && get_be32(c + 2) != 0) {
			res_bad_cdb(res, p->data_len);
			return plan_fail(p);
		}
		want = SCSI_READ_CAP10_LEN;
	} else {
		if ((c[1] & 0x1f) != SCSI_SAI_READ_CAPACITY_16) {
			res_bad_cdb(res, p->data_len);
			return plan_fail(p);
		}
		want = get_be32(c + 10);
	}
	if (!want_buffer(p, res, SCSI_DIR_IN, want))
		return plan_fail(p);
	return plan_emulate(p, (size_t)want);
}

static int decode_report_luns(struct scsi_io_plan *p, struct scsi_result *res)
{
	uint32_t alloc = get_be32(p->cdb + 6);

	if (p->cdb[2] > 0x02 || alloc < SCSI_REPORT_LUNS_MIN_ALLOC) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!want_buffer(p, res, SCSI_DIR_IN, alloc))
		return plan_fail(p);
	return plan_emulate(p, alloc);
}

static int decode_request_sense(struct scsi_io_plan *p, struct scsi_result *res)
{
	/* Descriptor-format sense is not produced. */
	if (p->cdb[1] & 0x01) {
		res_bad_cdb(res, p->data_len);
		return plan_fail(p);
	}
	if (!want_buffer(p, res, SCSI_DIR_IN, p->cdb[4]))
		return plan_fail(p);
	return plan_emulate(p, p->cdb[4]);
}

static int decode_start_stop(struct scsi_lun *l, struct scsi_io_plan *p,
			     struct scsi_result *res)
{
	uint8_t b4 = p->cdb[4];

	/* Power conditions and start are no-ops; stop makes the cache durable. */
	if ((b4 & SCSI_SSU_POWER_COND_MASK) || (b4 & SCSI_SSU_START) || !l->ops.flush)
		return plan_done_good(p, res);
	p->op = SCSI_PLAN_FLUSH;
	return SCSI_PLAN_FLUSH;
}

static int decode_lun_cmd(struct scsi_lun *l, struct scsi_io_plan *p, struct scsi_result *res)
{
	switch (p->cdb[0]) {
	case SCSI_OP_TEST_UNIT_READY:
		return plan_done_good(p, res);
	case SCSI_OP_REQUEST_SENSE:
		return decode_request_sense(p, res);
	case SCSI_OP_INQUIRY:
		return decode_inquiry(l, p, res);
	case SCSI_OP_MODE_SENSE_6:
	case SCSI_OP_MODE_SENSE_10:
		return decode_mode_sense(p, res);
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SELECT_10:
		return decode_mode_select(p, res);
	case SCSI_OP_START_STOP_UNIT:
		return decode_start_stop(l, p, res);
	case SCSI_OP_READ_CAPACITY_10:
	case SCSI_OP_SERVICE_ACTION_IN_16:
		return decode_read_capacity(p, res);
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_VERIFY_12:
	case SCSI_OP_VERIFY_16:
		return decode_verify(l, p, res);
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
		return decode_sync_cache(l, p, res);
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_WRITE_SAME_16:
		return decode_write_same(l, p, res);
	case SCSI_OP_UNMAP:
		return decode_unmap(l, p, res);
	default:
		return decode_rw(l, p, res);
	}
}

int scsi_target_decode(struct scsi_target *t, unsigned int lun,
		       const uint8_t *cdb, size_t cdb_len, size_t data_len,
		       enum scsi_dir dir, struct scsi_io_plan *plan,
		       struct scsi_result *res)
{
	struct scsi_io_plan *p = plan;
	struct scsi_lun *l;
	size_t need;
	uint8_t op;
	int ret;

	if (!t || !cdb || !plan || !res)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->lun = lun;
	p->dir = dir;
	p->data_len = dir == SCSI_DIR_NONE ? 0 : data_len;
	l = lun_get(t, lun);

	if (cdb_len == 0 || cdb_len > SCSI_MAX_CDB_LEN) {
		res_bad_cdb(res, p->data_len);
		ret = plan_fail(p);
		goto out;
	}
	/* From here on only the private copy of the CDB is read. */
	memcpy(p->cdb, cdb, cdb_len);
	p->cdb_len = (uint8_t)cdb_len;
	op = p->cdb[0];
	need = cdb_len_for(op);

	/* A missing LUN still answers INQUIRY, REQUEST SENSE and REPORT LUNS. */
	if (!l && op != SCSI_OP_INQUIRY && op != SCSI_OP_REQUEST_SENSE &&
	    op != SCSI_OP_REPORT_LUNS) {
		res_no_lun(res, p->data_len);
		ret = plan_fail(p);
		goto out;
	}
	if (need == 0) {
		res_illegal(res, p->data_len, SCSI_ASC_INVALID_OPCODE);
		ret = plan_fail(p);
		goto out;
	}
	if (cdb_len < need) {
		res_bad_cdb(res, p->data_len);
		ret = plan_fail(p);
		goto out;
	}
	if (op == SCSI_OP_REPORT_LUNS)
		ret = decode_report_luns(p, res);
	else if (!l && op == SCSI_OP_INQUIRY)
		ret = decode_inquiry(NULL, p, res);
	else if (!l)
		ret = decode_request_sense(p, res);
	else
		ret = decode_lun_cmd(l, p, res);
out:
	if (ret == SCSI_PLAN_DONE)
		finish(t, lun, res);
	return ret;
}

/* ---- Buffer access ------------------------------------------------------------- */

struct iov_view {
	const struct iovec *iov;
	unsigned int cnt;
};

static struct iov_view iov_view_of(const struct scsi_data *d)
{
	struct iov_view v = { NULL, 0 };

	if (!d)
		return v;
	if (d->iov) {
		v.iov = d->iov;
		v.cnt = d->iovcnt;
	} else {
		v.iov = &d->flat;
		v.cnt = 1;
	}
	return v;
}

/* Does the list hold at least len bytes? Summed without overflow. */
static bool iov_covers(struct iov_view v, size_t len)
{
	size_t have = 0;
	unsigned int i;

	for (i = 0; i < v.cnt && have < len; i++) {
		if (v.iov[i].iov_len > len - have)
			return true;
		have += v.iov[i].iov_len;
	}
	return have >= len;
}

static void iov_write(struct iov_view v, const uint8_t *src, size_t len)
{
	unsigned int i;

	for (i = 0; i < v.cnt && len; i++) {
		size_t n = v.iov[i].iov_len < len ? v.iov[i].iov_len : len;

		memcpy(v.iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

static void iov_read(struct iov_view v, uint8_t *dst, size_t len)
{
	unsigned int i;

	for (i = 0; i < v.cnt && len; i++) {
		size_t n = v.iov[i].iov_len < len ? v.iov[i].iov_len : len;

		memcpy(dst, v.iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

/* Copy the initiator's bytes once into private memory before parsing. */
static uint8_t *iov_snapshot(struct iov_view v, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);

	if (buf)
		iov_read(v, buf, len);
	return buf;
}

/* Answer a data-in command: at most alloc bytes of the response. */
static void reply(const struct scsi_io_plan *p, struct iov_view v, struct scsi_result *res,
		  const uint8_t *data, size_t len)
{
	size_t n = len < p->xfer ? len : p->xfer;

	iov_write(v, data, n);
	res_good(res, n, p->data_len);
}

/* ---- Emulated commands ----------------------------------------------------------- */

static size_t inquiry_std(const struct scsi_lun *l, uint8_t *b)
{
	memset(b, 0, SCSI_INQ_STD_LEN);
	b[0] = l ? SCSI_TYPE_DISK : (SCSI_PQ_NOT_CONNECTABLE | SCSI_TYPE_NO_LUN);
	b[2] = SCSI_INQ_VERSION_SPC4;
	b[3] = SCSI_INQ_RESPONSE_FORMAT;
	b[4] = SCSI_INQ_STD_LEN - 5;
	if (!l)
		return SCSI_INQ_STD_LEN;
	b[7] = SCSI_INQ_CMDQUE;
	memcpy(b + 8, l->vendor, sizeof(l->vendor));
	memcpy(b + 16, l->product, sizeof(l->product));
	memcpy(b + 32, l->revision, sizeof(l->revision));
	return SCSI_INQ_STD_LEN;
}

static size_t vpd_device_id(const struct scsi_lun *l, uint8_t *b)
{
	size_t n = 4, idlen = 8 + 16 + l->serial_len;

	/* T10 vendor ID designator: vendor, product, serial (ASCII). */
	b[n++] = SCSI_CODESET_ASCII;
	b[n++] = SCSI_DESIG_T10_VENDOR_ID;
	b[n++] = 0;
	b[n++] = (uint8_t)idlen;
	memcpy(b + n, l->vendor, 8);
	memcpy(b + n + 8, l->product, 16);
	memcpy(b + n + 24, l->serial, l->serial_len);
	n += idlen;
	if (l->naa) {
		b[n++] = SCSI_CODESET_BINARY;
		b[n++] = SCSI_DESIG_NAA;
		b[n++] = 0;
		b[n++] = 8;
		put_be64(b + n, l->naa);
		n += 8;
	}
	put_be16(b + 2, (uint16_t)(n - 4));
	return n;
}

static size_t vpd_block_limits(const struct scsi_lun *l, uint8_t *b)
{
	memset(b, 0, SCSI_VPD_BLOCK_LIMITS_LEN);
	put_be16(b + 2, SCSI_VPD_BLOCK_LIMITS_LEN - 4);
	b[4] = 0x01;					/* WSNZ */
	put_be32(b + 8, l->max_blocks);			/* maximum transfer length */
	if (l->ops.discard) {
		put_be32(b + 20, 0xffffffffu);		/* maximum unmap LBA count */
		put_be32(b + 24, SCSI_TARGET_MAX_UNMAP_DESCRIPTORS);
		put_be32(b + 28, 1);			/* optimal unmap granularity */
		b[32] = 0x80;				/* UGAVALID, alignment 0 */
	}
	put_be64(b + 36, l->max_ws_blocks);		/* maximum write same length */
	return SCSI_VPD_BLOCK_LIMITS_LEN;
}

static size_t vpd_page(const struct scsi_lun *l, uint8_t page, uint8_t *b)
{
	static const uint8_t pages[] = {
		SCSI_VPD_SUPPORTED_PAGES, SCSI_VPD_UNIT_SERIAL, SCSI_VPD_DEVICE_ID,
		SCSI_VPD_BLOCK_LIMITS, SCSI_VPD_BLOCK_DEV_CHARS, SCSI_VPD_LB_PROVISIONING,
	};
	size_t n;

	memset(b, 0, 4);
	b[0] = SCSI_TYPE_DISK;
	b[1] = page;
	switch (page) {
	case SCSI_VPD_SUPPORTED_PAGES:
		memcpy(b + 4, pages, sizeof(pages));
		n = 4 + sizeof(pages);
		break;
	case SCSI_VPD_UNIT_SERIAL:
		memcpy(b + 4, l->serial, l->serial_len);
		n = 4 + l->serial_len;
		break;
	case SCSI_VPD_DEVICE_ID:
		return vpd_device_id(l, b);
	case SCSI_VPD_BLOCK_LIMITS:
		n = vpd_block_limits(l, b);
		break;
	case SCSI_VPD_BLOCK_DEV_CHARS:
		n = SCSI_VPD_BLOCK_DEV_CHARS_LEN;
		memset(b + 4, 0, n - 4);
		put_be16(b + 4, 1);			/* non-rotating medium */
		break;
	default:				/* SCSI_VPD_LB_PROVISIONING */
		n = SCSI_VPD_LB_PROVISIONING_LEN;
		memset(b + 4, 0, n - 4);
		if (l->ops.discard) {
			b[5] = SCSI_VPD_LBPU | SCSI_VPD_LBPWS | SCSI_VPD_LBPWS10;
			b[6] = SCSI_PROVISIONING_THIN;
		}
		break;
	}
	b[1] = page;
	put_be16(b + 2, (uint16_t)(n - 4));
	return n;
}

static void exec_inquiry(const struct scsi_lun *l, const struct scsi_io_plan *p,
			 struct iov_view v, struct scsi_result *res)
{
	uint8_t b[256];
	size_t n;

	if ((p->cdb[1] & SCSI_INQ_EVPD) && !l) {
		res_no_lun(res, p->data_len);
		return;
	}
	if (p->cdb[1] & SCSI_INQ_EVPD)
		n = vpd_page(l, p->cdb[2], b);
	else
		n = inquiry_std(l, b);
	reply(p, v, res, b, n);
}

static void exec_read_capacity(const struct scsi_lun *l, const struct scsi_io_plan *p,
			       struct iov_view v, struct scsi_result *res)
{
	uint8_t b[SCSI_READ_CAP16_LEN];
	uint64_t last = l->blocks - 1;

	memset(b, 0, sizeof(b));
	if (p->cdb[0] == SCSI_OP_READ_CAPACITY_10) {
		/* 0xffffffff sends the initiator to READ CAPACITY(16). */
		put_be32(b, last > 0xfffffffeull ? 0xffffffffu : (uint32_t)last);
		put_be32(b + 4, l->block_size);
		reply(p, v, res, b, SCSI_READ_CAP10_LEN);
		return;
	}
	put_be64(b, last);
	put_be32(b + 8, l->block_size);
	if (l->ops.discard)
		b[14] = SCSI_READ_CAP16_LBPME;
	reply(p, v, res, b, SCSI_READ_CAP16_LEN);
}

static void exec_mode_sense(struct scsi_lun *l, const struct scsi_io_plan *p,
			    struct iov_view v, struct scsi_result *res)
{
	const uint8_t *c = p->cdb;
	bool ten = c[0] == SCSI_OP_MODE_SENSE_10;
	bool dbd = c[1] & SCSI_MODE_DBD;
	bool llba = ten && (c[1] & SCSI_MODE_LLBAA);
	uint8_t pc = c[2] >> 6;
	size_t hdr = ten ? SCSI_MODE_HDR10_LEN : SCSI_MODE_HDR6_LEN;
	size_t bdl = dbd ? 0 : llba ? SCSI_MODE_LONG_BLOCK_DESC_LEN : SCSI_MODE_BLOCK_DESC_LEN;
	uint8_t b[SCSI_MODE_HDR10_LEN + SCSI_MODE_LONG_BLOCK_DESC_LEN + SCSI_MODE_CACHING_LEN];
	uint8_t dsp = SCSI_MODE_DSP_DPOFUA | (l->read_only ? SCSI_MODE_DSP_WP : 0);
	uint8_t *bd = b + hdr, *pg = b + hdr + bdl;
	size_t total = hdr + bdl + SCSI_MODE_CACHING_LEN;
	bool wce;

	memset(b, 0, sizeof(b));
	if (ten) {
		put_be16(b, (uint16_t)(total - 2));
		b[3] = dsp;
		b[4] = llba ? SCSI_MODE_HDR10_LONGLBA : 0;
		put_be16(b + 6, (uint16_t)bdl);
	} else {
		b[0] = (uint8_t)(total - 1);
		b[2] = dsp;
		b[3] = (uint8_t)bdl;
	}
	/* The changeable-values mask has nothing changeable in the descriptor. */
	if (bdl && pc != SCSI_MODE_PC_CHANGEABLE) {
		if (llba) {
			put_be64(bd, l->blocks);
			put_be32(bd + 12, l->block_size);
		} else {
			put_be32(bd, l->blocks > 0xffffffffull ? 0xffffffffu
							      : (uint32_t)l->blocks);
			put_be32(bd + 4, l->block_size);	/* byte 4 reserved */
		}
	}
	pg[0] = SCSI_MODE_PAGE_CACHING;
	pg[1] = SCSI_MODE_CACHING_LEN - 2;
	if (pc == SCSI_MODE_PC_CHANGEABLE)
		wce = l->ops.flush != NULL;		/* WCE is the only changeable bit */
	else if (pc == SCSI_MODE_PC_DEFAULT)
		wce = l->ops.flush != NULL;
	else
		wce = lun_wce(l);
	if (wce)
		pg[2] = SCSI_MODE_CACHING_WCE;
	reply(p, v, res, b, total);
}

/* Check the caching page of a MODE SELECT; fills *wce with the wanted bit. */
static bool caching_page_ok(const struct scsi_lun *l, const uint8_t *pg, bool *wce)
{
	size_t i;

	if (pg[1] != SCSI_MODE_CACHING_LEN - 2 || (pg[2] & ~SCSI_MODE_CACHING_WCE))
		return false;
	/* Every other field is fixed at zero: a different value is an attempt
	 * to change something that cannot change. */
	for (i = 3; i < SCSI_MODE_CACHING_LEN; i++)
		if (pg[i])
			return false;
	*wce = pg[2] & SCSI_MODE_CACHING_WCE;
	/* Without a flush op there is no cache to enable. */
	return !*wce || l->ops.flush != NULL;
}

static void exec_mode_select(struct scsi_lun *l, const struct scsi_io_plan *p,
			     struct iov_view v, struct scsi_result *res)
{
	bool ten = p->cdb[0] == SCSI_OP_MODE_SELECT_10;
	size_t plen = p->xfer, hdr = ten ? SCSI_MODE_HDR10_LEN : SCSI_MODE_HDR6_LEN;
	size_t bdl, desc, pos, i;
	bool wce = false, set_wce = false;
	uint8_t asc = 0;
	uint8_t *b = iov_snapshot(v, plen);

	if (!b) {
		res_no_memory(res, p->data_len);
		return;
	}
	if (plen < hdr) {
		asc = SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR;
		goto out;
	}
	bdl = ten ? get_be16(b + 6) : b[3];
	desc = ten && (b[4] & SCSI_MODE_HDR10_LONGLBA) ? SCSI_MODE_LONG_BLOCK_DESC_LEN
							: SCSI_MODE_BLOCK_DESC_LEN;
	if (bdl > plen - hdr) {
		asc = SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR;
		goto out;
	}
	if (bdl % desc) {
		asc = SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST;
		goto out;
	}
	/* The block size cannot change; a descriptor may only repeat it. */
	for (i = 0; i < bdl; i += desc) {
		const uint8_t *d = b + hdr + i;
		uint32_t bs = desc == SCSI_MODE_BLOCK_DESC_LEN ? get_be24(d + 5)
							       : get_be32(d + 12);

		if (bs != l->block_size) {
			asc = SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST;
			goto out;
		}
	}
	for (pos = hdr + bdl; pos < plen;) {
		const uint8_t *pg = b + pos;

		if (plen - pos < 2 || pg[1] > plen - pos - 2) {
			asc = SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR;
			goto out;
		}
		if ((pg[0] & 0x3f) != SCSI_MODE_PAGE_CACHING || (pg[0] & SCSI_MODE_PAGE_SPF) ||
		    !caching_page_ok(l, pg, &wce)) {
			asc = SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST;
			goto out;
		}
		set_wce = true;
		pos += 2u + pg[1];
	}
	/* Applied only once the whole list is known to be valid. */
	if (set_wce) {
		pthread_mutex_lock(&l->lock);
		l->wce = wce;
		pthread_mutex_unlock(&l->lock);
	}
out:
	free(b);
	if (asc)
		res_illegal(res, p->data_len, asc);
	else
		res_good(res, plen, p->data_len);
}

static void exec_report_luns(struct scsi_target *t, const struct scsi_io_plan *p,
			     struct iov_view v, struct scsi_result *res)
{
	uint8_t b[SCSI_REPORT_LUNS_HDR_LEN + SCSI_TARGET_MAX_LUNS * SCSI_REPORT_LUNS_ENTRY_LEN];
	size_t n = SCSI_REPORT_LUNS_HDR_LEN;
	unsigned int i;

	memset(b, 0, sizeof(b));
	/* Select report 01h asks for well-known LUNs only: there are none. */
	for (i = 0; i < SCSI_TARGET_MAX_LUNS && p->cdb[2] != 0x01; i++) {
		if (!lun_get(t, i))
			continue;
		b[n + 1] = (uint8_t)i;		/* peripheral addressing, bus 0 */
		n += SCSI_REPORT_LUNS_ENTRY_LEN;
	}
	put_be32(b, (uint32_t)(n - SCSI_REPORT_LUNS_HDR_LEN));
	reply(p, v, res, b, n);
}

static void exec_request_sense(struct scsi_lun *l, const struct scsi_io_plan *p,
			       struct iov_view v, struct scsi_result *res)
{
	uint8_t s[SCSI_SENSE_FIXED_LEN];

	if (!l) {
		build_sense(s, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED, 0);
	} else {
		pthread_mutex_lock(&l->lock);
		if (l->sense_valid)
			memcpy(s, l->sense, sizeof(s));
		else
			build_sense(s, SCSI_SENSE_NO_SENSE, SCSI_ASC_NO_ADDITIONAL_SENSE, 0);
		l->sense_valid = false;
		pthread_mutex_unlock(&l->lock);
	}
	reply(p, v, res, s, sizeof(s));
}

static void exec_write_same(struct scsi_target *t, struct scsi_lun *l,
			    const struct scsi_io_plan *p, struct iov_view v,
			    struct scsi_result *res)
{
	struct iovec vec[WRITE_SAME_BATCH];
	uint64_t off = p->offset, left = p->blocks;
	uint8_t *block = iov_snapshot(v, l->block_size);
	unsigned int i;
	int err = 0;

	if (!block) {
		res_no_memory(res, p->data_len);
		return;
	}
	for (i = 0; i < WRITE_SAME_BATCH; i++) {
		vec[i].iov_base = block;
		vec[i].iov_len = l->block_size;
	}
	while (left && !err) {
		unsigned int n = left < WRITE_SAME_BATCH ? (unsigned int)left : WRITE_SAME_BATCH;
		size_t len = (size_t)n * l->block_size;

		err = l->ops.write(l->ctx, off, vec, n, len, p->fua);
		off += len;
		left -= n;
	}
	free(block);
	if (err) {
		vmbus_logf(&t->log, VMBUS_LOG_WARN, "scsi lun %u: write same failed: %d",
			   p->lun, err);
		res_io_error(res, p->data_len, false, err);
		return;
	}
	res_good(res, p->xfer, p->data_len);
}

static void exec_unmap(struct scsi_target *t, struct scsi_lun *l,
		       const struct scsi_io_plan *p, struct iov_view v,
		       struct scsi_result *res)
{
	size_t plen = p->xfer, bdl, count, i;
	uint8_t *b;
	int err = 0;

	if (plen < SCSI_UNMAP_HEADER_LEN) {
		res_illegal(res, p->data_len, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	b = iov_snapshot(v, plen);
	if (!b) {
		res_no_memory(res, p->data_len);
		return;
	}
	/* The descriptor length is clipped to what was sent; a trailing
	 * partial descriptor is ignored (SBC-3). */
	bdl = get_be16(b + 2);
	if (bdl > plen - SCSI_UNMAP_HEADER_LEN)
		bdl = plen - SCSI_UNMAP_HEADER_LEN;
	count = bdl / SCSI_UNMAP_DESCRIPTOR_LEN;
	if (count > SCSI_TARGET_MAX_UNMAP_DESCRIPTORS) {
		free(b);
		res_illegal(res, p->data_len, SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST);
		return;
	}
	/* All ranges are checked before any is discarded. */
	for (i = 0; i < count; i++) {
		const uint8_t *d = b + SCSI_UNMAP_HEADER_LEN + i * SCSI_UNMAP_DESCRIPTOR_LEN;
		uint32_t n = get_be32(d + 8);

		if (n && !range_ok(l, get_be64(d), n)) {
			free(b);
			res_illegal(res, p->data_len, SCSI_ASC_LBA_OUT_OF_RANGE);
			return;
		}
	}
	for (i = 0; i < count && !err; i++) {
		const uint8_t *d = b + SCSI_UNMAP_HEADER_LEN + i * SCSI_UNMAP_DESCRIPTOR_LEN;
		uint32_t n = get_be32(d + 8);

		if (n)
			err = l->ops.discard(l->ctx, get_be64(d) * l->block_size,
					     (uint64_t)n * l->block_size);
		/* Unmap is advisory: a backend that cannot do it loses nothing. */
		if (err == -EOPNOTSUPP)
			err = 0;
	}
	free(b);
	if (err) {
		vmbus_logf(&t->log, VMBUS_LOG_WARN, "scsi lun %u: unmap failed: %d",
			   p->lun, err);
		res_io_error(res, p->data_len, false, err);
		return;
	}
	res_good(res, plen, p->data_len);
}

static void exec_emulated(struct scsi_target *t, struct scsi_lun *l,
			  const struct scsi_io_plan *p, struct iov_view v,
			  struct scsi_result *res)
{
	switch (p->cdb[0]) {
	case SCSI_OP_REPORT_LUNS:
		exec_report_luns(t, p, v, res);
		return;
	case SCSI_OP_INQUIRY:
		exec_inquiry(l, p, v, res);
		return;
	case SCSI_OP_REQUEST_SENSE:
		exec_request_sense(l, p, v, res);
		return;
	}
	/* Every other command was decoded against a present LUN. */
	if (!l) {
		res_no_lun(res, p->data_len);
		return;
	}
	switch (p->cdb[0]) {
	case SCSI_OP_READ_CAPACITY_10:
	case SCSI_OP_SERVICE_ACTION_IN_16:
		exec_read_capacity(l, p, v, res);
		break;
	case SCSI_OP_MODE_SENSE_6:
	case SCSI_OP_MODE_SENSE_10:
		exec_mode_sense(l, p, v, res);
		break;
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SELECT_10:
		exec_mode_select(l, p, v, res);
		break;
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_WRITE_SAME_16:
		exec_write_same(t, l, p, v, res);
		break;
	case SCSI_OP_UNMAP:
		exec_unmap(t, l, p, v, res);
		break;
	default:
		res_illegal(res, p->data_len, SCSI_ASC_INVALID_OPCODE);
		break;
	}
}

/* ---- Completion and execution --------------------------------------------------- */

int scsi_target_complete_io(struct scsi_target *t, const struct scsi_io_plan *plan,
			    int err, struct scsi_result *res)
{
	if (!t || !plan || !res)
		return -EINVAL;
	switch (plan->op) {
	case SCSI_PLAN_READ:
	case SCSI_PLAN_WRITE:
	case SCSI_PLAN_FLUSH:
	case SCSI_PLAN_DISCARD:
		break;
	default:
		return -EINVAL;
	}
	if (err) {
		vmbus_logf(&t->log, VMBUS_LOG_WARN,
			   "scsi lun %u: op %d at %llu+%llu failed: %d", plan->lun,
			   (int)plan->op, (unsigned long long)plan->offset,
			   (unsigned long long)plan->len, err);
		res_io_error(res, plan->data_len, plan->op == SCSI_PLAN_READ, err);
	} else {
		res_good(res, plan->xfer, plan->data_len);
	}
	finish(t, plan->lun, res);
	return 0;
}

static int run_io(struct scsi_lun *l, const struct scsi_io_plan *p, struct iov_view v)
{
	switch (p->op) {
	case SCSI_PLAN_READ:
		return l->ops.read(l->ctx, p->offset, v.iov, v.cnt, (size_t)p->len);
	case SCSI_PLAN_WRITE:
		return l->ops.write(l->ctx, p->offset, v.iov, v.cnt, (size_t)p->len, p->fua);
	case SCSI_PLAN_FLUSH:
		return l->ops.flush ? l->ops.flush(l->ctx) : 0;
	default:
		return l->ops.discard ? l->ops.discard(l->ctx, p->offset, p->len) : -EOPNOTSUPP;
	}
}

int scsi_target_execute_plan(struct scsi_target *t, const struct scsi_io_plan *plan,
			     const struct scsi_data *data, struct scsi_result *res)
{
	struct iov_view v = iov_view_of(data);
	struct scsi_lun *l;

	if (!t || !plan || !res || plan->op == SCSI_PLAN_DONE ||
	    (!data && plan->data_len))
		return -EINVAL;
	l = lun_get(t, plan->lun);
	if (!iov_covers(v, plan->data_len)) {
		/* The buffer list is shorter than the length declared with it. */
		res_bad_cdb(res, plan->data_len);
	} else if (plan->op == SCSI_PLAN_EMULATE) {
		exec_emulated(t, l, plan, v, res);
	} else if (!l) {
		res_no_lun(res, plan->data_len);
	} else {
		return scsi_target_complete_io(t, plan, run_io(l, plan, v), res);
	}
	finish(t, plan->lun, res);
	return 0;
}

int scsi_target_execute(struct scsi_target *t, unsigned int lun,
			const uint8_t *cdb, size_t cdb_len,
			const struct scsi_data *data, size_t data_len,
			enum scsi_dir dir, struct scsi_result *res)
{
	struct scsi_io_plan plan;
	int ret;

	if (!t || !cdb || !res || (!data && data_len && dir != SCSI_DIR_NONE))
		return -EINVAL;
	ret = scsi_target_decode(t, lun, cdb, cdb_len, data_len, dir, &plan, res);
	if (ret <= SCSI_PLAN_DONE)
		return ret < 0 ? ret : 0;
	return scsi_target_execute_plan(t, &plan, data, res);
}
