/* SPDX-License-Identifier: MIT */
/*
 * Logging for libvmbus: the library never prints; it hands each line to a
 * callback the embedding program installs. Freestanding-safe (stdarg only).
 */
#ifndef VMBUS_LOG_H
#define VMBUS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum vmbus_log_level {
	VMBUS_LOG_ERR = 3,
	VMBUS_LOG_WARN = 4,
	VMBUS_LOG_INFO = 6,
	VMBUS_LOG_DEBUG = 7,
};

typedef void vmbus_log_fn(void *opaque, int level, const char *fmt, va_list ap);

/* A log sink. A zeroed one discards everything. */
struct vmbus_log {
	vmbus_log_fn *fn;
	void *opaque;
	int max_level;	/* lines above this level are dropped; 0 means VMBUS_LOG_INFO */
};

__attribute__((format(printf, 3, 4)))
static inline void vmbus_logf(const struct vmbus_log *log, int level, const char *fmt, ...)
{
	va_list ap;
	int max;

	if (!log || !log->fn)
		return;
	max = log->max_level ? log->max_level : VMBUS_LOG_INFO;
	if (level > max)
		return;
	va_start(ap, fmt);
	log->fn(log->opaque, level, fmt, ap);
	va_end(ap);
}

#endif
