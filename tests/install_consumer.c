/* SPDX-License-Identifier: MIT */
/*
 * A program built the way another VMM would build against an installed
 * libvmbus: its own compiler call, headers and library found by pkg-config.
 * It encodes and decodes an offer, maps guest memory and translates a range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/gpa.h>
#include <vmbus/msg.h>
#include <vmbus/proto/vmbus.h>

static int fail(const char *what)
{
	fprintf(stderr, "consumer: %s\n", what);
	return 1;
}

int main(void)
{
	static const struct vmbus_guid scsi = VMBUS_GUID_SCSI;
	char text[VMBUS_GUID_STR_SIZE];
	struct vmbus_msg m, back;
	unsigned char wire[VMBUS_MSG_MAX_SIZE];
	struct vmbus_gpa_map *map;
	static unsigned char ram[4 * HV_PAGE_SIZE];
	void *host;
	int len;

	vmbus_guid_format(&scsi, text);
	if (strcmp(text, "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f") != 0)
		return fail("GUID text form");

	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_OFFERCHANNEL;
	m.u.offer.if_type = scsi;
	m.u.offer.child_relid = 7;
	m.u.offer.connection_id = 0x2007;
	len = vmbus_msg_encode(&m, wire, sizeof(wire));
	if (len != (int)sizeof(struct vmbus_channel_offer_channel))
		return fail("offer encode length");
	if (vmbus_msg_decode(wire, (size_t)len, &back) != CHANNELMSG_OFFERCHANNEL ||
	    back.u.offer.child_relid != 7 || back.u.offer.connection_id != 0x2007)
		return fail("offer round trip");

	map = vmbus_gpa_map_new();
	if (!map || vmbus_gpa_map_add(map, 0x100000, sizeof(ram), ram) != 0)
		return fail("guest memory map");
	if (vmbus_gpa_translate(map, 0x101000, 16, &host) != 0 ||
	    host != ram + HV_PAGE_SIZE)
		return fail("translate");
	if (vmbus_gpa_translate(map, 0x103ff8, 16, &host) == 0)
		return fail("a range past the region translated");
	vmbus_gpa_map_free(map);

	printf("consumer: libvmbus linked through pkg-config works\n");
	return 0;
}
