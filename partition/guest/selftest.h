/* SPDX-License-Identifier: MIT */
/*
 * What the parts of the self-test guest share: the check counter and the
 * device tests run on the offers the bus listed. No external format.
 */
#ifndef SELFTEST_H
#define SELFTEST_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/msg.h>

/* Count one check and print "PASS: ..." or "FAIL: ..." (printf format). */
void st_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The synthetic SCSI controller behind @offer: storvsc, the LUN list, a
 * write/read/verify pass on each writable disk, a refused write on each
 * read-only one. */
void st_disk_test(const struct vmbus_msg_offer *offer);

/*
 * The synthetic NIC behind @offer: netvsc, MAC and link. With @ip (host
 * byte order, from "ip=A.B.C.D/N" on the command line; 0 for none) it then
 * answers ARP and ICMP echo for that address until the runner's stop port
 * reads 1.
 */
void st_net_test(const struct vmbus_msg_offer *offer, uint32_t ip);

#endif
