/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the channel-message decoder (libvmbus/msg.c): any
 * bytes a peer could post as a SynIC payload. A message that decodes must
 * re-encode and decode to the same fields, and encoding must be stable.
 *
 * Formats: include/vmbus/proto/vmbus.h (Linux hyperv.h, OpenVMM protocol.rs).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/msg.h>

/* Break a mismatch into a crash the fuzzer reports. */
static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t enc1[VMBUS_MSG_MAX_SIZE], enc2[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg m1, m2;
	int type, len1, len2;

	type = vmbus_msg_decode(data, size, &m1);
	if (type < 0) {
		check(type == -EMSGSIZE || type == -EBADMSG || type == -ENOMSG);
		check(size > VMBUS_MSG_MAX_SIZE || type != -EMSGSIZE);
		return 0;
	}
	check(size <= VMBUS_MSG_MAX_SIZE);
	check((uint32_t)type == m1.type);
	check(size >= vmbus_msg_min_size(m1.type));
	check(vmbus_msg_guest_may_send(m1.type) != vmbus_msg_host_may_send(m1.type));
	check(strcmp(vmbus_msg_type_name(m1.type), "UNKNOWN") != 0);

	if (m1.type == CHANNELMSG_GPADL_HEADER || m1.type == CHANNELMSG_GPADL_BODY) {
		/* Built elsewhere; the tail must lie exactly inside the input. */
		const uint16_t off = m1.type == CHANNELMSG_GPADL_HEADER ?
				     m1.u.gpadl_header.data_offset : m1.u.gpadl_body.data_offset;
		const uint16_t len = m1.type == CHANNELMSG_GPADL_HEADER ?
				     m1.u.gpadl_header.data_len : m1.u.gpadl_body.data_len;

		check((size_t)off + len == size);
		check(vmbus_msg_encode(&m1, enc1, sizeof(enc1)) == -EINVAL);
		return 0;
	}

	len1 = vmbus_msg_encode(&m1, enc1, sizeof(enc1));
	check(len1 > 0 && (size_t)len1 <= size);
	type = vmbus_msg_decode(enc1, (size_t)len1, &m2);
	check(type == (int)m1.type);
	check(m2.type == m1.type);
	check(memcmp(&m1.u, &m2.u, sizeof(m1.u)) == 0);

	len2 = vmbus_msg_encode(&m2, enc2, sizeof(enc2));
	check(len2 == len1);
	check(memcmp(enc1, enc2, (size_t)len1) == 0);
	return 0;
}
