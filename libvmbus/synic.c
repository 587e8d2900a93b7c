/* SPDX-License-Identifier: MIT */
/*
 * Host-side SynIC model shared by every carrier: SynIC MSRs per VP, message
 * slots with per-slot queues, event flags, the connection-id table, and
 * HvPostMessage/HvSignalEvent argument checks.
 *
 * Formats: Hyper-V TLFS (SynIC, message and event flag pages, hypercall
 * input value, HvCallPostMessage, HvCallSignalEvent) as captured in
 * include/vmbus/proto/tlfs.h. Which inputs are refused, and with which
 * status, follows KVM arch/x86/kvm/hyperv.c and QEMU hw/hyperv/hyperv.c;
 * the slot hand-off mirrors Linux vmbus_signal_eom().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/synic.h>

#define SYNIC_MAX_VPS		4096u
#define SCONTROL_RSVD_MASK	(~HV_SCONTROL_ENABLE)
/* SIMP/SIEFP: bit 0 enable, 63:12 page frame, 11:1 reserved. */
#define PAGE_MSR_RSVD_MASK	(~(HV_MSR_PFN_MASK | HV_MSR_ENABLE))
/* HvSignalEvent argument: flag number 47:32; 63:48 and 31:24 are RsvdZ. */
#define SIGNAL_RSVD_MASK	0xffff0000ff000000ull
#define MESSAGE_TYPE_HV_BIT	0x80000000u

/* ======================================================================
 * Guest memory
 * ====================================================================== */

void *vmbus_synic_flat_map(void *opaque, uint64_t gpa, uint64_t len)
{
	const struct vmbus_synic_flat_ram *ram = opaque;

	if (!ram || !ram->base || len == 0 || len > ram->size ||
	    gpa > ram->size - len)
		return NULL;
	return (uint8_t *)ram->base + gpa;
}

static void *mem_map(const struct vmbus_synic_mem *mem, uint64_t gpa,
		     uint64_t len)
{
	if (!mem || !mem->map)
		return NULL;
	return mem->map(mem->opaque, gpa, len);
}

/* ======================================================================
 * Connection-id table
 *
 * A sorted array searched by bisection: lookups happen on every guest
 * signal, changes only when channels open or close. A rwlock lets vCPU
 * threads look up in parallel and makes remove() wait for running
 * handlers.
 * ====================================================================== */

struct conn_entry {
	uint32_t id;
	bool is_event;
	vmbus_synic_msg_handler *msg_fn;
	vmbus_synic_event_handler *event_fn;
	void *opaque;
};

struct vmbus_synic_conns {
	pthread_rwlock_t lock;
	struct conn_entry *v;
	size_t n, cap;
};

int vmbus_synic_conns_new(struct vmbus_synic_conns **out)
{
	struct vmbus_synic_conns *t;

	if (!out)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (pthread_rwlock_init(&t->lock, NULL)) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void vmbus_synic_conns_free(struct vmbus_synic_conns *t)
{
	if (!t)
		return;
	pthread_rwlock_destroy(&t->lock);
	free(t->v);
	free(t);
}

/* Index of the first entry with id >= @id. */
static size_t conns_lower_bound(const struct vmbus_synic_conns *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct conn_entry *conns_find(const struct vmbus_synic_conns *t,
					   uint32_t id)
{
	size_t i = conns_lower_bound(t, id);

	return (i < t->n && t->v[i].id == id) ? &t->v[i] : NULL;
}

static int conns_add(struct vmbus_synic_conns *t, const struct conn_entry *e)
{
	size_t i;
	int ret = 0;

	if (!t || e->id & ~HV_CONNECTION_ID_MASK)
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	i = conns_lower_bound(t, e->id);
	if (i < t->n && t->v[i].id == e->id) {
		ret = -EEXIST;
		goto out;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct conn_entry *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			ret = -ENOMEM;
			goto out;
		}
		t->v = v;
		t->cap = cap;
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(t->v[0]));
	t->v[i] = *e;
	t->n++;
out:
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

int vmbus_synic_conns_add_message(struct vmbus_synic_conns *t,
				  uint32_t connection_id,
				  vmbus_synic_msg_handler *fn, void *opaque)
{
	struct conn_entry e = {
		.id = connection_id, .msg_fn = fn, .opaque = opaque,
	};

	if (!fn)
		return -EINVAL;
	return conns_add(t, &e);
}

int vmbus_synic_conns_add_event(struct vmbus_synic_conns *t,
				uint32_t connection_id,
				vmbus_synic_event_handler *fn, void *opaque)
{
	struct conn_entry e = {
		.id = connection_id, .is_event = true, .event_fn = fn,
		.opaque = opaque,
	};

	if (!fn)
		return -EINVAL;
	return conns_add(t, &e);
}

int vmbus_synic_conns_remove(struct vmbus_synic_conns *t,
			     uint32_t connection_id)
{
	size_t i;
	int ret = -ENOENT;

	if (!t)
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	i = conns_lower_bound(t, connection_id);
	if (i < t->n && t->v[i].id == connection_id) {
		memmove(&t->v[i], &t->v[i + 1],
			(t->n - i - 1) * sizeof(t->v[0]));
		t->n--;
		ret = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

/* Is @id registered with the right kind? An HV status. */
static uint16_t conns_check(struct vmbus_synic_conns *t, uint32_t id,
			    bool want_event)
{
	const struct conn_entry *e;
	uint16_t st = HV_STATUS_SUCCESS;

	if (!t)
		return HV_STATUS_SUCCESS;
	pthread_rwlock_rdlock(&t->lock);
	e = conns_find(t, id);
	if (!e)
		st = HV_STATUS_INVALID_CONNECTION_ID;
	else if (e->is_event != want_event)
		st = HV_STATUS_INVALID_PORT_ID;	/* TLFS: wrong port type */
	pthread_rwlock_unlock(&t->lock);
	return st;
}

static uint16_t post_args_status(uint32_t connection_id, uint32_t message_type,
				 uint32_t size)
{
	if (connection_id & ~HV_CONNECTION_ID_MASK)
		return HV_STATUS_INVALID_PARAMETER;
	/* TLFS: any type but 0 with bit 31 clear; 31 belongs to the hypervisor. */
	if (message_type == HVMSG_NONE || (message_type & MESSAGE_TYPE_HV_BIT))
		return HV_STATUS_INVALID_PARAMETER;
	if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	return HV_STATUS_SUCCESS;
}

static uint16_t signal_args_status(uint32_t connection_id, uint32_t flag)
{
	if (connection_id & ~HV_CONNECTION_ID_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (flag >= HV_EVENT_FLAGS_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	return HV_STATUS_SUCCESS;
}

/* Run the handler for a checked post; @payload is already a private copy. */
static uint16_t conns_run_post(struct vmbus_synic_conns *t, uint32_t id,
			       uint32_t message_type, const void *payload,
			       uint32_t size)
{
	const struct conn_entry *e;
	uint16_t st;

	if (!t)
		return HV_STATUS_INVALID_CONNECTION_ID;
	pthread_rwlock_rdlock(&t->lock);
	e = conns_find(t, id);
	if (!e)
		st = HV_STATUS_INVALID_CONNECTION_ID;
	else if (e->is_event)
		st = HV_STATUS_INVALID_PORT_ID;
	else
		st = e->msg_fn(e->opaque, id, message_type, payload, size);
	pthread_rwlock_unlock(&t->lock);
	return st;
}

static uint16_t conns_run_signal(struct vmbus_synic_conns *t, uint32_t id,
				 uint16_t flag)
{
	const struct conn_entry *e;
	uint16_t st;

	if (!t)
		return HV_STATUS_INVALID_CONNECTION_ID;
	pthread_rwlock_rdlock(&t->lock);
	e = conns_find(t, id);
	if (!e)
		st = HV_STATUS_INVALID_CONNECTION_ID;
	else if (!e->is_event)
		st = HV_STATUS_INVALID_PORT_ID;
	else
		st = e->event_fn(e->opaque, id, flag);
	pthread_rwlock_unlock(&t->lock);
	return st;
}

uint16_t vmbus_synic_conns_post(struct vmbus_synic_conns *t,
				uint32_t connection_id, uint32_t message_type,
				const void *payload, uint32_t size)
{
	uint64_t copy[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
	uint16_t st;

	st = post_args_status(connection_id, message_type, size);
	if (st != HV_STATUS_SUCCESS)
		return st;
	if (size && !payload)
		return HV_STATUS_INVALID_PARAMETER;
	/* Handlers never see the sender's buffer, which it may still change. */
	if (size)
		memcpy(copy, payload, size);
	return conns_run_post(t, connection_id, message_type, copy, size);
}

uint16_t vmbus_synic_conns_signal(struct vmbus_synic_conns *t,
				  uint32_t connection_id, uint16_t flag)
{
	uint16_t st = signal_args_status(connection_id, flag);

	if (st != HV_STATUS_SUCCESS)
		return st;
	return conns_run_signal(t, connection_id, flag);
}

static uint16_t guest_post(void *ctx, uint32_t connection_id,
			   uint32_t message_type, const void *payload,
			   uint32_t size)
{
	return vmbus_synic_conns_post(ctx, connection_id, message_type,
				      payload, size);
}

static uint16_t guest_signal(void *ctx, uint32_t connection_id, uint16_t flag)
{
	return vmbus_synic_conns_signal(ctx, connection_id, flag);
}

const struct vmbus_hv_guest_ops vmbus_synic_conns_guest_ops = {
	.post_message = guest_post,
	.signal_event = guest_signal,
};

/* ======================================================================
 * Hypercall decoding
 * ====================================================================== */

/*
 * Copy a memory-call input block out of guest memory, once. The TLFS
 * reports all three faults (misaligned, spanning pages, not RAM) as
 * HV_STATUS_INVALID_ALIGNMENT.
 */
static uint16_t read_input(const struct vmbus_synic_mem *mem, uint64_t gpa,
			   void *dst, size_t len)
{
	const void *src;

	if (gpa & 7)
		return HV_STATUS_INVALID_ALIGNMENT;
	if ((gpa & (HV_PAGE_SIZE - 1)) + len > HV_PAGE_SIZE)
		return HV_STATUS_INVALID_ALIGNMENT;
	src = mem_map(mem, gpa, len);
	if (!src)
		return HV_STATUS_INVALID_ALIGNMENT;
	memcpy(dst, src, len);
	return HV_STATUS_SUCCESS;
}

static uint16_t decode_post(uint64_t input, const struct vmbus_synic_mem *mem,
			    struct vmbus_synic_conns *conns,
			    struct vmbus_synic_hcall *out)
{
	struct hv_input_post_message in;
	uint16_t st;

	/* QEMU answers a fast PostMessage this way; KVM has no fast form. */
	if (out->fast)
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	st = read_input(mem, input, &in, sizeof(in));
	if (st != HV_STATUS_SUCCESS)
		return st;
	if (in.reserved)
		return HV_STATUS_INVALID_PARAMETER;
	st = post_args_status(in.connection_id, in.message_type,
			      in.payload_size);
	if (st != HV_STATUS_SUCCESS)
		return st;
	out->post.connection_id = in.connection_id;
	out->post.message_type = in.message_type;
	out->post.payload_size = in.payload_size;
	memcpy(out->post.payload, in.payload, in.payload_size);
	return conns_check(conns, in.connection_id, false);
}

static uint16_t decode_signal(uint64_t input, const struct vmbus_synic_mem *mem,
			      struct vmbus_synic_conns *conns,
			      struct vmbus_synic_hcall *out)
{
	uint64_t arg = input;
	uint32_t id;
	uint16_t st, flag;

	/* The TLFS defines only the fast form; KVM and QEMU also read an
	 * 8-byte block from memory, so a guest may use either. */
	if (!out->fast) {
		st = read_input(mem, input, &arg, sizeof(arg));
		if (st != HV_STATUS_SUCCESS)
			return st;
	}
	if (arg & SIGNAL_RSVD_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	id = (uint32_t)(arg & HV_SIGNAL_EVENT_CONNID_MASK);
	flag = (uint16_t)((arg >> HV_SIGNAL_EVENT_FLAG_SHIFT) &
			  HV_SIGNAL_EVENT_FLAG_MASK);
	st = signal_args_status(id, flag);
	if (st != HV_STATUS_SUCCESS)
		return st;
	out->signal.connection_id = id;
	out->signal.flag = flag;
	return conns_check(conns, id, true);
}

uint16_t vmbus_synic_hcall_decode(uint64_t control, uint64_t input,
				  const struct vmbus_synic_mem *mem,
				  struct vmbus_synic_conns *conns,
				  struct vmbus_synic_hcall *out)
{
	uint16_t code = (uint16_t)(control & HV_HYPERCALL_CODE_MASK);

	if (!out)
		return HV_STATUS_INVALID_PARAMETER;
	memset(out, 0, sizeof(*out));
	if (control & HV_HYPERCALL_RSVD_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (code != HVCALL_POST_MESSAGE && code != HVCALL_SIGNAL_EVENT)
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	/* Both are simple calls: no reps, no variable header. */
	if (control & (HV_HYPERCALL_VARHEAD_MASK | HV_HYPERCALL_REP_COMP_MASK |
		       HV_HYPERCALL_REP_START_MASK))
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	out->code = code;
	out->fast = !!(control & HV_HYPERCALL_FAST_BIT);
	if (code == HVCALL_POST_MESSAGE)
		return decode_post(input, mem, conns, out);
	return decode_signal(input, mem, conns, out);
}

uint16_t vmbus_synic_hcall_dispatch(struct vmbus_synic_conns *conns,
				    const struct vmbus_synic_hcall *call)
{
	uint32_t size;

	if (!call)
		return HV_STATUS_INVALID_PARAMETER;
	switch (call->code) {
	case HVCALL_POST_MESSAGE:
		/* The caller may have built @call by hand: check it again. */
		size = call->post.payload_size;
		if (post_args_status(call->post.connection_id,
				     call->post.message_type, size))
			return HV_STATUS_INVALID_PARAMETER;
		return conns_run_post(conns, call->post.connection_id,
				      call->post.message_type,
				      call->post.payload, size);
	case HVCALL_SIGNAL_EVENT:
		return vmbus_synic_conns_signal(conns,
						call->signal.connection_id,
						call->signal.flag);
	default:
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	}
}

uint16_t vmbus_synic_hcall_handle(uint64_t control, uint64_t input,
				  const struct vmbus_synic_mem *mem,
				  struct vmbus_synic_conns *conns)
{
	struct vmbus_synic_hcall call;
	uint16_t st;

	st = vmbus_synic_hcall_decode(control, input, mem, conns, &call);
	if (st != HV_STATUS_SUCCESS)
		return st;
	return vmbus_synic_hcall_dispatch(conns, &call);
}

/* ======================================================================
 * The SynIC
 * ====================================================================== */

struct qmsg {
	struct qmsg *next;
	struct hv_message msg;
};

struct sint_queue {
	struct qmsg *head, *tail;
	uint32_t count;
};

struct synic_vp {
	pthread_mutex_t lock;
	uint64_t scontrol, simp, siefp;
	uint64_t sint[HV_SINT_COUNT];
	/* Host views of the pages; non-NULL exactly while enabled. */
	struct hv_message_page *msg_page;
	struct hv_synic_event_flags_page *evt_page;
	struct sint_queue q[HV_SINT_COUNT];
	/* SINTs that got a new event flag while masked: interrupt on unmask. */
	uint16_t missed_events;
};

struct vmbus_synic {
	uint32_t vp_count;
	uint32_t queue_limit;
	struct vmbus_synic_mem mem;
	vmbus_synic_raise_fn *raise;
	void *raise_opaque;
	struct vmbus_log log;
	struct synic_vp vps[];
};

/*
 * Interrupts found while holding a VP lock, raised after dropping it: the
 * raise callback may run guest code that writes EOM and re-enters.
 */
struct irq_batch {
	uint16_t sints;
	uint8_t vector[HV_SINT_COUNT];
};

static void batch_add(struct irq_batch *b, const struct synic_vp *v,
		      uint32_t sint)
{
	b->sints |= (uint16_t)(1u << sint);
	b->vector[sint] = (uint8_t)(v->sint[sint] & HV_SINT_VECTOR_MASK);
}

static void batch_fire(struct vmbus_synic *s, uint32_t vp,
		       const struct irq_batch *b)
{
	uint32_t i;

	for (i = 0; i < HV_SINT_COUNT; i++)
		if (b->sints & (1u << i))
			s->raise(s->raise_opaque, vp, i, b->vector[i]);
}

static void vp_power_on(struct synic_vp *v)
{
	uint32_t i;

	v->scontrol = 0;
	v->simp = 0;
	v->siefp = 0;
	for (i = 0; i < HV_SINT_COUNT; i++)
		v->sint[i] = HV_SINT_MASKED;
	v->msg_page = NULL;
	v->evt_page = NULL;
	v->missed_events = 0;
}

static void queue_clear(struct sint_queue *q)
{
	struct qmsg *m = q->head;

	while (m) {
		struct qmsg *next = m->next;

		free(m);
		m = next;
	}
	q->head = q->tail = NULL;
	q->count = 0;
}

int vmbus_synic_new(const struct vmbus_synic_config *cfg,
		    struct vmbus_synic **out)
{
	struct vmbus_synic *s;
	uint32_t i, j;

	if (!cfg || !out || !cfg->mem.map || !cfg->raise ||
	    cfg->vp_count == 0 || cfg->vp_count > SYNIC_MAX_VPS)
		return -EINVAL;
	s = calloc(1, sizeof(*s) + (size_t)cfg->vp_count * sizeof(s->vps[0]));
	if (!s)
		return -ENOMEM;
	s->vp_count = cfg->vp_count;
	s->queue_limit = cfg->queue_limit ? cfg->queue_limit :
					    VMBUS_SYNIC_QUEUE_LIMIT_DEFAULT;
	s->mem = cfg->mem;
	s->raise = cfg->raise;
	s->raise_opaque = cfg->raise_opaque;
	s->log = cfg->log;
	for (i = 0; i < s->vp_count; i++) {
		if (pthread_mutex_init(&s->vps[i].lock, NULL)) {
			for (j = 0; j < i; j++)
				pthread_mutex_destroy(&s->vps[j].lock);
			free(s);
			return -ENOMEM;
		}
		vp_power_on(&s->vps[i]);
	}
	*out = s;
	return 0;
}

void vmbus_synic_free(struct vmbus_synic *s)
{
	uint32_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->vp_count; i++) {
		for (j = 0; j < HV_SINT_COUNT; j++)
			queue_clear(&s->vps[i].q[j]);
		pthread_mutex_destroy(&s->vps[i].lock);
	}
	free(s);
}

void vmbus_synic_reset(struct vmbus_synic *s)
{
	uint32_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->vp_count; i++) {
		struct synic_vp *v = &s->vps[i];

		pthread_mutex_lock(&v->lock);
		for (j = 0; j < HV_SINT_COUNT; j++)
			queue_clear(&v->q[j]);
		vp_power_on(v);
		pthread_mutex_unlock(&v->lock);
	}
}

static bool sint_masked(const struct synic_vp *v, uint32_t sint)
{
	return v->sint[sint] & HV_SINT_MASKED;
}

/*
 * Move the head of @sint's queue into its slot if the guest has freed it.
 * Returns 1 if a message went in.
 *
 * The slot is shared with a running guest, which frees it by storing
 * HVMSG_NONE, then (after a full barrier) reading the pending flag to
 * decide on EOM. So on a busy slot we store the pending flag first and
 * read message_type again after a full barrier: either the guest sees the
 * flag and writes EOM, or we see the freed slot and deliver now. A message
 * can never be stranded in the queue behind a free slot.
 */
static int slot_deliver(struct synic_vp *v, uint32_t sint, struct irq_batch *b)
{
	struct sint_queue *q = &v->q[sint];
	struct qmsg *m = q->head;
	struct hv_message *slot;

	if (!m || !(v->scontrol & HV_SCONTROL_ENABLE) || !v->msg_page ||
	    sint_masked(v, sint))
		return 0;
	slot = &v->msg_page->sint_message[sint];
	if (__atomic_load_n(&slot->header.message_type, __ATOMIC_ACQUIRE) !=
	    HVMSG_NONE) {
		__atomic_fetch_or(&slot->header.flags, HV_MESSAGE_FLAG_PENDING,
				  __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&slot->header.message_type,
				    __ATOMIC_ACQUIRE) != HVMSG_NONE)
			return 0;
	}

	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;

	memcpy(slot->payload, m->msg.payload, m->msg.header.payload_size);
	slot->header.payload_size = m->msg.header.payload_size;
	/* More behind this one: ask the guest for an EOM when it is done.
	 * Atomic because a guest that just freed the slot may still be
	 * reading the flag; whichever value it sees, no message is lost. */
	__atomic_store_n(&slot->header.flags,
			 q->head ? HV_MESSAGE_FLAG_PENDING : 0, __ATOMIC_RELAXED);
	slot->header.reserved[0] = 0;
	slot->header.reserved[1] = 0;
	slot->header.sender = m->msg.header.sender;
	/* Last: a non-zero type hands the slot to the guest. */
	__atomic_store_n(&slot->header.message_type, m->msg.header.message_type,
			 __ATOMIC_RELEASE);
	free(m);
	batch_add(b, v, sint);
	return 1;
}

static int deliver_all(struct synic_vp *v, struct irq_batch *b)
{
	uint32_t i;
	int n = 0;

	for (i = 0; i < HV_SINT_COUNT; i++)
		n += slot_deliver(v, i, b);
	return n;
}

/*
 * Point SIMP or SIEFP at a guest page. Enabling needs the page to be guest
 * RAM (else #GP, as in KVM, whose zeroing of the page fails there); a
 * newly enabled or moved page is zeroed so stale bytes never look like a
 * message or a flag.
 */
static int set_page_msr(struct vmbus_synic *s, uint64_t *reg, void **page,
			uint64_t value)
{
	uint64_t gpa = value & HV_MSR_PFN_MASK;
	bool fresh;
	void *p;

	if (value & PAGE_MSR_RSVD_MASK)
		return -EINVAL;
	if (!(value & HV_MSR_ENABLE)) {
		*page = NULL;
		*reg = value;
		return 0;
	}
	p = mem_map(&s->mem, gpa, HV_PAGE_SIZE);
	if (!p)
		return -EINVAL;
	fresh = !(*reg & HV_MSR_ENABLE) || (*reg & HV_MSR_PFN_MASK) != gpa;
	if (fresh)
		memset(p, 0, HV_PAGE_SIZE);
	*page = p;
	*reg = value;
	return 0;
}

static int set_siefp(struct vmbus_synic *s, struct synic_vp *v, uint64_t value)
{
	void *p = v->evt_page;
	int ret = set_page_msr(s, &v->siefp, &p, value);

	v->evt_page = p;
	return ret;
}

static int set_simp(struct vmbus_synic *s, struct synic_vp *v, uint64_t value)
{
	void *p = v->msg_page;
	int ret = set_page_msr(s, &v->simp, &p, value);

	v->msg_page = p;
	return ret;
}

static int set_sint_msr(struct synic_vp *v, uint32_t sint, uint64_t value,
			struct irq_batch *b)
{
	bool was_masked = sint_masked(v, sint);

	if (value & HV_SINT_RSVD_MASK)
		return -EINVAL;
	/* Vectors 0-15 are exceptions; a masked SINT may hold anything
	 * (KVM lets masked writes through for nested Hyper-V's sake). */
	if (!(value & HV_SINT_MASKED) &&
	    (value & HV_SINT_VECTOR_MASK) < HV_SINT_VECTOR_MIN)
		return -EINVAL;
	v->sint[sint] = value;
	if (was_masked && !sint_masked(v, sint)) {
		if ((v->missed_events & (1u << sint)) &&
		    (v->scontrol & HV_SCONTROL_ENABLE) && v->evt_page) {
			v->missed_events &= (uint16_t)~(1u << sint);
			batch_add(b, v, sint);
		}
		slot_deliver(v, sint, b);
	}
	return 0;
}

static int vp_wrmsr(struct vmbus_synic *s, struct synic_vp *v, uint32_t msr,
		    uint64_t value, struct irq_batch *b)
{
	int ret;

	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		if (value & SCONTROL_RSVD_MASK)
			return -EINVAL;
		v->scontrol = value;
		deliver_all(v, b);
		return 0;
	case HV_X64_MSR_SVERSION:
		return -EINVAL;
	case HV_X64_MSR_SIEFP:
		return set_siefp(s, v, value);
	case HV_X64_MSR_SIMP:
		ret = set_simp(s, v, value);
		if (!ret)
			deliver_all(v, b);
		return ret;
	case HV_X64_MSR_EOM:
		deliver_all(v, b);
		return 0;
	default:
		if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
			return set_sint_msr(v, msr - HV_X64_MSR_SINT0, value, b);
		return -ENOENT;
	}
}

int vmbus_synic_wrmsr(struct vmbus_synic *s, uint32_t vp, uint32_t msr,
		      uint64_t value)
{
	struct irq_batch b = { 0 };
	struct synic_vp *v;
	int ret;

	if (!s || vp >= s->vp_count)
		return -EINVAL;
	v = &s->vps[vp];
	pthread_mutex_lock(&v->lock);
	ret = vp_wrmsr(s, v, msr, value, &b);
	pthread_mutex_unlock(&v->lock);
	if (ret == -EINVAL)
		vmbus_logf(&s->log, VMBUS_LOG_DEBUG,
			   "synic: vp %u: wrmsr 0x%x <- 0x%llx refused (#GP)",
			   vp, msr, (unsigned long long)value);
	batch_fire(s, vp, &b);
	return ret;
}

int vmbus_synic_rdmsr(struct vmbus_synic *s, uint32_t vp, uint32_t msr,
		      uint64_t *value)
{
	struct synic_vp *v;
	uint64_t val;
	int ret = 0;

	if (!s || !value || vp >= s->vp_count)
		return -EINVAL;
	v = &s->vps[vp];
	pthread_mutex_lock(&v->lock);
	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		val = v->scontrol;
		break;
	case HV_X64_MSR_SVERSION:
		val = HV_SYNIC_VERSION_1;
		break;
	case HV_X64_MSR_SIEFP:
		val = v->siefp;
		break;
	case HV_X64_MSR_SIMP:
		val = v->simp;
		break;
	case HV_X64_MSR_EOM:
		val = 0;
		break;
	default:
		if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
			val = v->sint[msr - HV_X64_MSR_SINT0];
		else
			ret = -ENOENT;
		break;
	}
	pthread_mutex_unlock(&v->lock);
	if (!ret)
		*value = val;
	return ret;
}

int vmbus_synic_post(struct vmbus_synic *s, uint32_t vp, uint32_t sint,
		     uint32_t message_type, uint64_t sender,
		     const void *payload, size_t size)
{
	struct irq_batch b = { 0 };
	struct sint_queue *q;
	struct synic_vp *v;
	struct qmsg *m;

	if (!s || vp >= s->vp_count || sint >= HV_SINT_COUNT ||
	    message_type == HVMSG_NONE || size > HV_MESSAGE_PAYLOAD_BYTE_COUNT ||
	    (size && !payload))
		return -EINVAL;

	/* Allocate outside the lock; the queue is the never-drop guarantee. */
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	memset(&m->msg.header, 0, sizeof(m->msg.header));
	m->msg.header.message_type = message_type;
	m->msg.header.payload_size = (uint8_t)size;
	m->msg.header.sender = sender;
	if (size)
		memcpy(m->msg.payload, payload, size);

	v = &s->vps[vp];
	q = &v->q[sint];
	pthread_mutex_lock(&v->lock);
	if (q->count >= s->queue_limit) {
		pthread_mutex_unlock(&v->lock);
		free(m);
		vmbus_logf(&s->log, VMBUS_LOG_WARN,
			   "synic: vp %u sint %u: %u messages queued, refusing more",
			   vp, sint, s->queue_limit);
		return -ENOBUFS;
	}
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->count++;
	/* Only the head may go in, so order holds even if the slot is free. */
	slot_deliver(v, sint, &b);
	pthread_mutex_unlock(&v->lock);
	batch_fire(s, vp, &b);
	return 0;
}

int vmbus_synic_set_event(struct vmbus_synic *s, uint32_t vp, uint32_t sint,
			  uint32_t flag)
{
	struct irq_batch b = { 0 };
	struct synic_vp *v;
	uint8_t bit, old;
	int ret;

	if (!s || vp >= s->vp_count || sint >= HV_SINT_COUNT ||
	    flag >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	v = &s->vps[vp];
	bit = (uint8_t)(1u << (flag % 8));
	pthread_mutex_lock(&v->lock);
	if (!(v->scontrol & HV_SCONTROL_ENABLE) || !v->evt_page) {
		pthread_mutex_unlock(&v->lock);
		return -ENODEV;
	}
	/* Byte-wide: any alignment of the host mapping works, and the guest's
	 * word-wide test-and-clear sees it atomically all the same. */
	old = __atomic_fetch_or(&v->evt_page->sintevent_flags[sint].flags[flag / 8],
				bit, __ATOMIC_SEQ_CST);
	if (old & bit) {
		ret = 0;
	} else {
		ret = 1;
		if (sint_masked(v, sint))
			v->missed_events |= (uint16_t)(1u << sint);
		else
			batch_add(&b, v, sint);
	}
	pthread_mutex_unlock(&v->lock);
	batch_fire(s, vp, &b);
	return ret;
}

int vmbus_synic_retry(struct vmbus_synic *s, uint32_t vp)
{
	struct irq_batch b = { 0 };
	struct synic_vp *v;
	int n;

	if (!s || vp >= s->vp_count)
		return -EINVAL;
	v = &s->vps[vp];
	pthread_mutex_lock(&v->lock);
	n = deliver_all(v, &b);
	pthread_mutex_unlock(&v->lock);
	batch_fire(s, vp, &b);
	return n;
}

int vmbus_synic_queued(struct vmbus_synic *s, uint32_t vp, uint32_t sint)
{
	struct synic_vp *v;
	uint32_t n;

	if (!s || vp >= s->vp_count || sint >= HV_SINT_COUNT)
		return -EINVAL;
	v = &s->vps[vp];
	pthread_mutex_lock(&v->lock);
	n = v->q[sint].count;
	pthread_mutex_unlock(&v->lock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int host_deliver(void *ctx, uint32_t vp, uint32_t sint,
			uint32_t message_type, const void *payload,
			uint32_t size)
{
	return vmbus_synic_post(ctx, vp, sint, message_type, 0, payload, size);
}

static int host_set_event(void *ctx, uint32_t vp, uint32_t sint, uint32_t flag)
{
	return vmbus_synic_set_event(ctx, vp, sint, flag);
}

const struct vmbus_hv_host_ops vmbus_synic_host_ops = {
	.deliver_message = host_deliver,
	.set_event = host_set_event,
};
