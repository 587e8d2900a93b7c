/* SPDX-License-Identifier: MIT */
/*
 * libvhdi backend of storvsp disks: dynamic and differencing VHD, and VHDX
 * (fixed, dynamic, differencing), read-only.
 *
 * API: libvhdi 20210425 (/usr/include/libvhdi.h): libvhdi_file_open,
 * get_media_size, get_bytes_per_sector, get_disk_type,
 * get_utf8_parent_filename, set_parent_file, read_buffer_at_offset. Formats
 * behind it: Microsoft VHD specification 1.0 and MS-VHDX.
 *
 * libvhdi reads are synchronous, so each disk has a worker thread: a queue
 * hands it a request, it reads straight into the guest's iovecs and wakes
 * the queue through ioq_complete_async(). A slow image read then stalls
 * neither the channel loop nor other channels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libvhdi.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"

struct disk_vhdi {
	/* files[0] is the image, files[i + 1] the parent of files[i]. */
	libvhdi_file_t *files[DISK_VHDI_MAX_CHAIN];
	unsigned int nfiles;
	/* A libvhdi handle keeps a current offset: one reader at a time. */
	pthread_mutex_t io_lock;

	pthread_mutex_t lock;		/* guards the fields below */
	pthread_cond_t cond;
	struct ioq_req *head, *tail;
	bool stop;
	bool running;
	pthread_t thread;
};

static void log_vhdi_error(struct storvsp_disk *d, const char *file, const char *what,
			   libvhdi_error_t *err)
{
	char msg[256] = "";

	if (err) {
		libvhdi_error_sprint(err, msg, sizeof(msg));
		libvhdi_error_free(&err);
	}
	vmbus_logf(&d->log, VMBUS_LOG_ERR, "storvsp disk %s: %s: %s",
		   file, what, msg[0] ? msg : "libvhdi error");
}

/* ---- Reading ---------------------------------------------------------------- */

static int vhdi_read(struct storvsp_disk *d, uint64_t off, const struct iovec *iov,
		     unsigned int cnt, uint64_t len)
{
	struct disk_vhdi *v = d->vhdi;
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&v->io_lock);
	for (i = 0; i < cnt && len && !ret; i++) {
		char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

		len -= n;
		while (n) {
			libvhdi_error_t *err = NULL;
			ssize_t r = libvhdi_file_read_buffer_at_offset(v->files[0], p, n,
								       (off64_t)off, &err);
			if (r <= 0) {
				log_vhdi_error(d, d->path, "read failed", err);
				ret = -EIO;
				break;
			}
			p += r;
			n -= (size_t)r;
			off += (uint64_t)r;
		}
	}
	pthread_mutex_unlock(&v->io_lock);
	return ret;
}

static int vhdi_op_read(void *ctx, uint64_t off, const struct iovec *iov,
			unsigned int cnt, size_t len)
{
	struct storvsp_disk *d = ctx;
	int err = disk_check_range(d, off, len);

	if (err)
		return err;
	if (disk_iov_count(iov, cnt, len) < 0)
		return -EINVAL;
	return vhdi_read(d, off, iov, cnt, len);
}

static int vhdi_op_write(void *ctx, uint64_t off, const struct iovec *iov,
			 unsigned int cnt, size_t len, bool fua)
{
	(void)ctx;
	(void)off;
	(void)iov;
	(void)cnt;
	(void)len;
	(void)fua;
	return -EROFS;
}

static const struct scsi_disk_ops vhdi_ops = {
	.read = vhdi_op_read,
	.write = vhdi_op_write,
};

/* ---- Worker ----------------------------------------------------------------- */

static void *worker(void *arg)
{
	struct storvsp_disk *d = arg;
	struct disk_vhdi *v = d->vhdi;
	struct ioq_req *r;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		while (!v->head && !v->stop)
			pthread_cond_wait(&v->cond, &v->lock);
		if (!v->head)
			break;
		r = v->head;
		v->head = r->next;
		if (!v->head)
			v->tail = NULL;
		pthread_mutex_unlock(&v->lock);

		r->res = vhdi_read(d, r->offset, r->iov, r->iovcnt, r->len);
		ioq_complete_async(r);

		pthread_mutex_lock(&v->lock);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

void disk_vhdi_queue(struct ioq_req *r)
{
	struct disk_vhdi *v = r->disk->vhdi;

	r->next = NULL;
	pthread_mutex_lock(&v->lock);
	if (v->tail)
		v->tail->next = r;
	else
		v->head = r;
	v->tail = r;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* The worker takes no signals: they belong to the embedding program's
 * own threads. */
static int start_worker(struct storvsp_disk *d)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&d->vhdi->thread, NULL, worker, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	d->vhdi->running = true;
	return 0;
}

/* ---- Opening ---------------------------------------------------------------- */

/*
 * Where the parent of child lives. Images made on Windows name it with
 * backslashes and maybe a drive letter; a relative name is relative to the
 * child's directory. Try the name as given (under the child's directory
 * when relative), then its last component next to the child.
 */
static char *find_parent(const char *child, const char *name)
{
	const char *slash = strrchr(child, '/');
	size_t dlen = slash ? (size_t)(slash - child) + 1 : 0;
	char *norm = strdup(name), *p, *base, *cand = NULL;

	if (!norm)
		return NULL;
	for (p = norm; *p; p++)
		if (*p == '\\')
			*p = '/';
	p = norm;
	if (((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':')
		p += 2;
	if (*p == '/') {
		if (access(p, F_OK) == 0) {
			cand = strdup(p);
			goto out;
		}
	} else if (*p && asprintf(&cand, "%.*s%s", (int)dlen, child, p) >= 0) {
		if (access(cand, F_OK) == 0)
			goto out;
		free(cand);
		cand = NULL;
	}
	base = strrchr(p, '/');
	base = base ? base + 1 : p;
	if (*base && asprintf(&cand, "%.*s%s", (int)dlen, child, base) >= 0) {
		if (access(cand, F_OK) == 0)
			goto out;
		free(cand);
	}
	cand = NULL;
out:
	free(norm);
	return cand;
}

static int open_one(struct storvsp_disk *d, const char *path, libvhdi_file_t **out)
{
	libvhdi_error_t *err = NULL;
	libvhdi_file_t *f = NULL;

	if (libvhdi_file_initialize(&f, &err) != 1) {
		log_vhdi_error(d, path, "libvhdi init failed", err);
		return -ENOMEM;
	}
	if (libvhdi_file_open(f, path, LIBVHDI_OPEN_READ, &err) != 1) {
		log_vhdi_error(d, path, "libvhdi cannot open the image", err);
		libvhdi_file_free(&f, NULL);
		return -EBADMSG;
	}
	*out = f;
	return 0;
}

/* The parent name of f, or NULL with *ret set (0: f has none). */
static char *parent_name(struct storvsp_disk *d, const char *path, libvhdi_file_t *f,
			 int *ret)
{
	libvhdi_error_t *err = NULL;
	uint32_t type = 0;
	size_t size = 0;
	char *name;

	*ret = 0;
	if (libvhdi_file_get_disk_type(f, &type, &err) != 1) {
		log_vhdi_error(d, path, "no disk type", err);
		*ret = -EBADMSG;
		return NULL;
	}
	if (type != LIBVHDI_DISK_TYPE_DIFFERENTIAL)
		return NULL;
	if (libvhdi_file_get_utf8_parent_filename_size(f, &size, &err) != 1 ||
	    size == 0 || size > PATH_MAX) {
		log_vhdi_error(d, path, "differencing image without a parent name", err);
		*ret = -EBADMSG;
		return NULL;
	}
	name = calloc(1, size + 1);
	if (!name) {
		*ret = -ENOMEM;
		return NULL;
	}
	if (libvhdi_file_get_utf8_parent_filename(f, (uint8_t *)name, size, &err) != 1) {
		log_vhdi_error(d, path, "cannot read the parent name", err);
		free(name);
		*ret = -EBADMSG;
		return NULL;
	}
	return name;
}

/* Open the image and walk up its parents, linking each to its child. */
static int open_chain(struct storvsp_disk *d)
{
	struct disk_vhdi *v = d->vhdi;
	char *path = strdup(d->path);
	int ret = path ? 0 : -ENOMEM;

	while (!ret) {
		libvhdi_error_t *err = NULL;
		char *name, *next;

		if (v->nfiles == DISK_VHDI_MAX_CHAIN) {
			vmbus_logf(&d->log, VMBUS_LOG_ERR,
				   "storvsp disk %s: more than %u images in the parent chain",
				   d->path, DISK_VHDI_MAX_CHAIN);
			ret = -ELOOP;
			break;
		}
		ret = open_one(d, path, &v->files[v->nfiles]);
		if (ret)
			break;
		v->nfiles++;
		if (v->nfiles > 1 &&
		    libvhdi_file_set_parent_file(v->files[v->nfiles - 2],
						 v->files[v->nfiles - 1], &err) != 1) {
			log_vhdi_error(d, path, "parent does not fit its child", err);
			ret = -EBADMSG;
			break;
		}
		name = parent_name(d, path, v->files[v->nfiles - 1], &ret);
		if (!name)
			break;
		next = find_parent(path, name);
		if (!next) {
			vmbus_logf(&d->log, VMBUS_LOG_ERR,
				   "storvsp disk %s: parent image '%s' not found", path, name);
			ret = -ENOENT;
		}
		free(name);
		free(path);
		path = next;
	}
	free(path);
	return ret;
}

static int read_geometry(struct storvsp_disk *d)
{
	libvhdi_error_t *err = NULL;
	size64_t size = 0;
	uint32_t bps = 0;

	if (libvhdi_file_get_media_size(d->vhdi->files[0], &size, &err) != 1) {
		log_vhdi_error(d, d->path, "no media size", err);
		return -EBADMSG;
	}
	if (libvhdi_file_get_bytes_per_sector(d->vhdi->files[0], &bps, &err) != 1) {
		log_vhdi_error(d, d->path, "no sector size", err);
		return -EBADMSG;
	}
	if (bps != 512 && bps != 4096) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR,
			   "storvsp disk %s: unsupported sector size %u", d->path, bps);
		return -EINVAL;
	}
	if (size == 0 || size % bps) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR,
			   "storvsp disk %s: size %llu is not a non-zero multiple of %u",
			   d->path, (unsigned long long)size, bps);
		return -EINVAL;
	}
	d->size = size;
	d->block_size = bps;
	return 0;
}

static void close_files(struct disk_vhdi *v)
{
	unsigned int i;

	/* Children before parents: a child reads through its parent. */
	for (i = 0; i < v->nfiles; i++)
		libvhdi_file_close(v->files[i], NULL);
	for (i = 0; i < v->nfiles; i++)
		libvhdi_file_free(&v->files[i], NULL);
	v->nfiles = 0;
}

int disk_vhdi_init(struct storvsp_disk *d)
{
	struct disk_vhdi *v = calloc(1, sizeof(*v));
	int err;

	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->io_lock, NULL);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	d->vhdi = v;
	d->ops = &vhdi_ops;
	err = open_chain(d);
	if (!err)
		err = read_geometry(d);
	if (!err)
		err = start_worker(d);
	if (err) {
		disk_vhdi_fini(d);
		return err;
	}
	vmbus_logf(&d->log, VMBUS_LOG_DEBUG, "storvsp disk %s: %s, %llu bytes, %u image(s)",
		   d->path, storvsp_disk_format_name(d->format),
		   (unsigned long long)d->size, v->nfiles);
	return 0;
}

void disk_vhdi_fini(struct storvsp_disk *d)
{
	struct disk_vhdi *v = d->vhdi;

	if (!v)
		return;
	if (v->running) {
		pthread_mutex_lock(&v->lock);
		v->stop = true;
		pthread_cond_signal(&v->cond);
		pthread_mutex_unlock(&v->lock);
		pthread_join(v->thread, NULL);
	}
	close_files(v);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->io_lock);
	free(v);
	d->vhdi = NULL;
}
