// SPDX-License-Identifier: MIT
/*
 * vmbus-guest: a guest process for vmbus-host. It attaches through the shm
 * link (include/vmbus/link.h), connects the bus as a Hyper-V guest would
 * and runs one command: list the offers, or push packets through the echo
 * device and check every one.
 *
 * Commands sit in a table (below) so more (disks, read, write, verify,
 * nic, tap) plug in beside these.
 *
 * Offer and packet formats: include/vmbus/proto/vmbus.h; class GUIDs from
 * the same header and examples/echo_dev.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/link.h>
#include <vmbus/storvsc.h>

#include "echo_dev.h"
#include "socket_path.h"
#include "guest.h"

/* ---- Messages ------------------------------------------------------------------ */

static void log_line(void *opaque, int level, const char *fmt, va_list ap)
{
	(void)opaque;
	fprintf(stderr, "%s: %s", PROG, level <= VMBUS_LOG_WARN ? "warning: " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void guest_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Explain a link or bus error in the user's terms. */
void guest_link_err(const struct guest *gs, const char *what, int ret)
{
	switch (ret) {
	case -ENOENT:
	case -ECONNREFUSED:
		guest_err("no host listening on %s (start vmbus-host --socket %s)",
		    gs->socket_path, gs->socket_path);
		break;
	case -EBUSY:
		guest_err("the host on %s is serving another guest", gs->socket_path);
		break;
	case -EPROTO:
		guest_err("%s does not speak the vmbus link protocol", gs->socket_path);
		break;
	case -ETIMEDOUT:
		guest_err("%s: the host did not answer within %d ms", what, gs->timeout_ms);
		break;
	case -ECONNRESET:
		guest_err("%s: the host went away", what);
		break;
	default:
		guest_err("%s: %s", what, strerror(-ret));
		break;
	}
}

/* ---- Offers ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	struct vmbus_guid guid;
} classes[] = {
	{ "scsi", VMBUS_GUID_SCSI },
	{ "ide", VMBUS_GUID_IDE },
	{ "network", VMBUS_GUID_NET },
	{ "echo", ECHO_DEV_CLASS },
};

const char *guest_class_name(const struct vmbus_guid *g)
{
	unsigned int i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (!memcmp(g, &classes[i].guid, sizeof(*g)))
			return classes[i].name;
	return "unknown";
}


static void ev_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	struct guest *gs = ctx;

	if (gs->noffers < MAX_OFFERS)
		gs->offers[gs->noffers++] = *o;
}

static const struct vmbus_client_events events = {
	.offer = ev_offer,
};

static int cmd_offers(struct guest *gs, int argc, char **argv)
{
	unsigned int i;

	(void)argv;
	if (argc > 1) {
		guest_err("offers takes no arguments");
		return 2;
	}
	for (i = 0; i < gs->noffers; i++) {
		const struct vmbus_msg_offer *o = &gs->offers[i];
		char type[VMBUS_GUID_STR_SIZE], inst[VMBUS_GUID_STR_SIZE];

		vmbus_guid_format(&o->if_type, type);
		vmbus_guid_format(&o->if_instance, inst);
		printf("%-8s class %s  instance %s  relid %u  subchannel %u\n",
		       guest_class_name(&o->if_type), type, inst, o->child_relid,
		       o->sub_channel_index);
	}
	if (!gs->noffers)
		printf("(no offers)\n");
	return 0;
}

/* ---- Echo ---------------------------------------------------------------------------- */

#define ECHO_WINDOW	8

struct echo_slot {
	uint32_t seq;
	uint32_t len;
	bool busy;
};

struct echo_run {
	struct guest *gs;
	struct vmbus_channel *ch;
	uint32_t max;
	uint8_t *tx, *rx;
	size_t rxlen;
	struct echo_slot slots[ECHO_WINDOW];
	unsigned int inflight;
	uint64_t bytes;
	uint32_t min_len, max_len;
};

static uint8_t pattern(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 151u + i * 13u + (i >> 9));
}

/* Packet seq's size: first the edges, then sizes spread over the whole
 * range so the ring wraps at ever different offsets. */
static uint32_t echo_size(const struct echo_run *r, uint32_t seq)
{
	const uint32_t edges[] = { 0, 1, 7, 8, 9, 64, 1500, 4095, 4096, 4097 };
	uint32_t n = sizeof(edges) / sizeof(edges[0]);

	if (seq < n)
		return edges[seq] <= r->max ? edges[seq] : r->max;
	switch (seq - n) {
	case 0: return r->max;
	case 1: return r->max - 1;
	case 2: return r->max - 8;
	case 3: return r->max / 2 + 3;
	}
	if (seq % 4 == 0)
		return 64;
	return (uint32_t)(((uint64_t)seq * 2654435761u) % ((uint64_t)r->max + 1));
}

/* Check one echo. Returns 0 or 1 with a message. */
static int echo_check(struct echo_run *r, const struct vmbus_channel_packet *pkt)
{
	struct echo_slot *s = pkt->cookie;
	const uint8_t *p = pkt->payload;
	uint32_t i;

	if (pkt->type != VM_PKT_COMP || !s || !s->busy) {
		guest_err("echo: unexpected packet (type %u, transaction %llu)", pkt->type,
		    (unsigned long long)pkt->trans_id);
		return 1;
	}
	/* The device echoes the payload as the ring carries it: padded to 8. */
	if (pkt->payload_len != ((s->len + 7) & ~7u)) {
		guest_err("echo: packet %u: sent %u bytes, got %u back", s->seq, s->len,
		    pkt->payload_len);
		return 1;
	}
	for (i = 0; i < s->len; i++) {
		if (p[i] != pattern(s->seq, i)) {
			guest_err("echo: packet %u (%u bytes) came back different at byte %u",
			    s->seq, s->len, i);
			return 1;
		}
	}
	r->bytes += s->len;
	if (s->len < r->min_len)
		r->min_len = s->len;
	if (s->len > r->max_len)
		r->max_len = s->len;
	s->busy = false;
	r->inflight--;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Send packets [from, to) with up to @window in flight and check each
 * echo. A full ring is normal here: the send waits for the device to
 * catch up, the device waits for us to read its replies.
 */
static int echo_phase(struct echo_run *r, uint32_t from, uint32_t to,
		      unsigned int window)
{
	struct vmbus_channel_packet pkt;
	uint32_t next = from, done = from;
	int64_t idle_since = now_ms();
	int ret;

	while (done < to) {
		bool progress = false;
		unsigned int k;

		while (next < to && r->inflight < window) {
			uint32_t len = echo_size(r, next), i;

			for (k = 0; r->slots[k].busy; k++)
				;
			for (i = 0; i < len; i++)
				r->tx[i] = pattern(next, i);
			ret = vmbus_channel_send_request(r->ch, r->tx, len, &r->slots[k], NULL);
			if (ret == -EAGAIN)
				break;
			if (ret) {
				guest_err("echo: sending packet %u (%u bytes): %s", next, len,
				    strerror(-ret));
				return 1;
			}
			r->slots[k] = (struct echo_slot){ .seq = next, .len = len, .busy = true };
			r->inflight++;
			next++;
			progress = true;
		}
		while ((ret = vmbus_channel_recv_next(r->ch, r->rx, r->rxlen, &pkt)) == 1) {
			if (echo_check(r, &pkt))
				return 1;
			done++;
			progress = true;
		}
		if (ret < 0) {
			guest_err("echo: receiving: %s", strerror(-ret));
			return 1;
		}
		vmbus_channel_recv_end(r->ch);
		if (progress) {
			idle_since = now_ms();
			continue;
		}
		if (now_ms() - idle_since > r->gs->timeout_ms) {
			guest_err("echo: no echo for %d ms (%u of %u back)", r->gs->timeout_ms,
			    done, to);
			return 1;
		}
		ret = vmbus_link_guest_wait(r->gs->g, 100);
		if (ret < 0) {
			guest_link_err(r->gs, "echo", ret);
			return 1;
		}
	}
	return 0;
}

static int cmd_echo(struct guest *gs, int argc, char **argv)
{
	struct vmbus_link_guest_open op = { .ring_pages = 16, .max_requests = ECHO_WINDOW };
	const struct vmbus_guid echo = ECHO_DEV_CLASS;
	struct vmbus_link_guest_channel *gc;
	struct echo_run r = { .gs = gs, .min_len = UINT32_MAX };
	uint32_t count = 1000, relid = 0, half;
	int64_t t0, t1;
	unsigned int i;
	int ret, status;

	for (i = 1; i < (unsigned int)argc; i++) {
		char *end;
		unsigned long v;

		if ((!strcmp(argv[i], "--count") || !strcmp(argv[i], "--ring-pages")) &&
		    i + 1 < (unsigned int)argc) {
			v = strtoul(argv[i + 1], &end, 0);
			if (*end || v == 0 || v > 100000000) {
				guest_err("echo: bad number '%s' for %s", argv[i + 1], argv[i]);
				return 2;
			}
			if (!strcmp(argv[i], "--count")) {
				count = (uint32_t)v;
			} else {
				if (v < 2 || v > 256) {
					guest_err("echo: --ring-pages wants 2..256");
					return 2;
				}
				op.ring_pages = (uint32_t)v;
			}
			i++;
			continue;
		}
		guest_err("echo: unknown argument '%s' (try --help)", argv[i]);
		return 2;
	}
	for (i = 0; i < gs->noffers; i++)
		if (!memcmp(&gs->offers[i].if_type, &echo, sizeof(echo))) {
			relid = gs->offers[i].child_relid;
			break;
		}
	if (!relid) {
		guest_err("the host offers no echo device (start vmbus-host with --echo)");
		return 1;
	}
	ret = vmbus_link_guest_channel_open(gs->g, relid, &op, gs->timeout_ms, &gc);
	if (ret) {
		guest_link_err(gs, "opening the echo channel", ret);
		return 1;
	}
	r.ch = vmbus_link_guest_channel_end(gc);
	r.max = vmbus_link_guest_channel_max_payload(gc);
	r.rxlen = (size_t)r.max + 64;
	r.tx = malloc(r.max + 64);
	r.rx = malloc(r.rxlen);
	if (!r.tx || !r.rx) {
		guest_err("out of memory");
		return 1;
	}
	/* Half one at a time, half pipelined. */
	half = count / 2;
	t0 = now_ms();
	status = echo_phase(&r, 0, half, 1);
	if (!status)
		status = echo_phase(&r, half, count, ECHO_WINDOW);
	t1 = now_ms();
	ret = vmbus_link_guest_channel_close(gc, gs->timeout_ms);
	if (ret && !status) {
		guest_link_err(gs, "closing the echo channel", ret);
		status = 1;
	}
	if (!status)
		printf("echo: %u packets of %u..%u bytes (ring max %u), %.1f MiB, all intact, %lld ms\n",
		       count, r.min_len, r.max_len, r.max, r.bytes / 1048576.0,
		       (long long)(t1 - t0));
	free(r.tx);
	free(r.rx);
	return status;
}

/* ---- Command table and main ---------------------------------------------------------- */

static const struct guest_command offers_command = {
	"offers", "", "list the host's channel offers: class, instance, relid, subchannel",
	cmd_offers
};

static const struct guest_command echo_command = {
	"echo", "[--count N] [--ring-pages N]",
	  "send N packets (default 1000) of many sizes through the echo device,\n"
	  "\t\t\tone at a time then 8 in flight, including ring-wrapping and\n"
	"\t\t\tmaximum sizes; exit 0 only if every echo matches", cmd_echo
};

static const struct guest_command *const commands[] = {
	&offers_command,
	&echo_command,
	&disks_command,
	&read_command,
	&write_command,
	&verify_command,
	&watch_command,
	&nic_command, &tap_command,
	/* Storage and network commands plug in here. */
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	char path[256];
	unsigned int i;

	default_socket(path, sizeof(path));
	fprintf(f,
		"Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
		"Attach to a vmbus-host as a guest, connect the VMBus and run COMMAND.\n"
		"\n"
		"Options:\n"
		"  --socket PATH         the host's UNIX socket (default %s)\n"
		"  --timeout MS          give up on a silent host after MS ms (default 5000)\n"
		"  --subchannels N       storage: ask the SCSI controller for N subchannels\n"
		"                        and spread the I/O over them (default 0)\n"
		"  -v, --verbose         more log lines (twice: protocol debugging)\n"
		"  -h, --help            this text\n"
		"\n"
		"Commands:\n", path);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s %s\n\t\t\t%s\n", commands[i]->name, commands[i]->args,
			commands[i]->help);
}

int main(int argc, char **argv)
{
	struct vmbus_link_guest_config cfg = { 0 };
	struct guest gs = { .timeout_ms = 5000 };
	char pathbuf[256];
	unsigned int c;
	int i, ret, status;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			gs.verbose++;
		} else if (!strcmp(argv[i], "-vv")) {
			gs.verbose += 2;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			gs.socket_path = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 0);

			if (*end || v <= 0 || v > 3600000) {
				guest_err("--timeout wants milliseconds, not '%s'", argv[i]);
				return 2;
			}
			gs.timeout_ms = (int)v;
		} else if (!strcmp(argv[i], "--subchannels") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 0);

			if (*end || v < 0 || v >= (long)STORVSC_MAX_CHANNELS) {
				guest_err("--subchannels wants 0 to %u, not '%s'",
				    STORVSC_MAX_CHANNELS - 1, argv[i]);
				return 2;
			}
			gs.subchannels = (unsigned int)v;
		} else {
			guest_err("unknown or incomplete option '%s' (try --help)", argv[i]);
			return 2;
		}
	}
	if (i == argc) {
		guest_err("no command given (try --help)");
		return 2;
	}
	for (c = 0; c < NCOMMANDS; c++)
		if (!strcmp(argv[i], commands[c]->name))
			break;
	if (c == NCOMMANDS) {
		guest_err("unknown command '%s' (try --help)", argv[i]);
		return 2;
	}
	if (!gs.socket_path) {
		default_socket(pathbuf, sizeof(pathbuf));
		gs.socket_path = pathbuf;
	}
	gs.log.fn = log_line;
	gs.log.max_level = gs.verbose >= 2 ? VMBUS_LOG_DEBUG :
			   gs.verbose ? VMBUS_LOG_INFO : VMBUS_LOG_WARN;
	cfg.events = &events;
	cfg.events_ctx = &gs;
	cfg.log = gs.log;

	ret = vmbus_link_shm_guest_new(gs.socket_path, &cfg, &gs.g);
	if (ret) {
		guest_link_err(&gs, "attaching", ret);
		return 1;
	}
	ret = vmbus_link_guest_connect(gs.g, gs.timeout_ms);
	if (ret) {
		guest_link_err(&gs, "connecting the bus", ret);
		vmbus_link_guest_free(gs.g);
		return 1;
	}
	status = commands[c]->run(&gs, argc - i, argv + i);
	ret = vmbus_link_guest_unload(gs.g, gs.timeout_ms);
	if (ret && !status) {
		guest_link_err(&gs, "unloading the bus", ret);
		status = 1;
	}
	vmbus_link_guest_free(gs.g);
	return status;
}
