/* SPDX-License-Identifier: MIT */
/*
 * `vmbus-run` command-line parsing (the syntax is described in opts.h;
 * it follows no external document).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "x86.h"

const char part_opts_usage[] =
	"usage: vmbus-run [OPTIONS] [GUEST.elf [GUEST-ARGS...]]\n"
	"Run a 64-bit ELF guest in a partition that looks like Hyper-V (CPUID,\n"
	"synthetic MSRs, hypercall page, SynIC) with a VMBus host, on KVM or on\n"
	"a CPU emulator.\n"
	"\n"
	"  --accel WHAT       kvm, emulate (Unicorn, one VP, much slower) or auto:\n"
	"                     KVM when usable, else the emulator (default auto)\n"
	"  --mem SIZE         guest RAM, K/M/G suffix, multiple of 2M (default 64M)\n"
	"  --cpus N           virtual processors, 1..32 (default 1)\n"
	"  --timeout SEC      stop the guest after SEC seconds, 0 = never (default 30)\n"
	"  --disk PATH[,ro]   a LUN of the synthetic SCSI controller: raw, VHD or\n"
	"                     VHDX (VHDX and dynamic VHD are read-only); repeatable\n"
	"  --nic SPEC         a synthetic NIC on a backend: null, tap=NAME[,up],\n"
	"                     pcap=IN[,out=OUT], ... (see vsp/netvsp/nic.h)\n"
	"  --ip ADDR/PREFIX   the guest's address: the self-test answers ARP and\n"
	"                     ping on it until SIGINT/SIGTERM or the time-out\n"
	"  --no-test-offer    do not offer the built-in test channel\n"
	"  --verbose          log hypervisor and bus events to stderr\n"
	"  --help             this text\n"
	"\n"
	"Without GUEST.elf the built-in self-test guest runs. GUEST-ARGS become\n"
	"the guest's command line (the self-test knows \"hostile\"); --ip adds\n"
	"\"ip=ADDR/PREFIX\" to it.\n"
	"Exit status: the guest's (0..63), or 64 usage, 65 bad image, 66 KVM\n"
	"unusable, 67 host error, 68 time-out, 69 guest crashed.\n";

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int part_opts_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end || !v)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "A.B.C.D/N" with every part in range and nothing else. */
static bool valid_ip(const char *s)
{
	unsigned int a, b, c, d, n;
	int used = -1;

	if (sscanf(s, "%3u.%3u.%3u.%3u/%2u%n", &a, &b, &c, &d, &n, &used) != 5)
		return false;
	return used >= 0 && s[used] == '\0' && a < 256 && b < 256 &&
	       c < 256 && d < 256 && n <= 32 && s[0] >= '0' && s[0] <= '9';
}

static int add_disk(struct part_opts *o, const char *v, char *err,
		    size_t errlen)
{
	struct part_opts_disk *d;
	const char *comma = strchr(v, ',');

	if (o->disk_count == PART_OPTS_MAX_DISKS)
		return fail(err, errlen, -EINVAL, "at most %u --disk options",
			    PART_OPTS_MAX_DISKS);
	d = &o->disks[o->disk_count];
	d->path = v;
	d->path_len = comma ? (size_t)(comma - v) : strlen(v);
	d->ro = false;
	if (comma) {
		if (strcmp(comma, ",ro"))
			return fail(err, errlen, -EINVAL,
				    "--disk %s: only \",ro\" may follow the path", v);
		d->ro = true;
	}
	if (!d->path_len)
		return fail(err, errlen, -EINVAL, "--disk needs a path");
	o->disk_count++;
	return 0;
}

static int set_option(struct part_opts *o, const char *name, const char *v,
		      char *err, size_t errlen)
{
	unsigned long n;
	int ret;

	if (!strcmp(name, "mem")) {
		ret = part_opts_size(v, &o->mem_size);
		if (ret || o->mem_size < PART_MEM_MIN ||
		    o->mem_size > PART_MEM_MAX || o->mem_size % PART_MEM_MIN)
			return fail(err, errlen, -EINVAL,
				    "--mem %s: need a multiple of 2M from 2M to 3G", v);
	} else if (!strcmp(name, "cpus")) {
		if (parse_uint(v, PART_MAX_CPUS, &n) || !n)
			return fail(err, errlen, -EINVAL,
				    "--cpus %s: need 1..%u", v, PART_MAX_CPUS);
		o->cpus = (uint32_t)n;
	} else if (!strcmp(name, "timeout")) {
		if (parse_uint(v, 86400, &n))
			return fail(err, errlen, -EINVAL,
				    "--timeout %s: need 0..86400 seconds", v);
		o->timeout_sec = (unsigned int)n;
	} else if (!strcmp(name, "disk")) {
		return add_disk(o, v, err, errlen);
	} else if (!strcmp(name, "nic")) {
		if (!*v)
			return fail(err, errlen, -EINVAL, "--nic needs a spec");
		o->nic = v;
	} else if (!strcmp(name, "accel")) {
		if (!strcmp(v, "kvm"))
			o->accel = PART_ACCEL_KVM;
		else if (!strcmp(v, "emulate"))
			o->accel = PART_ACCEL_EMULATE;
		else if (!strcmp(v, "auto"))
			o->accel = PART_ACCEL_AUTO;
		else
			return fail(err, errlen, -EINVAL,
				    "--accel %s: need kvm, emulate or auto", v);
	} else if (!strcmp(name, "ip")) {
		if (!valid_ip(v))
			return fail(err, errlen, -EINVAL,
				    "--ip %s: need A.B.C.D/PREFIX", v);
		o->ip = v;
	}
	return 0;
}

static bool takes_value(const char *name)
{
	static const char *const names[] = {
		"accel", "mem", "cpus", "timeout", "disk", "nic", "ip",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* Join argv[i..argc) into o->cmdline. */
static int join_cmdline(struct part_opts *o, int argc, char **argv, int i,
			char *err, size_t errlen)
{
	size_t used = 0, n;

	for (; i < argc; i++) {
		n = strlen(argv[i]);
		if (n + (used ? 1 : 0) > sizeof(o->cmdline) - 1 - used)
			return fail(err, errlen, -E2BIG,
				    "guest command line longer than %u bytes",
				    PART_CMDLINE_MAX - 1);
		if (used)
			o->cmdline[used++] = ' ';
		memcpy(o->cmdline + used, argv[i], n);
		used += n;
	}
	o->cmdline[used] = '\0';
	return 0;
}

int part_opts_parse(int argc, char **argv, struct part_opts *o, char *err,
		    size_t errlen)
{
	char name[16];
	int i, ret;

	memset(o, 0, sizeof(*o));
	o->mem_size = PART_OPTS_DEFAULT_MEM;
	o->cpus = 1;
	o->timeout_sec = PART_OPTS_DEFAULT_TIMEOUT;
	o->test_offer = true;
	if (err && errlen)
		err[0] = '\0';

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		size_t len;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2))
			break;	/* the image path */
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		if (len >= sizeof(name))
			return fail(err, errlen, -EINVAL, "unknown option --%s", a);
		memcpy(name, a, len);
		name[len] = '\0';
		if (!strcmp(name, "help") && !eq) {
			o->help = true;
			continue;
		}
		if (!strcmp(name, "verbose") && !eq) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(name, "no-test-offer") && !eq) {
			o->test_offer = false;
			continue;
		}
		if (!takes_value(name))
			return fail(err, errlen, -EINVAL, "unknown option --%s", a);
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return fail(err, errlen, -EINVAL,
					    "--%s needs a value", name);
			val = argv[++i];
		}
		ret = set_option(o, name, val, err, errlen);
		if (ret)
			return ret;
	}
	if (i < argc)
		o->guest = argv[i++];
	return join_cmdline(o, argc, argv, i, err, errlen);
}
