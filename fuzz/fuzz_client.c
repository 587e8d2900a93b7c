/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the guest bus client (libvmbus/client.c): a hostile
 * host's message stream interleaved with guest requests. Checks that the
 * client never posts a message it may not send or cannot encode, and that
 * no completion fires twice.
 *
 * Input: records of one op byte and its arguments (see below); a message
 * record carries a length byte and that many payload bytes.
 * Formats: include/vmbus/proto/vmbus.h (Linux hyperv.h, OpenVMM protocol.rs).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/client.h>
#include <vmbus/msg.h>

static void check(int cond)
{
	if (!cond)
		abort();
}

#define TOKENS 4096

static int calls[TOKENS];
static unsigned int next_token;
static uint32_t last_gpadl;

static uint16_t post(void *ctx, uint32_t conn_id, uint32_t type,
		     const void *payload, uint32_t size)
{
	struct vmbus_msg m;
	int t;

	(void)ctx;
	(void)conn_id;
	check(type == HV_MESSAGE_TYPE_VMBUS);
	check(size <= VMBUS_MSG_MAX_SIZE);
	t = vmbus_msg_decode(payload, size, &m);
	check(t > 0);
	check(vmbus_msg_guest_may_send(m.type));
	return HV_STATUS_SUCCESS;
}

static uint16_t sig(void *ctx, uint32_t conn_id, uint16_t flag)
{
	(void)ctx;
	(void)conn_id;
	(void)flag;
	return HV_STATUS_SUCCESS;
}

static const struct vmbus_hv_guest_ops ops = { post, sig };

static void done(void *arg, int err)
{
	int *c = arg;

	(void)err;
	check(*c == 0);
	(*c)++;
}

static int *token(void)
{
	int *t = &calls[next_token];

	next_token++;
	*t = 0;
	return t;
}

static void release_token(int *t, int ret)
{
	/* A request that did not start, or finished at once, never calls back:
	 * mark the token so a late call is caught. */
	if (ret != 0)
		*t = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t mem[8192];
	static uint64_t pfns[64];
	struct vmbus_client_config cfg = {
		.hv = { &ops, NULL },
		.max_channels = 4,
		.max_gpadls = 4,
	};
	struct vmbus_client_connect_params cp = { 0 };
	struct vmbus_client_open_params op = { 0 };
	struct vmbus_gpadl_build_range r;
	struct vmbus_client *cl;
	size_t pos = 0;
	unsigned int i;
	int *t, ret;

	for (i = 0; i < 64; i++)
		pfns[i] = 0x1000 + i;
	memset(calls, 0, sizeof(calls));
	next_token = 0;
	last_gpadl = 0;
	check(vmbus_client_init(mem, sizeof(mem), &cfg, &cl) == 0);
	t = token();
	release_token(t, vmbus_client_connect(cl, &cp, done, t));

	/* Tokens are never reused, so a stale completion cannot hide. */
	while (pos < size && next_token < TOKENS - 1) {
		uint8_t opc = data[pos++];
		uint8_t a = pos < size ? data[pos] : 0;
		uint8_t b = pos + 1 < size ? data[pos + 1] : 0;

		switch (opc % 8) {
		case 0: {	/* a host message: length byte, then payload */
			size_t len;

			if (pos >= size)
				break;
			len = data[pos++];
			if (len > size - pos)
				len = size - pos;
			vmbus_client_handle_message(cl, data + pos, len);
			pos += len;
			break;
		}
		case 1:		/* GPADL of b % 64 + 1 pages on relid a % 4 */
			r.byte_offset = 0;
			r.byte_count = (uint32_t)(b % 64 + 1) * 4096u;
			r.pfns = pfns;
			t = token();
			ret = vmbus_client_gpadl_create(cl, a % 4, &r, 1,
							&last_gpadl, done, t);
			release_token(t, ret);
			pos += 2;
			break;
		case 2:		/* open relid a % 4 */
			op.pfns = pfns;
			op.page_count = 4 + b % 8;
			op.downstream_page_offset = 2 + b % 3;
			t = token();
			release_token(t, vmbus_client_open(cl, a % 4, &op, done, t));
			pos += 2;
			break;
		case 3:
			t = token();
			release_token(t, vmbus_client_close(cl, a % 4, done, t));
			pos++;
			break;
		case 4:
			t = token();
			release_token(t, vmbus_client_gpadl_teardown(cl, a % 4,
								     last_gpadl, done, t));
			pos++;
			break;
		case 5:
			t = token();
			release_token(t, vmbus_client_modify_channel(cl, a % 4, b,
								     done, t));
			pos += 2;
			break;
		case 6:
			vmbus_client_request_offers(cl);
			break;
		default:
			t = token();
			if (vmbus_client_connected(cl))
				ret = vmbus_client_unload(cl, done, t);
			else
				ret = vmbus_client_connect(cl, &cp, done, t);
			release_token(t, ret);
			break;
		}
	}
	return 0;
}
