/* SPDX-License-Identifier: MIT */
/*
 * The libpcap NIC backend, in two shapes:
 *   - files: each record of IN is received by the guest once, in order;
 *     the guest's frames are appended to OUT. Either may be absent.
 *   - live: a host interface opened in promiscuous, immediate mode;
 *     frames the interface sees coming in go to the guest, the guest's
 *     frames are injected.
 * Offloads are done in software (nic.c), so OUT and the wire see complete
 * frames with correct checksums, LSO frames cut into segments.
 *
 * Limitation of live mode: a frame that reaches the interface from a local
 * source (another tap, a veth, a local socket) may still carry a partial
 * checksum, and libpcap does not say so (the kernel's "checksum not ready"
 * packet status is not exposed by pcap_next_ex). Such frames reach the
 * guest with the pseudo-header seed in the checksum field. Frames from a
 * physical wire are complete. The TAP backend has no such gap.
 *
 * Formats: pcap-savefile(5) through libpcap (pcap_open_offline,
 * pcap_dump_open, pcap_create/pcap_activate, pcap_inject), LINKTYPE_ETHERNET.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "nic.h"

struct pcap_nic {
	struct netvsp_nic *nic;
	const struct vmbus_log *log;
	bool live;
	pcap_t *in;			/* replay file or live handle */
	pcap_t *dead;			/* out file's handle */
	pcap_dumper_t *out;
	int efd;			/* replay: readable while records remain */
	int fd;				/* what rx_fd returns */
	bool eof;
	/* A frame the callback refused, offered again first. */
	bool held;
	struct pcap_pkthdr *held_hdr;
	const u_char *held_data;
	uint8_t *lin, *scratch;		/* software offload buffers */
};

static void pcap_nic_close(void *priv)
{
	struct pcap_nic *p = priv;

	if (p->out) {
		pcap_dump_flush(p->out);
		pcap_dump_close(p->out);
	}
	if (p->dead)
		pcap_close(p->dead);
	if (p->in)
		pcap_close(p->in);
	if (p->efd >= 0)
		close(p->efd);
	free(p->lin);
	free(p->scratch);
	free(p);
}

static int open_live(struct pcap_nic *p, const char *ifname)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int ret;

	p->in = pcap_create(ifname, errbuf);
	if (!p->in) {
		vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s: %s", ifname, errbuf);
		return -ENODEV;
	}
	/* Immediate mode: a frame must reach the guest now, not when a
	 * capture buffer fills. */
	pcap_set_snaplen(p->in, NETVSP_NIC_FRAME_MAX);
	pcap_set_promisc(p->in, 1);
	pcap_set_immediate_mode(p->in, 1);
	ret = pcap_activate(p->in);
	if (ret < 0) {
		vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s: %s", ifname, pcap_geterr(p->in));
		return ret == PCAP_ERROR_PERM_DENIED ? -EPERM :
		       ret == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV : -EIO;
	}
	if (pcap_datalink(p->in) != DLT_EN10MB) {
		vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s is not an Ethernet interface", ifname);
		return -EPROTONOSUPPORT;
	}
	/* Without this the guest would receive its own transmitted frames
	 * back from the capture. */
	if (pcap_setdirection(p->in, PCAP_D_IN) < 0)
		vmbus_logf(p->log, VMBUS_LOG_WARN, "pcap: %s: cannot capture inbound only; "
			   "the guest will see its own frames", ifname);
	if (pcap_setnonblock(p->in, 1, errbuf) < 0) {
		vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s: %s", ifname, errbuf);
		return -EIO;
	}
	p->fd = pcap_get_selectable_fd(p->in);
	if (p->fd < 0) {
		vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s: no selectable descriptor", ifname);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int open_files(struct pcap_nic *p, const struct netvsp_nic_spec *spec)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	uint64_t one = 1;

	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0)
		return -errno;
	p->fd = p->efd;
	if (spec->in_path) {
		p->in = pcap_open_offline(spec->in_path, errbuf);
		if (!p->in) {
			vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s", errbuf);
			return -ENOENT;
		}
		if (pcap_datalink(p->in) != DLT_EN10MB) {
			vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s: not an Ethernet capture "
				   "(link type %d)", spec->in_path, pcap_datalink(p->in));
			return -EPROTONOSUPPORT;
		}
		if (write(p->efd, &one, sizeof(one)) != sizeof(one))
			return -errno;
	} else {
		p->eof = true;
	}
	if (spec->out_path) {
		p->dead = pcap_open_dead(DLT_EN10MB, NETVSP_CAPTURE_SNAPLEN);
		if (!p->dead)
			return -ENOMEM;
		p->out = pcap_dump_open(p->dead, spec->out_path);
		if (!p->out) {
			vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: %s", pcap_geterr(p->dead));
			return -EACCES;
		}
	}
	return 0;
}

static int pcap_nic_open(struct netvsp_nic *nic, const struct netvsp_nic_spec *spec,
			 void **priv)
{
	struct pcap_nic *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nic = nic;
	p->log = netvsp_nic_log(nic);
	p->efd = -1;
	p->fd = -1;
	p->live = spec->live;
	p->lin = malloc(NETVSP_NIC_FRAME_MAX);
	p->scratch = malloc(NETVSP_NIC_FRAME_MAX);
	if (!p->lin || !p->scratch) {
		pcap_nic_close(p);
		return -ENOMEM;
	}
	ret = p->live ? open_live(p, spec->ifname) : open_files(p, spec);
	if (ret) {
		pcap_nic_close(p);
		return ret;
	}
	*priv = p;
	return 0;
}

static int emit_file(void *opaque, uint8_t *frame, size_t len)
{
	struct pcap_nic *p = opaque;
	struct pcap_pkthdr h;

	gettimeofday(&h.ts, NULL);
	h.caplen = (bpf_u_int32)len;
	h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)p->out, &h, frame);
	return 0;
}

static int emit_live(void *opaque, uint8_t *frame, size_t len)
{
	struct pcap_nic *p = opaque;

	return pcap_inject(p->in, frame, len) == (int)len ? 0 : -EIO;
}

static int pcap_nic_tx(void *priv, unsigned int q, const struct netvsp_nic_frame *frames,
		       unsigned int n)
{
	struct pcap_nic *p = priv;
	unsigned int i, sent = 0;
	int ret;

	for (i = 0; i < n; i++) {
		if (!p->live && !p->out) {
			/* Replay only: the guest's frames have nowhere to go
			 * and vanish as on the null NIC. */
			ret = frames[i].len ? 1 : -EINVAL;
			if (ret < 0)
				NETVSP_NIC_STAT(p->nic, q, tx_drop_invalid, 1);
		} else {
			/* Counts its own -EINVAL drops. */
			ret = netvsp_nic_tx_soft(p->nic, q, &frames[i], p->lin, p->scratch,
						 p->live ? emit_live : emit_file, p);
			if (ret < 0 && ret != -EINVAL) {
				NETVSP_NIC_STAT(p->nic, q, tx_drop_error, 1);
				vmbus_logf(p->log, VMBUS_LOG_DEBUG, "pcap: inject failed: %s",
					   pcap_geterr(p->in));
			}
		}
		if (ret < 0)
			continue;
		NETVSP_NIC_STAT(p->nic, q, tx_frames, 1);
		NETVSP_NIC_STAT(p->nic, q, tx_bytes, frames[i].len);
		sent++;
	}
	return (int)sent;
}

/* The replay is over: stop the eventfd from waking the caller. */
static void replay_done(struct pcap_nic *p)
{
	uint64_t v;

	p->eof = true;
	if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vmbus_logf(p->log, VMBUS_LOG_WARN, "pcap: eventfd read failed");
}

static int pcap_nic_rx(void *priv, unsigned int q, unsigned int budget, netvsp_nic_rx_fn *fn,
		       void *opaque)
{
	struct pcap_nic *p = priv;
	struct netvsp_nic_rx_info info = { 0, 0 };
	int done = 0, ret;

	if (!p->in || p->eof)
		return 0;
	while ((unsigned int)done < budget) {
		struct pcap_pkthdr *h;
		const u_char *data;

		if (p->held) {
			h = p->held_hdr;
			data = p->held_data;
		} else {
			ret = pcap_next_ex(p->in, &h, &data);
			if (ret == 0)
				break;		/* live: nothing waiting */
			if (ret == PCAP_ERROR_BREAK) {
				replay_done(p);
				break;
			}
			if (ret < 0) {
				NETVSP_NIC_STAT(p->nic, q, rx_drop_error, 1);
				vmbus_logf(p->log, VMBUS_LOG_ERR, "pcap: read failed: %s",
					   pcap_geterr(p->in));
				if (!p->live)
					replay_done(p);
				return done ? done : -EIO;
			}
		}
		/* A record cut short by the capture's snaplen is not the
		 * frame that was on the wire. */
		if (h->caplen < h->len || h->caplen < 14) {
			p->held = false;
			NETVSP_NIC_STAT(p->nic, q, rx_drop_invalid, 1);
			continue;
		}
		if (h->caplen > NETVSP_NIC_FRAME_MAX) {
			p->held = false;
			NETVSP_NIC_STAT(p->nic, q, rx_drop_oversize, 1);
			continue;
		}
		if (fn(opaque, q, data, h->caplen, &info)) {
			/* libpcap keeps h and data until the next read. */
			p->held = true;
			p->held_hdr = h;
			p->held_data = data;
			break;
		}
		p->held = false;
		done++;
	}
	return done;
}

static int pcap_nic_rx_fd(void *priv, unsigned int q)
{
	(void)q;
	return ((struct pcap_nic *)priv)->fd;
}

const struct netvsp_nic_backend netvsp_nic_pcap_backend = {
	.name = "pcap",
	.open = pcap_nic_open,
	.close = pcap_nic_close,
	.tx = pcap_nic_tx,
	.rx = pcap_nic_rx,
	.rx_fd = pcap_nic_rx_fd,
};
