/* SPDX-License-Identifier: MIT */
/*
 * Links: where a VMBus host and a VMBus guest meet without a hypervisor.
 *
 *  - The loop link puts both halves in one process (normally two threads).
 *    Guest RAM is one anonymous mapping registered in a GPA map.
 *  - The shm link puts them in two processes. The host creates guest RAM
 *    as a memfd and hands it, with one eventfd per direction, to the guest
 *    over a UNIX socket (SCM_RIGHTS). The guest reaches the host only
 *    through HvPostMessage and HvSignalEvent (carried by the socket and an
 *    eventfd) and its SynIC pages, which live in guest RAM and whose GPAs
 *    it announces the way it would write the SIMP/SIEFP MSRs.
 *
 * Both links implement the hypervisor interface of <vmbus/hv.h> on each
 * side: the host half is a SynIC model (<vmbus/synic.h>) feeding a bus
 * server (<vmbus/server.h>); the guest half is a bus client
 * (<vmbus/client.h>) with an interrupt handler that drains SIMP slot 2
 * and scans the SINT 2 event flags as a Hyper-V guest does (Linux
 * drivers/hv/vmbus_drv.c vmbus_on_msg_dpc, vmbus_chan_sched). Formats come
 * from include/vmbus/proto/tlfs.h and vmbus.h.
 *
 * The library owns no threads and no event loop. Each half hands out one
 * file descriptor to poll for POLLIN and a *_process() function that does
 * the work that is ready without blocking. The guest half also has
 * blocking helpers (connect, open, close, unload) that run its
 * interrupt handler until a reply arrives; they must not be called from
 * inside a callback.
 *
 * Threading: one thread at a time per half. The host half calls device
 * callbacks (struct vmbus_server_device_ops) from
 * vmbus_link_host_process() only; the guest half calls bus events and
 * channel callbacks from vmbus_link_guest_process() and its blocking
 * helpers only.
 *
 * Not freestanding: uses pthreads, eventfd, memfd and UNIX sockets.
 */
#ifndef VMBUS_LINK_H
#define VMBUS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/client.h>
#include <vmbus/gpa.h>
#include <vmbus/hv.h>
#include <vmbus/log.h>
#include <vmbus/server.h>

struct vmbus_link_host;
struct vmbus_link_guest;
struct vmbus_link_guest_channel;

/* Guest RAM when the configuration says 0: 64 MiB at GPA 0. */
#define VMBUS_LINK_RAM_DEFAULT		(64ull << 20)
/* Smallest guest RAM accepted: the SynIC pages and a few rings. */
#define VMBUS_LINK_RAM_MIN		(64ull * 4096)
/* Largest guest RAM accepted (so page counts fit 32 bits comfortably). */
#define VMBUS_LINK_RAM_MAX		(64ull << 30)

/* What the host hears about its guest (see guest_event below). */
enum vmbus_link_guest_event {
	VMBUS_LINK_GUEST_ARRIVED = 1,	/* a guest attached */
	VMBUS_LINK_GUEST_LEFT = 2,	/* it went away; the bus was reset */
};

/*
 * Host creation parameters. A value type the caller fills; copied.
 */
struct vmbus_link_host_config {
	/* Guest RAM bytes, a multiple of 4096 between VMBUS_LINK_RAM_MIN
	 * and VMBUS_LINK_RAM_MAX; 0 means VMBUS_LINK_RAM_DEFAULT. */
	uint64_t ram_size;
	/* shm link only: the UNIX socket path to listen on. An existing
	 * socket nobody listens on is replaced. */
	const char *socket_path;
	/* Optional: called from vmbus_link_host_process() when a guest
	 * arrives or leaves. On LEFT the server has already been reset:
	 * every channel closed (device closed callbacks ran), every GPADL
	 * dropped; registered offers stay for the next guest. */
	void (*guest_event)(void *ctx, enum vmbus_link_guest_event ev);
	void *ctx;
	/* Where the link's, the SynIC's and the server's log lines go. */
	struct vmbus_log log;
};

/*
 * Guest creation parameters. A value type the caller fills; copied.
 */
struct vmbus_link_guest_config {
	/* Bus events, forwarded from the client (any member may be NULL). */
	const struct vmbus_client_events *events;
	void *events_ctx;
	/* Client table sizes; 0 means 64 channels and 256 GPADLs. */
	unsigned int max_channels;
	unsigned int max_gpadls;
	struct vmbus_log log;
};

/* ---- Host half (both links) ------------------------------------------- */

/*
 * The bus server of this host. Register devices with
 * vmbus_server_add_offer() on the thread that calls
 * vmbus_link_host_process() (or before that thread starts). Valid until
 * vmbus_link_host_free().
 */
struct vmbus_server *vmbus_link_host_server(struct vmbus_link_host *h);

/* The guest RAM map, for devices that reach guest buffers (GPA direct,
 * GPADLs). Valid until vmbus_link_host_free(). */
const struct vmbus_gpa_map *vmbus_link_host_gpa_map(struct vmbus_link_host *h);

/* The file descriptor to poll for POLLIN; then call
 * vmbus_link_host_process(). Stable for the host's lifetime. */
int vmbus_link_host_fd(const struct vmbus_link_host *h);

/*
 * Do everything that is ready, without blocking: accept or drop a guest
 * (shm), run the guest's posted messages through the server, deliver its
 * channel signals to the devices, reset the bus when the guest went away.
 * Returns the number of items handled (0 when nothing was ready) or a
 * negative errno for a failure of the link itself (the caller should stop).
 */
int vmbus_link_host_process(struct vmbus_link_host *h);

/* True while a guest is attached. */
bool vmbus_link_host_has_guest(const struct vmbus_link_host *h);

/*
 * Free the host: the server (closed callbacks run for open channels), the
 * SynIC, guest RAM, descriptors; the shm link also removes its socket
 * path. A loop guest must be freed first. NULL is a no-op.
 */
void vmbus_link_host_free(struct vmbus_link_host *h);

/* ---- Loop link ----------------------------------------------------------- */

/*
 * Create a loop host: guest RAM, SynIC (one VP), server. socket_path is
 * ignored. Returns 0, -EINVAL (bad RAM size, NULL argument) or -ENOMEM /
 * another -errno from mmap or eventfd.
 */
int vmbus_link_loop_host_new(const struct vmbus_link_host_config *cfg,
			     struct vmbus_link_host **out);

/*
 * Attach a guest to loop host @h, in the same process. The guest enables
 * its SynIC (SIMP, SIEFP, SINT 2, SCONTROL) at once; the bus is still
 * disconnected (see vmbus_link_guest_connect()). Returns 0, -EINVAL,
 * -EBUSY (a guest is attached, or the host has not yet processed the
 * departure of the previous one: call again after its next process), or
 * -ENOMEM.
 */
int vmbus_link_loop_guest_new(struct vmbus_link_host *h,
			      const struct vmbus_link_guest_config *cfg,
			      struct vmbus_link_guest **out);

/* ---- Shm link -------------------------------------------------------------- */

/*
 * Create a shm host listening on cfg->socket_path. One guest at a time:
 * a second one is turned away (its vmbus_link_shm_guest_new() returns
 * -EBUSY). When the guest hangs up or dies, the next
 * vmbus_link_host_process() resets the bus (guest_event LEFT) and gives
 * the next guest fresh RAM. Returns 0, -EINVAL (no path, path too long,
 * bad RAM size), -EADDRINUSE (another host listens there), or another
 * -errno from socket/bind/listen/memfd.
 */
int vmbus_link_shm_host_new(const struct vmbus_link_host_config *cfg,
			    struct vmbus_link_host **out);

/*
 * Connect a guest process to the shm host at @path, map the guest RAM it
 * hands out and enable the SynIC. Returns 0, -ENOENT / -ECONNREFUSED
 * (no host listening on @path), -EBUSY (the host serves another guest),
 * -EPROTO (the host spoke something else), -EINVAL, -ENOMEM or another
 * -errno.
 */
int vmbus_link_shm_guest_new(const char *path,
			     const struct vmbus_link_guest_config *cfg,
			     struct vmbus_link_guest **out);

/* ---- Guest half (both links) ------------------------------------------- */

/*
 * Detach and free the guest. Open channels are not closed on the wire:
 * the host notices the guest leave and resets its bus. NULL is a no-op.
 */
void vmbus_link_guest_free(struct vmbus_link_guest *g);

/* The bus client; its requests may be used directly (the blocking helpers
 * below are conveniences over it). */
struct vmbus_client *vmbus_link_guest_client(struct vmbus_link_guest *g);

/* The guest's hypervisor calls (HvPostMessage, HvSignalEvent), e.g. for a
 * VSC that signals on its own. */
struct vmbus_hv_guest vmbus_link_guest_hv(struct vmbus_link_guest *g);

/* The file descriptor to poll for POLLIN (interrupts, and hang-up of the
 * shm host); then call vmbus_link_guest_process(). */
int vmbus_link_guest_fd(const struct vmbus_link_guest *g);

/*
 * The interrupt handler, without blocking: consume the interrupt, hand
 * every message in SIMP slot 2 to the client (writing EOM when the slot
 * was marked pending) and run the callback of every channel whose SINT 2
 * event flag was set. Returns the number of messages and channel events
 * handled, or -ECONNRESET once the host is gone.
 */
int vmbus_link_guest_process(struct vmbus_link_guest *g);

/*
 * Wait up to @timeout_ms (-1: forever) for an interrupt, then run the
 * handler as vmbus_link_guest_process() does. Returns what it returns, 0
 * on timeout.
 */
int vmbus_link_guest_wait(struct vmbus_link_guest *g, int timeout_ms);

/* True until the host went away (shm) or was freed (loop). */
bool vmbus_link_guest_alive(const struct vmbus_link_guest *g);

/*
 * Guest memory for rings and buffers: @npages zeroed pages of guest RAM,
 * contiguous. Returns the guest's pointer and sets *@gpa, or NULL when
 * no such run is free. Free with vmbus_link_guest_free_pages().
 */
void *vmbus_link_guest_alloc_pages(struct vmbus_link_guest *g, uint32_t npages,
				   uint64_t *gpa);

/* Give back pages from vmbus_link_guest_alloc_pages() (same @gpa and
 * @npages). Ranges that were not allocated are ignored. */
void vmbus_link_guest_free_pages(struct vmbus_link_guest *g, uint64_t gpa,
				 uint32_t npages);

/* The guest's pointer to guest RAM [gpa, gpa + len), or NULL outside it. */
void *vmbus_link_guest_ptr(struct vmbus_link_guest *g, uint64_t gpa,
			   uint64_t len);

/*
 * Blocking: negotiate the newest protocol version, ask for offers and
 * wait until ALLOFFERS_DELIVERED (offers reach events->offer on the way).
 * Returns 0, -ETIMEDOUT, -ECONNRESET (host gone), or the client's error
 * (-ENOTSUP, -EALREADY, ...).
 */
int vmbus_link_guest_connect(struct vmbus_link_guest *g, int timeout_ms);

/*
 * Blocking: UNLOAD and wait for its response. Every channel opened
 * through this link must be closed first (-EBUSY otherwise). Returns 0,
 * -ETIMEDOUT, -ECONNRESET or the client's error.
 */
int vmbus_link_guest_unload(struct vmbus_link_guest *g, int timeout_ms);

/* Called from the interrupt handler when the host signalled a channel. */
typedef void vmbus_link_guest_channel_fn(struct vmbus_link_guest_channel *gc,
					 void *ctx);

/* How to open a channel. A value type the caller fills. */
struct vmbus_link_guest_open {
	/* Pages per ring, control page included (>= 2); 0 means 16. */
	uint32_t ring_pages;
	/* Requests that may await a completion at once (vmbus_channel). */
	unsigned int max_requests;
	const void *userdata;		/* OPENCHANNEL user data, may be NULL */
	size_t userdata_len;		/* at most 120 */
	vmbus_link_guest_channel_fn *event;	/* may be NULL */
	void *event_ctx;
};

/*
 * Blocking: open offered channel @relid. Allocates both rings in guest
 * RAM, initialises them, creates the ring GPADL, sends OPENCHANNEL and
 * waits for the result; then builds the guest end (send on the
 * guest-to-host ring, signal by HvSignalEvent on the offer's connection
 * id). Returns 0 and sets *@out, -ETIMEDOUT, -ECONNRESET, -ENOMEM (no
 * guest RAM left), -EINVAL, or the client's error (-EIO refused,
 * -ENODEV rescinded, -ENOENT unknown relid, -EBUSY already open).
 */
int vmbus_link_guest_channel_open(struct vmbus_link_guest *g, uint32_t relid,
				  const struct vmbus_link_guest_open *params,
				  int timeout_ms,
				  struct vmbus_link_guest_channel **out);

/* The channel end to send and receive on. */
struct vmbus_channel *vmbus_link_guest_channel_end(struct vmbus_link_guest_channel *gc);

/* The channel's relid. */
uint32_t vmbus_link_guest_channel_relid(const struct vmbus_link_guest_channel *gc);

/* Bytes of the largest in-band payload the guest-to-host ring can carry. */
uint32_t vmbus_link_guest_channel_max_payload(const struct vmbus_link_guest_channel *gc);

/*
 * Blocking: close the channel (CLOSECHANNEL, ring GPADL teardown), free
 * its rings and @gc. A rescinded channel may be closed this way too; the
 * client then releases the relid. Returns 0 or a negative errno. When the
 * close cannot start (-EBUSY: not open, -ENOENT, a post error such as
 * -EIO) nothing changed and @gc stays valid; after any other result @gc
 * is gone, and after -ETIMEDOUT, -ECONNRESET or a failed teardown its
 * rings stay allocated (the host may still use them).
 */
int vmbus_link_guest_channel_close(struct vmbus_link_guest_channel *gc,
				   int timeout_ms);

#endif
