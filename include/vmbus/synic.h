/* SPDX-License-Identifier: MIT */
/*
 * Host-side model of the Hyper-V synthetic interrupt controller (SynIC),
 * shared by every carrier: per-VP SCONTROL/SVERSION/SIEFP/SIMP/EOM/SINTx
 * MSRs, message delivery into SIMP slots with queueing behind busy slots,
 * event flags in the SIEFP page, the connection-id table, and argument
 * checking for HvPostMessage / HvSignalEvent.
 *
 * Formats and rules: Hyper-V TLFS (SynIC MSRs, message and event flag
 * pages, HvCallPostMessage, HvCallSignalEvent, common hypercall status
 * codes) via include/vmbus/proto/tlfs.h; the guest sequence is Linux
 * drivers/hv/hv.c (hv_synic_enable_regs) and vmbus_drv.c
 * (vmbus_signal_eom); what a real implementation rejects follows KVM
 * arch/x86/kvm/hyperv.c and QEMU hw/hyperv/hyperv.c.
 *
 * Host-only: uses malloc and pthread.
 */
#ifndef VMBUS_SYNIC_H
#define VMBUS_SYNIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/hv.h>
#include <vmbus/log.h>
#include <vmbus/proto/tlfs.h>

/* ---- Guest memory ------------------------------------------------------ */

/*
 * Translate @len bytes of guest-physical memory at @gpa into a host
 * pointer, or return NULL if any byte of the range is not guest RAM. The
 * pointer must stay valid while the guest's memory layout is unchanged.
 * Carriers adapt their own memory map (gpa.c, a memfd, KVM slots) to this.
 */
typedef void *vmbus_synic_map_fn(void *opaque, uint64_t gpa, uint64_t len);

/* A translator bound to its context (value type: embedded in configs). */
struct vmbus_synic_mem {
	vmbus_synic_map_fn *map;
	void *opaque;
};

/*
 * The simplest guest RAM: one flat host buffer holding GPAs [0, size).
 * A value type so tests and small carriers can declare one on the stack.
 */
struct vmbus_synic_flat_ram {
	void *base;
	uint64_t size;
};

/*
 * vmbus_synic_map_fn for a struct vmbus_synic_flat_ram passed as @opaque.
 * Overflow-safe: returns NULL unless [gpa, gpa + len) lies inside the buffer.
 */
void *vmbus_synic_flat_map(void *opaque, uint64_t gpa, uint64_t len);

/* ---- Connection ids ---------------------------------------------------- */

/*
 * Called for an accepted HvPostMessage on a registered message connection.
 * @payload is a private copy (never guest memory) valid during the call.
 * The return value is the HV status the guest sees: a bus refuses message
 * types other than HV_MESSAGE_TYPE_VMBUS here, and returns
 * HV_STATUS_INSUFFICIENT_BUFFERS when it cannot take more input.
 */
typedef uint16_t vmbus_synic_msg_handler(void *opaque, uint32_t connection_id,
					 uint32_t message_type,
					 const void *payload, uint32_t size);

/*
 * Called for an accepted HvSignalEvent on a registered event connection;
 * @flag is < 2048. Returns the HV status for the guest (a port with fewer
 * flags returns HV_STATUS_INVALID_PARAMETER for a flag it lacks).
 */
typedef uint16_t vmbus_synic_event_handler(void *opaque, uint32_t connection_id,
					   uint16_t flag);

/* Opaque table of connection ids the host has registered. */
struct vmbus_synic_conns;

/* Allocate an empty table; 0 or -ENOMEM. */
int vmbus_synic_conns_new(struct vmbus_synic_conns **out);

/* Free a table (NULL is fine). No handler may be running. */
void vmbus_synic_conns_free(struct vmbus_synic_conns *t);

/*
 * Register @connection_id (24 bits) as a message connection (ids 1 and 4
 * for VMBus) or an event connection (one per channel). Returns 0, -EINVAL
 * for an id above HV_CONNECTION_ID_MASK or a NULL handler, -EEXIST if the
 * id is already registered (of either kind: ids are unique per partition),
 * or -ENOMEM.
 */
int vmbus_synic_conns_add_message(struct vmbus_synic_conns *t,
				  uint32_t connection_id,
				  vmbus_synic_msg_handler *fn, void *opaque);
int vmbus_synic_conns_add_event(struct vmbus_synic_conns *t,
				uint32_t connection_id,
				vmbus_synic_event_handler *fn, void *opaque);

/*
 * Unregister @connection_id; 0 or -ENOENT. When it returns, no call of the
 * removed handler is still running. Handlers must not add or remove
 * connections themselves (the table lock is held while they run).
 */
int vmbus_synic_conns_remove(struct vmbus_synic_conns *t,
			     uint32_t connection_id);

/*
 * HvPostMessage without the hypercall: check the arguments as the
 * hypervisor does and hand the message to the registered handler.
 * Returns HV_STATUS_INVALID_PARAMETER for type 0, a type with bit 31 set
 * (reserved for the hypervisor), @size > 240 or bits 31:24 of
 * @connection_id set; HV_STATUS_INVALID_CONNECTION_ID for an unknown id;
 * HV_STATUS_INVALID_PORT_ID for an event connection; else the handler's
 * status. Usable as the guest-side post of an in-process carrier.
 */
uint16_t vmbus_synic_conns_post(struct vmbus_synic_conns *t,
				uint32_t connection_id, uint32_t message_type,
				const void *payload, uint32_t size);

/*
 * HvSignalEvent without the hypercall: HV_STATUS_INVALID_PARAMETER for
 * @flag >= 2048, HV_STATUS_INVALID_HYPERCALL_INPUT for bits 31:24 of
 * @connection_id, HV_STATUS_INVALID_CONNECTION_ID for an unknown id,
 * HV_STATUS_INVALID_PORT_ID for a message connection, else the handler's
 * status.
 */
uint16_t vmbus_synic_conns_signal(struct vmbus_synic_conns *t,
				  uint32_t connection_id, uint16_t flag);

/*
 * Guest-side ops over a connection table (ctx = struct vmbus_synic_conns *):
 * post_message = vmbus_synic_conns_post, signal_event =
 * vmbus_synic_conns_signal. An in-process carrier can hand these to a
 * guest-side bus as they are.
 */
extern const struct vmbus_hv_guest_ops vmbus_synic_conns_guest_ops;

/* ---- Hypercall decoding ------------------------------------------------ */

/*
 * A decoded, validated HvPostMessage or HvSignalEvent. Everything in it is
 * a copy taken before validation, so nothing here aliases guest memory.
 * A value type: the caller owns it (usually on the stack).
 */
struct vmbus_synic_hcall {
	uint16_t code;		/* HVCALL_POST_MESSAGE or HVCALL_SIGNAL_EVENT */
	bool fast;
	union {
		struct {
			uint32_t connection_id;
			uint32_t message_type;
			uint32_t payload_size;	/* <= 240 */
			uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
		} post;
		struct {
			uint32_t connection_id;
			uint16_t flag;		/* < 2048 */
		} signal;
	};
};

/*
 * Decode and check one hypercall as the guest issued it: @control (RCX),
 * @input (RDX: input GPA for a memory call, the argument itself for a fast
 * call). Guest memory is read once, through @mem, into @out. @conns (may
 * be NULL to skip the lookup) must know the connection id.
 *
 * Returns HV_STATUS_SUCCESS with @out filled, or:
 *  - HV_STATUS_INVALID_HYPERCALL_INPUT: a reserved control bit set
 *    (HV_HYPERCALL_RSVD_MASK), or a rep count, rep start index or variable
 *    header size on these simple calls (checked after the code);
 *  - HV_STATUS_INVALID_HYPERCALL_CODE: any code but PostMessage and
 *    SignalEvent, or PostMessage with the fast bit (as QEMU does);
 *  - HV_STATUS_INVALID_ALIGNMENT: an input GPA not 8-byte aligned, an
 *    input block that crosses a page boundary, or one outside guest RAM
 *    (the TLFS puts all three under this status; KVM agrees for
 *    SignalEvent);
 *  - HvPostMessage: HV_STATUS_INVALID_PARAMETER for a non-zero RsvdZ field
 *    or connection-id bits 31:24, message type 0 or with bit 31 set, or a
 *    payload size above 240; then the table checks of
 *    vmbus_synic_conns_post();
 *  - HvSignalEvent (fast, or slow with an 8-byte input block as KVM
 *    accepts): HV_STATUS_INVALID_HYPERCALL_INPUT for bits 63:48 or 31:24
 *    set, HV_STATUS_INVALID_PARAMETER for flag >= 2048, then the table
 *    checks of vmbus_synic_conns_signal().
 */
uint16_t vmbus_synic_hcall_decode(uint64_t control, uint64_t input,
				  const struct vmbus_synic_mem *mem,
				  struct vmbus_synic_conns *conns,
				  struct vmbus_synic_hcall *out);

/*
 * Hand a decoded call to its registered handler; returns the HV status
 * for the guest (HV_STATUS_INVALID_CONNECTION_ID if the id went away since
 * decoding).
 */
uint16_t vmbus_synic_hcall_dispatch(struct vmbus_synic_conns *conns,
				    const struct vmbus_synic_hcall *call);

/*
 * Decode then dispatch: the whole HvPostMessage/HvSignalEvent path of a
 * partition runner. The result goes to RAX (reps completed is always 0).
 */
uint16_t vmbus_synic_hcall_handle(uint64_t control, uint64_t input,
				  const struct vmbus_synic_mem *mem,
				  struct vmbus_synic_conns *conns);

/* ---- The SynIC --------------------------------------------------------- */

/*
 * Raise SINT @sint's interrupt (@vector, 16..255) on VP @vp. Called after
 * the SynIC has dropped its lock, so it may re-enter the SynIC (an
 * in-process guest may run its ISR and write EOM from inside it).
 */
typedef void vmbus_synic_raise_fn(void *opaque, uint32_t vp, uint32_t sint,
				  uint8_t vector);

/* Default per-slot queue bound: 16384 messages of 256 bytes (4 MiB). */
#define VMBUS_SYNIC_QUEUE_LIMIT_DEFAULT	16384u

/* Creation parameters (a value type the caller fills in). */
struct vmbus_synic_config {
	uint32_t vp_count;		/* 1..4096 */
	uint32_t queue_limit;		/* messages per (VP, SINT); 0: default */
	struct vmbus_synic_mem mem;	/* where SIMP/SIEFP pages live */
	vmbus_synic_raise_fn *raise;
	void *raise_opaque;
	struct vmbus_log log;		/* copied; zeroed discards */
};

/* Opaque SynIC of one partition. */
struct vmbus_synic;

/*
 * Create a SynIC for @cfg->vp_count VPs in the power-on state: SCONTROL,
 * SIMP and SIEFP 0, every SINT masked with vector 0, SVERSION 1. Returns 0,
 * -EINVAL for a bad config (no map or raise callback, vp_count out of
 * range) or -ENOMEM.
 */
int vmbus_synic_new(const struct vmbus_synic_config *cfg,
		    struct vmbus_synic **out);

/* Free a SynIC and every queued message (NULL is fine). */
void vmbus_synic_free(struct vmbus_synic *s);

/*
 * Back to the power-on state on every VP (a partition reset): registers
 * reset, pages unmapped, queued messages discarded. The only call that
 * discards messages.
 */
void vmbus_synic_reset(struct vmbus_synic *s);

/*
 * A guest WRMSR of a SynIC MSR on VP @vp. Returns 0, -ENOENT if @msr is not
 * a SynIC MSR (the caller tries its other MSRs), or -EINVAL when the write
 * must raise #GP; the register then keeps its old value. -EINVAL cases:
 * @vp out of range; SVERSION (read-only); reserved bits in SCONTROL
 * (63:1), SIMP/SIEFP (11:1) or SINTx (HV_SINT_RSVD_MASK); an unmasked SINT
 * with vector < 16; enabling SIMP/SIEFP on a page that is not guest RAM.
 * The last follows KVM, which zeroes the page on enable and faults the
 * write when it cannot; accepting it and never delivering would leave the
 * guest waiting forever. Enabling a page (or moving an enabled one) zeroes
 * it, like KVM. EOM (any value) and every write that may free a path
 * (unmask, SIMP enable, SCONTROL enable) retry the queued messages.
 */
int vmbus_synic_wrmsr(struct vmbus_synic *s, uint32_t vp, uint32_t msr,
		      uint64_t value);

/*
 * A guest RDMSR: 0 with *@value set (EOM reads 0), -ENOENT for a non-SynIC
 * MSR, -EINVAL for @vp out of range.
 */
int vmbus_synic_rdmsr(struct vmbus_synic *s, uint32_t vp, uint32_t msr,
		      uint64_t *value);

/*
 * Post a message to SINT @sint of VP @vp. If nothing is queued for the
 * slot, the SINT is unmasked, SCONTROL and SIMP are enabled and the slot's
 * message_type is HVMSG_NONE, the payload and header are written, then
 * message_type last (the guest polls it), and the SINT interrupt is
 * raised. Otherwise the message is queued (in order, never dropped) and
 * the busy slot is marked HV_MESSAGE_FLAG_PENDING so the guest writes EOM
 * after freeing it. Returns 0, -EINVAL (@vp/@sint out of range,
 * @message_type HVMSG_NONE, @size > 240, NULL @payload with @size),
 * -ENOBUFS when the slot's queue holds queue_limit messages (map to
 * HV_STATUS_INSUFFICIENT_BUFFERS), or -ENOMEM.
 */
int vmbus_synic_post(struct vmbus_synic *s, uint32_t vp, uint32_t sint,
		     uint32_t message_type, uint64_t sender,
		     const void *payload, size_t size);

/*
 * Set bit @flag of SINT @sint's bitmap in VP @vp's SIEFP page atomically.
 * Interrupts the VP only if the bit was clear and the SINT is unmasked; a
 * flag set while the SINT is masked raises the interrupt when the guest
 * unmasks it. Returns 1 if newly set, 0 if already set, -EINVAL for bad
 * arguments (@flag >= 2048), -ENODEV while SCONTROL or SIEFP is disabled
 * (map to HV_STATUS_INVALID_SYNIC_STATE).
 */
int vmbus_synic_set_event(struct vmbus_synic *s, uint32_t vp, uint32_t sint,
			  uint32_t flag);

/*
 * Try again to deliver queued messages on every SINT of VP @vp, for a
 * carrier that noticed a freed slot without an EOM (a guest that polls).
 * Returns the number of messages delivered or -EINVAL.
 */
int vmbus_synic_retry(struct vmbus_synic *s, uint32_t vp);

/* Messages queued for (@vp, @sint), not counting the one in the slot; or -EINVAL. */
int vmbus_synic_queued(struct vmbus_synic *s, uint32_t vp, uint32_t sint);

/*
 * Host-side ops over a SynIC (ctx = struct vmbus_synic *): deliver_message
 * = vmbus_synic_post with sender 0, set_event = vmbus_synic_set_event.
 */
extern const struct vmbus_hv_host_ops vmbus_synic_host_ops;

#endif
