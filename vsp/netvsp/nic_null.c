/* SPDX-License-Identifier: MIT */
/*
 * The null NIC backend: transmitted frames vanish (counted as sent, as a
 * wire with nobody on it would take them), nothing is ever received. Useful
 * to bring a guest's NIC up with no host networking, and to measure the
 * VMBus data path without a device behind it. No external formats.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nic.h"

struct null_nic {
	struct netvsp_nic *nic;
	int efd;	/* never signalled: gives event loops something to wait on */
};

static int null_open(struct netvsp_nic *nic, const struct netvsp_nic_spec *spec, void **priv)
{
	struct null_nic *n;

	(void)spec;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->nic = nic;
	n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->efd < 0) {
		int ret = -errno;

		free(n);
		return ret;
	}
	*priv = n;
	return 0;
}

static void null_close(void *priv)
{
	struct null_nic *n = priv;

	close(n->efd);
	free(n);
}

static int null_tx(void *priv, unsigned int q, const struct netvsp_nic_frame *frames,
		   unsigned int n)
{
	struct null_nic *nn = priv;
	uint64_t bytes = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		bytes += frames[i].len;
	NETVSP_NIC_STAT(nn->nic, q, tx_frames, n);
	NETVSP_NIC_STAT(nn->nic, q, tx_bytes, bytes);
	return (int)n;
}

static int null_rx(void *priv, unsigned int q, unsigned int budget, netvsp_nic_rx_fn *fn,
		   void *opaque)
{
	(void)priv;
	(void)q;
	(void)budget;
	(void)fn;
	(void)opaque;
	return 0;
}

static int null_rx_fd(void *priv, unsigned int q)
{
	(void)q;
	return ((struct null_nic *)priv)->efd;
}

const struct netvsp_nic_backend netvsp_nic_null_backend = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.tx = null_tx,
	.rx = null_rx,
	.rx_fd = null_rx_fd,
};
