// SPDX-License-Identifier: MIT
/*
 * Sizes as vmbus-host and vmbus-guest print them: "64 MiB", "2 GiB",
 * "1536 KiB", "1000 bytes" (the largest unit that divides exactly). One
 * definition, so both programs describe a disk in the same words.
 */
#ifndef VMBUS_EXAMPLES_FORMAT_SIZE_H
#define VMBUS_EXAMPLES_FORMAT_SIZE_H

#include <stdint.h>
#include <stdio.h>

static inline void format_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && n && !(n & 1023)) {
		n >>= 10;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)n, units[u]);
}

#endif
