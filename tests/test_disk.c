/* SPDX-License-Identifier: MIT */
/*
 * Tests for storvsp's disk images (vsp/storvsp/disk_open.c, disk_uring.c,
 * disk_vhdi.c) through their synchronous ops: format detection, guest size,
 * reads of patterns qemu-io wrote, writes checked with qemu-img compare, the
 * fixed-VHD footer left untouched, and the error cases.
 *
 * Images come from qemu-img (raw, vpc fixed/dynamic, vhdx). qemu-img cannot
 * create differencing VHD or VHDX images, so they are made here from two
 * dynamic ones: a VHD by editing the footer and dynamic header (Microsoft
 * VHD specification 1.0: disk type at footer offset 60, parent unique id at
 * header offset 40, parent unicode name at 64, checksums at 64 and 36); a
 * VHDX by editing its metadata and BAT (MS-VHDX, see make_diff_vhdx()).
 * Without qemu-img the program skips (exit 77).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vmbus/scsi_target.h>
#include <vmbus/storvsp_disk.h>

static char tmpdir[64];

/* ---- Helpers ---------------------------------------------------------------- */

static char *tpath(const char *name)
{
	static char buf[4][256];
	static unsigned int i;
	char *p = buf[i++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

/* Log sink that keeps the last line and the highest-priority level seen. */
struct logcap {
	char last[512];
	int min_level;
	unsigned int lines;
};

static void cap_fn(void *opaque, int level, const char *fmt, va_list ap)
{
	struct logcap *c = opaque;

	vsnprintf(c->last, sizeof(c->last), fmt, ap);
	if (!c->lines || level < c->min_level)
		c->min_level = level;
	c->lines++;
}

static struct vmbus_log make_log(struct logcap *c)
{
	struct vmbus_log l = { .fn = cap_fn, .opaque = c, .max_level = VMBUS_LOG_INFO };

	memset(c, 0, sizeof(*c));
	return l;
}

static struct storvsp_disk *open_ok(const char *spec)
{
	/* The disk keeps the sink, so the capture must outlive this call. */
	static struct logcap cap;
	struct storvsp_disk *d = NULL;
	struct vmbus_log log = make_log(&cap);
	int err = storvsp_disk_open(spec, &log, &d);

	ck_assert_msg(err == 0, "open %s: %d (%s)", spec, err, cap.last);
	ck_assert_ptr_nonnull(d);
	return d;
}

static int sync_read(struct storvsp_disk *d, uint64_t off, void *buf, size_t len)
{
	struct iovec v = { buf, len };

	return storvsp_disk_ops(d)->read(d, off, &v, 1, len);
}

static int sync_write(struct storvsp_disk *d, uint64_t off, const void *buf, size_t len,
		      bool fua)
{
	struct iovec v = { (void *)buf, len };

	return storvsp_disk_ops(d)->write(d, off, &v, 1, len, fua);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	while (len--)
		if (*p++ != v)
			return false;
	return true;
}

/* Read len bytes at off and require them all to be v. */
static void expect_pattern(struct storvsp_disk *d, uint64_t off, size_t len, uint8_t v)
{
	uint8_t *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	memset(buf, ~v, len);
	ck_assert_int_eq(sync_read(d, off, buf, len), 0);
	ck_assert_msg(all_bytes(buf, len, v), "at %llu: want 0x%02x got 0x%02x",
		      (unsigned long long)off, v, buf[0]);
	free(buf);
}

static uint64_t fsize(const char *p)
{
	struct stat st;

	ck_assert_int_eq(stat(p, &st), 0);
	return (uint64_t)st.st_size;
}

static void read_at(const char *p, uint64_t off, void *buf, size_t len)
{
	int fd = open(p, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void write_at(const char *p, uint64_t off, const void *buf, size_t len)
{
	int fd = open(p, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t vhd_sum(const uint8_t *b, size_t len, size_t ck_off)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (i < ck_off || i >= ck_off + 4)
			s += b[i];
	return ~s;
}

/* ---- Detection and size ----------------------------------------------------- */

START_TEST(detect_raw)
{
	struct storvsp_disk *d;

	ck_assert_int_eq(sh("qemu-img create -q -f raw %s 1M", tpath("r.img")), 0);
	d = open_ok(tpath("r.img"));
	ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_RAW);
	ck_assert_uint_eq(storvsp_disk_size(d), 1u << 20);
	ck_assert_uint_eq(storvsp_disk_block_size(d), 512);
	ck_assert(!storvsp_disk_read_only(d));
	ck_assert_ptr_nonnull(storvsp_disk_ops(d)->flush);
	ck_assert_ptr_nonnull(storvsp_disk_ops(d)->discard);
	ck_assert_str_eq(storvsp_disk_format_name(storvsp_disk_format(d)), "raw");
	storvsp_disk_close(d);
}
END_TEST

START_TEST(detect_fixed_vhd)
{
	const char *p = tpath("f.vhd");
	uint8_t foot[512];
	struct storvsp_disk *d;

	ck_assert_int_eq(sh("qemu-img create -q -f vpc -o subformat=fixed %s 1M", p), 0);
	ck_assert_int_eq(sh("qemu-io -f vpc -c 'write -P 0xab 0 64k' -c 'write -P 0x5a 512k 4k' %s >/dev/null", p), 0);
	read_at(p, fsize(p) - 512, foot, sizeof(foot));
	d = open_ok(p);
	ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_VHD_FIXED);
	/* The footer is not part of the disk, and agrees with the file. */
	ck_assert_uint_eq(storvsp_disk_size(d), fsize(p) - 512);
	ck_assert_uint_eq(storvsp_disk_size(d), be64(foot + 48));
	ck_assert(!storvsp_disk_read_only(d));
	expect_pattern(d, 0, 65536, 0xab);
	expect_pattern(d, 512 * 1024, 4096, 0x5a);
	expect_pattern(d, 65536, 4096, 0);
	storvsp_disk_close(d);
}
END_TEST

START_TEST(detect_dynamic_vhd)
{
	const char *p = tpath("d.vhd");
	struct storvsp_disk *d = NULL;
	struct logcap cap;
	struct vmbus_log log = make_log(&cap);
	uint8_t foot[512], buf[512];

	ck_assert_int_eq(sh("qemu-img create -q -f vpc -o subformat=dynamic %s 4M", p), 0);
	ck_assert_int_eq(sh("qemu-io -f vpc -c 'write -P 0xab 0 64k' -c 'write -P 0xcd 3M 8k' %s >/dev/null", p), 0);
	read_at(p, fsize(p) - 512, foot, sizeof(foot));
	/* Asked writable: served read-only, with a warning. */
	ck_assert_int_eq(storvsp_disk_open(p, &log, &d), 0);
	ck_assert_int_eq(cap.min_level, VMBUS_LOG_WARN);
	ck_assert_ptr_nonnull(strstr(cap.last, p));
	ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_VHD_DYNAMIC);
	ck_assert(storvsp_disk_read_only(d));
	ck_assert_uint_eq(storvsp_disk_size(d), be64(foot + 48));
	expect_pattern(d, 0, 65536, 0xab);
	expect_pattern(d, 3u << 20, 8192, 0xcd);
	expect_pattern(d, 1u << 20, 4096, 0);
	ck_assert_ptr_null(storvsp_disk_ops(d)->discard);
	ck_assert_ptr_null(storvsp_disk_ops(d)->flush);
	memset(buf, 1, sizeof(buf));
	ck_assert_int_eq(sync_write(d, 0, buf, sizeof(buf), false), -EROFS);
	expect_pattern(d, 0, 512, 0xab);
	/* Past the end: refused before libvhdi sees it. */
	ck_assert_int_eq(sync_read(d, storvsp_disk_size(d), buf, 512), -EIO);
	storvsp_disk_close(d);

	/* With ",ro" there is nothing to warn about. */
	{
		char spec[300];

		snprintf(spec, sizeof(spec), "%s,ro", p);
		log = make_log(&cap);
		ck_assert_int_eq(storvsp_disk_open(spec, &log, &d), 0);
		ck_assert(cap.lines == 0 || cap.min_level > VMBUS_LOG_WARN);
		storvsp_disk_close(d);
	}
}
END_TEST

START_TEST(detect_vhdx)
{
	const char *p = tpath("x.vhdx");
	struct storvsp_disk *d;
	char spec[300];

	ck_assert_int_eq(sh("qemu-img create -q -f vhdx %s 8M", p), 0);
	ck_assert_int_eq(sh("qemu-io -f vhdx -c 'write -P 0x77 0 64k' -c 'write -P 0x99 7M 1M' %s >/dev/null", p), 0);
	snprintf(spec, sizeof(spec), "%s,ro", p);
	d = open_ok(spec);
	ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_VHDX);
	ck_assert_uint_eq(storvsp_disk_size(d), 8u << 20);
	ck_assert(storvsp_disk_read_only(d));
	expect_pattern(d, 0, 65536, 0x77);
	expect_pattern(d, 7u << 20, 1u << 20, 0x99);
	expect_pattern(d, 4u << 20, 4096, 0);
	storvsp_disk_close(d);
}
END_TEST

/* Turn dynamic child.vhd into a differencing image of base.vhd (which sits
 * in the same directory, named by a Windows-style relative path). */
static void make_diff(const char *child, const char *base, const char *parent_name)
{
	uint8_t bf[512], f[512], h[1024];
	uint64_t hoff, cs = fsize(child);
	size_t i;

	read_at(base, fsize(base) - 512, bf, sizeof(bf));
	read_at(child, cs - 512, f, sizeof(f));
	put_be32(f + 60, 4);
	put_be32(f + 64, vhd_sum(f, sizeof(f), 64));
	write_at(child, 0, f, sizeof(f));
	write_at(child, cs - 512, f, sizeof(f));
	hoff = be64(f + 16);
	read_at(child, hoff, h, sizeof(h));
	memcpy(h + 40, bf + 68, 16);		/* parent unique id */
	memcpy(h + 56, bf + 24, 4);		/* parent time stamp */
	memset(h + 64, 0, 512);
	for (i = 0; parent_name[i] && i < 255; i++)
		h[64 + 2 * i + 1] = (uint8_t)parent_name[i];	/* UTF-16 BE */
	put_be32(h + 36, vhd_sum(h, sizeof(h), 36));
	write_at(child, hoff, h, sizeof(h));
}

START_TEST(detect_diff_vhd)
{
	const char *base = tpath("base.vhd"), *child = tpath("child.vhd");
	struct storvsp_disk *d;

	ck_assert_int_eq(sh("qemu-img create -q -f vpc %s 4M && qemu-img create -q -f vpc %s 4M",
			    base, child), 0);
	ck_assert_int_eq(sh("qemu-io -f vpc -c 'write -P 0xab 0 64k' -c 'write -P 0xcd 2M 4k' %s >/dev/null",
			    base), 0);
	ck_assert_int_eq(sh("qemu-io -f vpc -c 'write -P 0x11 2M 4k' %s >/dev/null", child), 0);
	make_diff(child, base, ".\\base.vhd");
	d = open_ok(child);
	ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_VHD_DIFF);
	ck_assert(storvsp_disk_read_only(d));
	expect_pattern(d, 0, 65536, 0xab);		/* from the parent */
	expect_pattern(d, 2u << 20, 4096, 0x11);	/* the child's own */
	expect_pattern(d, 1u << 20, 4096, 0);
	storvsp_disk_close(d);
}
END_TEST

/* ---- Differencing VHDX (MS-VHDX 2.2.2 header, 2.2.3 region table, 2.6 metadata) */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

/* GUIDs as stored: the first three fields little-endian. */
static const uint8_t vhdx_metadata_region[16] = {
	0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
	0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
static const uint8_t vhdx_bat_region[16] = {
	0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
	0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
static const uint8_t vhdx_file_parameters[16] = {
	0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
	0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
static const uint8_t vhdx_parent_locator_item[16] = {
	0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
	0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };
static const uint8_t vhdx_locator_type[16] = {
	0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a,
	0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13 };

/* Append key or value s as UTF-16LE at loc + *at; its offset and length
 * go to the entry fields at off and len. */
static void loc_string(uint8_t *loc, size_t *at, uint8_t *off, uint8_t *len, const char *s)
{
	size_t i, n = strlen(s);

	put_le32(off, (uint32_t)*at);
	put_le16(len, (uint16_t)(2 * n));
	for (i = 0; i < n; i++)
		put_le16(loc + *at + 2 * i, (uint8_t)s[i]);
	*at += 2 * n;
}

/*
 * Turn dynamic child.vhdx into a differencing image of base.vhdx: set
 * HasParent in its file parameters, add a parent locator naming
 * parent_name, linked to the base's DataWriteGuid, and a sector bitmap.
 * Neither the headers nor the region table change, so no checksum does.
 */
static void make_diff_vhdx(const char *child, const char *base, const char *parent_name)
{
	uint8_t h1[4096], h2[4096], rt[4096], mt[65536], loc[1024], *dw, *e, *zero;
	char linkage[40];
	uint64_t moff = 0, fp_off = 0, bat = 0, sb, ent;
	uint32_t i, n, end = 0, at32, bs;
	size_t at;

	read_at(base, 64 << 10, h1, sizeof(h1));
	read_at(base, 128 << 10, h2, sizeof(h2));
	ck_assert(!memcmp(h1, "head", 4) && !memcmp(h2, "head", 4));
	dw = (le64(h1 + 8) >= le64(h2 + 8) ? h1 : h2) + 32;
	/* Lower case: libvhdi 20210425 reads no other. */
	snprintf(linkage, sizeof(linkage),
		 "{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", le32(dw),
		 le32(dw + 4) & 0xffff, le32(dw + 6) & 0xffff, dw[8], dw[9], dw[10], dw[11],
		 dw[12], dw[13], dw[14], dw[15]);

	read_at(child, 192 << 10, rt, sizeof(rt));
	ck_assert(!memcmp(rt, "regi", 4));
	for (i = 0; i < le32(rt + 8); i++)
		if (!memcmp(rt + 16 + 32 * i, vhdx_metadata_region, 16))
			moff = le64(rt + 16 + 32 * i + 16);
	ck_assert_uint_ne(moff, 0);
	read_at(child, moff, mt, sizeof(mt));
	ck_assert(!memcmp(mt, "metadata", 8));
	n = mt[10] | (uint32_t)mt[11] << 8;
	for (i = 0; i < n; i++) {
		e = mt + 32 + 32 * i;
		if (le32(e + 16) + le32(e + 20) > end)
			end = le32(e + 16) + le32(e + 20);
		if (!memcmp(e, vhdx_file_parameters, 16))
			fp_off = moff + le32(e + 16);
	}
	ck_assert_uint_ne(fp_off, 0);

	/* The locator: type, reserved, count, then three entries. */
	memset(loc, 0, sizeof(loc));
	memcpy(loc, vhdx_locator_type, 16);
	put_le16(loc + 18, 3);
	at = 20 + 3 * 12;
	loc_string(loc, &at, loc + 20, loc + 28, "parent_linkage");
	loc_string(loc, &at, loc + 24, loc + 30, linkage);
	loc_string(loc, &at, loc + 32, loc + 40, "relative_path");
	loc_string(loc, &at, loc + 36, loc + 42, parent_name);
	loc_string(loc, &at, loc + 44, loc + 52, "absolute_win32_path");
	loc_string(loc, &at, loc + 48, loc + 54, parent_name);
	ck_assert_uint_lt(at, sizeof(loc));

	end = (end + 7) & ~7u;
	e = mt + 32 + 32 * n;
	memset(e, 0, 32);
	memcpy(e, vhdx_parent_locator_item, 16);
	put_le32(e + 16, end);
	put_le32(e + 20, (uint32_t)at);
	put_le32(e + 24, 4);			/* IsRequired */
	put_le16(mt + 10, (uint16_t)(n + 1));
	write_at(child, moff, mt, sizeof(mt));
	write_at(child, moff + end, loc, at);

	/* One all-zero sector bitmap block after the data, entered where
	 * the BAT keeps it (after chunk-ratio payload entries, 2.5.1):
	 * every sector the child lacks comes from the parent. The images
	 * here have 512-byte sectors and fewer blocks than one chunk. */
	read_at(child, fp_off, &bs, 4);
	ck_assert_uint_ge(bs, 1u << 20);
	for (i = 0; i < le32(rt + 8); i++)
		if (!memcmp(rt + 16 + 32 * i, vhdx_bat_region, 16))
			bat = le64(rt + 16 + 32 * i + 16);
	ck_assert_uint_ne(bat, 0);
	sb = (fsize(child) + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	zero = calloc(1, 1u << 20);
	ck_assert_ptr_nonnull(zero);
	write_at(child, sb, zero, 1u << 20);
	free(zero);
	ent = sb | 6;				/* SB_BLOCK_PRESENT, host order is LE */
	write_at(child, bat + 8 * ((8388608ull * 512) / bs), &ent, 8);

	read_at(child, fp_off + 4, &at32, 4);
	at32 |= 2;				/* HasParent */
	write_at(child, fp_off + 4, &at32, 4);
}

START_TEST(detect_diff_vhdx)
{
	const char *base = tpath("base.vhdx"), *child = tpath("child.vhdx");
	struct storvsp_disk *d;

	ck_assert_int_eq(sh("qemu-img create -q -f vhdx -o block_size=1M %s 8M && "
			    "qemu-img create -q -f vhdx -o block_size=1M %s 8M", base, child), 0);
	ck_assert_int_eq(sh("qemu-io -f vhdx -c 'write -P 0xab 0 64k' -c 'write -P 0xcd 5M 1M' %s >/dev/null",
			    base), 0);
	ck_assert_int_eq(sh("qemu-io -f vhdx -c 'write -P 0x11 5M 1M' %s >/dev/null", child), 0);
	make_diff_vhdx(child, base, ".\\base.vhdx");
	d = open_ok(child);
	ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_VHDX);
	ck_assert(storvsp_disk_read_only(d));
	ck_assert_uint_eq(storvsp_disk_size(d), 8u << 20);
	expect_pattern(d, 0, 65536, 0xab);		/* from the parent */
	expect_pattern(d, 5u << 20, 1u << 20, 0x11);	/* the child's own */
	expect_pattern(d, 2u << 20, 4096, 0);
	storvsp_disk_close(d);
}
END_TEST

START_TEST(diff_vhdx_missing_parent)
{
	const char *base = tpath("nobase.vhdx"), *child = tpath("orphan.vhdx");
	struct storvsp_disk *d = NULL;
	struct logcap cap;
	struct vmbus_log log = make_log(&cap);

	ck_assert_int_eq(sh("qemu-img create -q -f vhdx -o block_size=1M %s 4M && "
			    "qemu-img create -q -f vhdx -o block_size=1M %s 4M", base, child), 0);
	make_diff_vhdx(child, base, "C:\\images\\gone.vhdx");
	ck_assert_int_eq(storvsp_disk_open(child, &log, &d), -ENOENT);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(cap.last, "gone.vhdx"));
}
END_TEST

START_TEST(diff_vhd_missing_parent)
{
	const char *base = tpath("nobase.vhd"), *child = tpath("orphan.vhd");
	struct storvsp_disk *d = NULL;
	struct logcap cap;
	struct vmbus_log log = make_log(&cap);

	ck_assert_int_eq(sh("qemu-img create -q -f vpc %s 4M && qemu-img create -q -f vpc %s 4M",
			    base, child), 0);
	make_diff(child, base, "C:\\images\\gone.vhd");
	ck_assert_int_eq(storvsp_disk_open(child, &log, &d), -ENOENT);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(cap.last, "gone.vhd"));
}
END_TEST

/* ---- Identity and the SCSI target ------------------------------------------- */

START_TEST(identity)
{
	struct storvsp_disk *a, *b, *c;
	struct scsi_disk_info ia, ib, ic;
	size_t i;

	ck_assert_int_eq(sh("qemu-img create -q -f raw %s 64k && qemu-img create -q -f raw %s 64k",
			    tpath("id1.img"), tpath("id2.img")), 0);
	a = open_ok(tpath("id1.img"));
	b = open_ok(tpath("id1.img"));
	c = open_ok(tpath("id2.img"));
	storvsp_disk_info(a, &ia);
	storvsp_disk_info(b, &ib);
	storvsp_disk_info(c, &ic);
	ck_assert_uint_eq(strlen(ia.serial), 16);
	for (i = 0; i < 16; i++)
		ck_assert(strchr("0123456789ABCDEF", ia.serial[i]));
	ck_assert_str_eq(ia.serial, ib.serial);
	ck_assert_str_ne(ia.serial, ic.serial);
	ck_assert_uint_eq(ia.naa >> 60, 3);
	ck_assert_uint_ne(ia.naa, ic.naa);
	ck_assert_str_eq(ia.vendor, "Msft");
	ck_assert_uint_eq(ia.size, 65536);
	ck_assert_uint_eq(ia.block_size, 512);
	storvsp_disk_close(a);
	storvsp_disk_close(b);
	storvsp_disk_close(c);
}
END_TEST

START_TEST(scsi_target_on_fixed_vhd)
{
	const char *p = tpath("t.vhd");
	struct storvsp_disk *d;
	struct scsi_disk_info info;
	struct scsi_target *t;
	struct scsi_result res;
	struct scsi_data data;
	uint8_t cdb[10] = { 0 }, buf[4096];
	uint64_t last;

	ck_assert_int_eq(sh("qemu-img create -q -f vpc -o subformat=fixed %s 1M", p), 0);
	ck_assert_int_eq(sh("qemu-io -f vpc -c 'write -P 0x3c 4k 4k' %s >/dev/null", p), 0);
	d = open_ok(p);
	storvsp_disk_info(d, &info);
	t = scsi_target_new(NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(scsi_target_add_lun(t, 0, &info, storvsp_disk_ops(d), d), 0);

	cdb[0] = SCSI_OP_READ_CAPACITY_10;
	data = scsi_data_flat(buf, 8);
	ck_assert_int_eq(scsi_target_execute(t, 0, cdb, 10, &data, 8, SCSI_DIR_IN, &res), 0);
	ck_assert_uint_eq(res.status, SCSI_STATUS_GOOD);
	last = ((uint64_t)buf[0] << 24) | ((uint64_t)buf[1] << 16) | ((uint64_t)buf[2] << 8) | buf[3];
	ck_assert_uint_eq((last + 1) * 512, fsize(p) - 512);

	/* READ(10) of LBA 8, 8 blocks. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_READ_10;
	cdb[5] = 8;
	cdb[8] = 8;
	data = scsi_data_flat(buf, sizeof(buf));
	ck_assert_int_eq(scsi_target_execute(t, 0, cdb, 10, &data, sizeof(buf), SCSI_DIR_IN, &res), 0);
	ck_assert_uint_eq(res.status, SCSI_STATUS_GOOD);
	ck_assert(all_bytes(buf, sizeof(buf), 0x3c));

	/* The block holding the footer is out of range for the initiator. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_READ_10;
	cdb[2] = (uint8_t)((last + 1) >> 24);
	cdb[3] = (uint8_t)((last + 1) >> 16);
	cdb[4] = (uint8_t)((last + 1) >> 8);
	cdb[5] = (uint8_t)(last + 1);
	cdb[8] = 1;
	data = scsi_data_flat(buf, 512);
	ck_assert_int_eq(scsi_target_execute(t, 0, cdb, 10, &data, 512, SCSI_DIR_IN, &res), 0);
	ck_assert_uint_eq(res.status, SCSI_STATUS_CHECK_CONDITION);

	scsi_target_free(t);
	storvsp_disk_close(d);
}
END_TEST

/* ---- Writes ----------------------------------------------------------------- */

/* Apply the same writes to the disk and, through qemu-io, to a reference. */
static void write_both(struct storvsp_disk *d, const char *ref, uint64_t off, size_t len,
		       uint8_t v, bool fua)
{
	uint8_t *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	memset(buf, v, len);
	ck_assert_int_eq(sync_write(d, off, buf, len, fua), 0);
	ck_assert_int_eq(sh("qemu-io -f raw -c 'write -P 0x%02x %llu %zu' %s >/dev/null",
			    v, (unsigned long long)off, len, ref), 0);
	free(buf);
}

START_TEST(write_raw)
{
	const char *p = tpath("w.img"), *ref = tpath("w_ref.img");
	struct storvsp_disk *d;
	struct iovec v[3];
	uint8_t a[1536], b[512];

	ck_assert_int_eq(sh("qemu-img create -q -f raw %s 2M && qemu-img create -q -f raw %s 2M",
			    p, ref), 0);
	d = open_ok(p);
	write_both(d, ref, 0, 4096, 0xa1, false);
	write_both(d, ref, 1u << 20, 65536, 0xb2, true);
	write_both(d, ref, (2u << 20) - 512, 512, 0xc3, false);
	/* A longer iovec list than the transfer: only len bytes go out. */
	memset(a, 0xd4, sizeof(a));
	memset(b, 0xee, sizeof(b));
	v[0] = (struct iovec){ a, 1000 };
	v[1] = (struct iovec){ a + 1000, 536 };
	v[2] = (struct iovec){ b, sizeof(b) };
	ck_assert_int_eq(storvsp_disk_ops(d)->write(d, 8192, v, 3, 1536, false), 0);
	ck_assert_int_eq(sh("qemu-io -f raw -c 'write -P 0xd4 8192 1536' %s >/dev/null", ref), 0);
	/* Past the end and misaligned: refused, nothing written. */
	ck_assert_int_eq(sync_write(d, 2u << 20, b, 512, false), -EIO);
	ck_assert_int_eq(sync_write(d, 100, b, 512, false), -EINVAL);
	ck_assert_int_eq(storvsp_disk_ops(d)->flush(d), 0);
	ck_assert_int_eq(sh("qemu-img compare -q -f raw -F raw %s %s", p, ref), 0);
	ck_assert_uint_eq(fsize(p), 2u << 20);

	/* Discard punches a hole that reads back as zeros. */
	ck_assert_int_eq(storvsp_disk_ops(d)->discard(d, 1u << 20, 65536), 0);
	expect_pattern(d, 1u << 20, 65536, 0);
	ck_assert_uint_eq(fsize(p), 2u << 20);
	storvsp_disk_close(d);
}
END_TEST

START_TEST(write_fixed_vhd_keeps_footer)
{
	const char *p = tpath("wf.vhd"), *ref = tpath("wf_ref.img");
	uint8_t before[512], after[512], buf[1024];
	struct storvsp_disk *d;
	uint64_t size;

	ck_assert_int_eq(sh("qemu-img create -q -f vpc -o subformat=fixed %s 1M", p), 0);
	size = fsize(p) - 512;
	ck_assert_int_eq(sh("qemu-img create -q -f raw %s %llu", ref, (unsigned long long)size), 0);
	read_at(p, size, before, sizeof(before));
	d = open_ok(p);
	write_both(d, ref, 0, 8192, 0x42, false);
	write_both(d, ref, size - 4096, 4096, 0x43, true);	/* the last blocks */
	memset(buf, 0xff, sizeof(buf));
	/* Reaching into the footer: refused whole. */
	ck_assert_int_eq(sync_write(d, size - 512, buf, 1024, false), -EIO);
	ck_assert_int_eq(sync_write(d, size, buf, 512, false), -EIO);
	ck_assert_int_eq(sync_read(d, size, buf, 512), -EIO);
	storvsp_disk_close(d);

	read_at(p, size, after, sizeof(after));
	ck_assert_mem_eq(before, after, sizeof(before));
	ck_assert_uint_eq(fsize(p), size + 512);
	/* qemu-img has no check for vpc; qemu still reads it as a fixed VHD
	 * with our data in it. */
	ck_assert_int_eq(sh("qemu-img info -f vpc %s >/dev/null", p), 0);
	ck_assert_int_eq(sh("qemu-img compare -q -f vpc -F raw %s %s", p, ref), 0);
}
END_TEST

START_TEST(read_only_raw)
{
	const char *p = tpath("ro.img");
	struct storvsp_disk *d;
	char spec[300];
	uint8_t buf[512] = { 0 };

	ck_assert_int_eq(sh("qemu-img create -q -f raw %s 64k", p), 0);
	snprintf(spec, sizeof(spec), "%s,ro", p);
	d = open_ok(spec);
	ck_assert(storvsp_disk_read_only(d));
	ck_assert_int_eq(sync_write(d, 0, buf, sizeof(buf), false), -EROFS);
	ck_assert_ptr_null(storvsp_disk_ops(d)->discard);
	storvsp_disk_close(d);
}
END_TEST

/* ---- Errors ----------------------------------------------------------------- */

static int open_err(const char *spec, struct logcap *cap)
{
	struct storvsp_disk *d = (void *)1;
	struct vmbus_log log = make_log(cap);
	int err = storvsp_disk_open(spec, &log, &d);

	ck_assert_ptr_null(d);
	ck_assert_uint_ge(cap->lines, 1);
	ck_assert_int_eq(cap->min_level, VMBUS_LOG_ERR);
	return err;
}

START_TEST(err_missing)
{
	struct logcap cap;

	ck_assert_int_eq(open_err(tpath("nope.img"), &cap), -ENOENT);
	ck_assert_ptr_nonnull(strstr(cap.last, "nope.img"));
}
END_TEST

START_TEST(err_corrupt_footer)
{
	const char *p = tpath("bad.vhd");
	struct logcap cap;
	uint8_t f[512];
	uint64_t s;

	ck_assert_int_eq(sh("qemu-img create -q -f vpc -o subformat=fixed %s 1M", p), 0);
	s = fsize(p);
	/* A flipped byte: the checksum no longer matches. */
	read_at(p, s - 512, f, sizeof(f));
	f[50] ^= 0x01;
	write_at(p, s - 512, f, sizeof(f));
	ck_assert_int_eq(open_err(p, &cap), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(cap.last, p));

	/* A consistent checksum over a size the file does not have. */
	f[50] ^= 0x03;
	put_be32(f + 64, vhd_sum(f, sizeof(f), 64));
	write_at(p, s - 512, f, sizeof(f));
	ck_assert_int_eq(open_err(p, &cap), -EBADMSG);

	/* An unknown disk type. */
	f[50] ^= 0x02;
	put_be32(f + 60, 7);
	put_be32(f + 64, vhd_sum(f, sizeof(f), 64));
	write_at(p, s - 512, f, sizeof(f));
	ck_assert_int_eq(open_err(p, &cap), -EINVAL);

	/* Forced raw, the same file is a plain disk with the footer in it. */
	{
		char spec[300];
		struct storvsp_disk *d;

		snprintf(spec, sizeof(spec), "%s,raw", p);
		d = open_ok(spec);
		ck_assert_int_eq(storvsp_disk_format(d), STORVSP_DISK_RAW);
		ck_assert_uint_eq(storvsp_disk_size(d), s);
		storvsp_disk_close(d);
	}
}
END_TEST

START_TEST(err_truncated_dynamic)
{
	const char *p = tpath("trunc.vhd");
	struct logcap cap;

	ck_assert_int_eq(sh("qemu-img create -q -f vpc %s 4M && truncate -s -512 %s", p, p), 0);
	ck_assert_int_eq(open_err(p, &cap), -EBADMSG);
}
END_TEST

START_TEST(err_bad_size_and_spec)
{
	struct logcap cap;
	char spec[300];

	ck_assert_int_eq(sh("head -c 1000 /dev/zero > %s && : > %s", tpath("odd.img"),
			    tpath("empty.img")), 0);
	ck_assert_int_eq(open_err(tpath("odd.img"), &cap), -EINVAL);
	ck_assert_ptr_nonnull(strstr(cap.last, "odd.img"));
	ck_assert_int_eq(open_err(tpath("empty.img"), &cap), -EINVAL);
	snprintf(spec, sizeof(spec), "%s,rw", tpath("odd.img"));
	ck_assert_int_eq(open_err(spec, &cap), -EINVAL);
	ck_assert_int_eq(open_err(",ro", &cap), -EINVAL);
	ck_assert_int_eq(open_err(tmpdir, &cap), -EISDIR);
}
END_TEST

static Suite *disk_suite(void)
{
	Suite *s = suite_create("storvsp_disk");
	TCase *tc = tcase_create("disk");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, detect_raw);
	tcase_add_test(tc, detect_fixed_vhd);
	tcase_add_test(tc, detect_dynamic_vhd);
	tcase_add_test(tc, detect_vhdx);
	tcase_add_test(tc, detect_diff_vhd);
	tcase_add_test(tc, detect_diff_vhdx);
	tcase_add_test(tc, diff_vhdx_missing_parent);
	tcase_add_test(tc, diff_vhd_missing_parent);
	tcase_add_test(tc, identity);
	tcase_add_test(tc, scsi_target_on_fixed_vhd);
	tcase_add_test(tc, write_raw);
	tcase_add_test(tc, write_fixed_vhd_keeps_footer);
	tcase_add_test(tc, read_only_raw);
	tcase_add_test(tc, err_missing);
	tcase_add_test(tc, err_corrupt_footer);
	tcase_add_test(tc, err_truncated_dynamic);
	tcase_add_test(tc, err_bad_size_and_spec);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (sh("qemu-img --version >/dev/null 2>&1 && qemu-io --version >/dev/null 2>&1")) {
		printf("SKIP: qemu-img/qemu-io not found (install qemu-utils)\n");
		return 77;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_disk.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	sr = srunner_create(disk_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	sh("rm -rf '%s'", tmpdir);
	return failed ? 1 : 0;
}
