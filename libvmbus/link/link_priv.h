/* SPDX-License-Identifier: MIT */
/*
 * Private to libvmbus/link: the host and guest halves both links share
 * (host.c, guest.c), and the few hooks by which loop.c and shm.c plug a
 * transport under them. The SynIC page formats are those of
 * include/vmbus/proto/tlfs.h.
 */
#ifndef VMBUS_LINK_PRIV_H
#define VMBUS_LINK_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <vmbus/link.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/proto/vmbus.h>
#include <vmbus/synic.h>

/*
 * The guest-to-host doorbell: one bit per relid (bit relid of word
 * relid / 64), set by the guest's HvSignalEvent on the channel's
 * connection id, taken by the host with an atomic exchange. It lives in
 * one page next to guest RAM (outside its GPA range), so in the shm link
 * the guest process sets bits without a system call and only the wake-up
 * costs an eventfd write. Everything in it is guest-written.
 */
#define LINK_DOORBELL_WORDS	(HV_EVENT_FLAGS_COUNT / 64)

struct link_doorbell {
	uint64_t bits[LINK_DOORBELL_WORDS];
};

/* Messages the guest posted, waiting for the host thread. */
#define LINK_INBOX_LEN		512

struct link_inbox_msg {
	uint32_t connection_id;
	uint32_t size;
	uint8_t data[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
};

struct vmbus_link_host;

/* What a transport does for the shared host half. */
struct link_host_ops {
	/* Interrupt the guest (SINT 2 of VP 0): any thread. */
	void (*raise)(struct vmbus_link_host *h);
	/* The transport's part of vmbus_link_host_process(). */
	int (*process)(struct vmbus_link_host *h);
	/* Release the transport's resources (the shared part follows). */
	void (*destroy)(struct vmbus_link_host *h);
};

struct vmbus_link_host {
	const struct link_host_ops *ops;
	struct vmbus_link_host_config cfg;
	struct vmbus_log log;
	int fd;				/* what vmbus_link_host_fd() returns */
	/* Guest RAM at GPA 0, then the doorbell page: one mapping of
	 * ram_size + HV_PAGE_SIZE bytes. */
	uint8_t *ram;
	uint64_t ram_size;
	struct link_doorbell *doorbell;
	struct vmbus_gpa_map *map;
	struct vmbus_synic *synic;
	struct vmbus_synic_conns *conns;
	struct vmbus_server *srv;
	/* Posted messages: filled by the connection handler on whatever
	 * thread posts, drained on the host thread. */
	pthread_mutex_t lock;
	bool lock_ready;
	struct link_inbox_msg *inbox;
	unsigned int in_head, in_tail;
	bool guest;			/* a guest is attached */
	void *priv;			/* the transport's state */
};

/*
 * Set up the shared host half over guest RAM @ram (ram_size bytes plus
 * one doorbell page, zeroed). On error everything set up is undone by
 * link_host_fini().
 */
int link_host_init(struct vmbus_link_host *h,
		   const struct vmbus_link_host_config *cfg, void *ram,
		   const struct link_host_ops *ops);

/* Free the shared host half (the RAM mapping stays the caller's). */
void link_host_fini(struct vmbus_link_host *h);

/* Run queued posts through the server, then doorbell bits through
 * vmbus_server_signal(). Host thread. Returns the number handled. */
int link_host_drain(struct vmbus_link_host *h);

/* The guest is gone: drop its queued posts and doorbell bits, reset the
 * server and the SynIC. Host thread. Does not touch guest RAM. */
void link_host_reset(struct vmbus_link_host *h);

/* Tell the configured callback. */
void link_host_event(struct vmbus_link_host *h, enum vmbus_link_guest_event ev);

/* Check a configured RAM size; returns the size to use or 0 if bad. */
uint64_t link_ram_size(uint64_t requested);

/* ---- Guest half ------------------------------------------------------------ */

/* What a transport does for the shared guest half. */
struct link_guest_ops {
	/* A guest WRMSR of a SynIC MSR on VP 0: 0 or -errno (#GP). */
	int (*wrmsr)(struct vmbus_link_guest *g, uint32_t msr, uint64_t value);
	/* Carry HvPostMessage to the host, which checks it; returns the
	 * HV status the hypercall would. */
	uint16_t (*post)(struct vmbus_link_guest *g, uint32_t connection_id,
			 uint32_t message_type, const void *payload,
			 uint32_t size);
	/* Ring the host's doorbell after setting a bit. */
	void (*kick)(struct vmbus_link_guest *g);
	/* Wait up to timeout_ms for an interrupt and consume it: 1
	 * interrupted, 0 timeout, -ECONNRESET host gone. */
	int (*wait)(struct vmbus_link_guest *g, int timeout_ms);
	/* Detach from the host and release the transport. */
	void (*destroy)(struct vmbus_link_guest *g);
};

/* A blocking helper's wait state, filled by a client done callback. */
struct link_done {
	bool done;
	int err;
};

struct vmbus_link_guest {
	const struct link_guest_ops *ops;
	struct vmbus_log log;
	int fd;				/* what vmbus_link_guest_fd() returns */
	bool dead;
	/* Guest RAM as this guest maps it, GPA 0 .. ram_size. */
	uint8_t *ram;
	uint64_t ram_size;
	struct link_doorbell *doorbell;
	struct hv_message_page *simp;
	struct hv_synic_event_flags_page *siefp;
	/* Page allocator: one bit per guest page, set = in use. */
	uint64_t *page_bits;
	uint32_t page_count;
	/* The bus client and what it is waiting for. */
	struct vmbus_client *cl;
	void *cl_mem;
	struct vmbus_client_events events;
	const struct vmbus_client_events *user_events;
	void *user_ctx;
	bool offers_delivered;
	struct link_done connect_done, unload_done;
	/* Channels opened through the link, by relid. */
	struct vmbus_link_guest_channel *chans[HV_EVENT_FLAGS_COUNT];
	struct vmbus_link_guest_channel *zombies;
	void *priv;			/* the transport's state */
};

/*
 * Set up the shared guest half over guest RAM @ram and @doorbell, then
 * enable the SynIC through ops->wrmsr. g->ops, g->fd and g->priv must be
 * set. On error the caller frees with link_guest_fini().
 */
int link_guest_init(struct vmbus_link_guest *g,
		    const struct vmbus_link_guest_config *cfg, void *ram,
		    uint64_t ram_size, struct link_doorbell *doorbell);

/* Free the shared guest half (not RAM, not the transport). */
void link_guest_fini(struct vmbus_link_guest *g);

#endif
