/* SPDX-License-Identifier: MIT */
/*
 * Tests of the channel-message codec (libvmbus/msg.c): encode/decode round
 * trips of every type and form, hostile lengths and types, the direction
 * rules, names, version helpers and GUID text.
 *
 * Minimum sizes follow Linux drivers/hv/channel_mgmt.c channel_message_table
 * and OpenVMM vmbus_core/src/protocol.rs.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/msg.h>

static const struct vmbus_guid guid_a =
	VMBUS_GUID_INIT(0x01020304u, 0x0506u, 0x0708u, 0x090au, 0x0b0c0d0e0f10ull);
static const struct vmbus_guid guid_b =
	VMBUS_GUID_INIT(0xa1a2a3a4u, 0xb1b2u, 0xc1c2u, 0xd1d2u, 0xe1e2e3e4e5e6ull);
static const struct vmbus_guid guid_c =
	VMBUS_GUID_INIT(0xdeadbeefu, 0xcafeu, 0xf00du, 0x1234u, 0x567890abcdefull);

/* One sample of each encodable type and form, every field non-zero where
 * the form carries it, with the wire size it must encode to. */
struct sample {
	struct vmbus_msg m;
	int size;
};

static int make_samples(struct sample *s)
{
	int n = 0;
	size_t i;

	memset(s, 0, 32 * sizeof(*s));

	s[n].m.type = CHANNELMSG_OFFERCHANNEL;
	s[n].m.u.offer.if_type = guid_a;
	s[n].m.u.offer.if_instance = guid_b;
	s[n].m.u.offer.chn_flags = VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER | 1;
	s[n].m.u.offer.mmio_megabytes = 0x1234;
	for (i = 0; i < sizeof(s[n].m.u.offer.user_def); i++)
		s[n].m.u.offer.user_def[i] = (uint8_t)(i * 7 + 1);
	s[n].m.u.offer.sub_channel_index = 5;
	s[n].m.u.offer.mmio_megabytes_optional = 0x0777;
	s[n].m.u.offer.child_relid = 0x11223344;
	s[n].m.u.offer.connection_id = 0x00ab2011;
	s[n].m.u.offer.monitor_id = 0x7e;
	s[n].m.u.offer.monitor_allocated = true;
	s[n].m.u.offer.is_dedicated_interrupt = true;
	s[n++].size = 196;

	s[n].m.type = CHANNELMSG_RESCIND_CHANNELOFFER;
	s[n].m.u.rescind.child_relid = 0x81;
	s[n++].size = 12;

	s[n].m.type = CHANNELMSG_REQUESTOFFERS;
	s[n++].size = 8;

	s[n].m.type = CHANNELMSG_ALLOFFERS_DELIVERED;
	s[n++].size = 8;

	s[n].m.type = CHANNELMSG_OPENCHANNEL;
	s[n].m.u.open.child_relid = 3;
	s[n].m.u.open.openid = 0x5003;
	s[n].m.u.open.ringbuffer_gpadlhandle = 0xe1e11;
	s[n].m.u.open.target_vp = 9;
	s[n].m.u.open.downstream_ringbuffer_pageoffset = 0x101;
	for (i = 0; i < sizeof(s[n].m.u.open.userdata); i++)
		s[n].m.u.open.userdata[i] = (uint8_t)(0xff - i);
	s[n++].size = 148;

	s[n] = s[n - 1];
	s[n].m.u.open.has_ext = true;
	s[n].m.u.open.connection_id = 0x0000300f;
	s[n].m.u.open.event_flag = 0x2a;
	s[n].m.u.open.flags = VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT;
	s[n++].size = 156;

	s[n].m.type = CHANNELMSG_OPENCHANNEL_RESULT;
	s[n].m.u.open_result.child_relid = 3;
	s[n].m.u.open_result.openid = 0x5003;
	s[n].m.u.open_result.status = VMBUS_STATUS_UNSUCCESSFUL;
	s[n++].size = 20;

	s[n].m.type = CHANNELMSG_CLOSECHANNEL;
	s[n].m.u.close.child_relid = 0x44;
	s[n++].size = 12;

	s[n].m.type = CHANNELMSG_GPADL_CREATED;
	s[n].m.u.gpadl_created.child_relid = 7;
	s[n].m.u.gpadl_created.gpadl = 0xe1e12;
	s[n].m.u.gpadl_created.creation_status = 0xc0000001u;
	s[n++].size = 20;

	s[n].m.type = CHANNELMSG_GPADL_TEARDOWN;
	s[n].m.u.gpadl_teardown.child_relid = 7;
	s[n].m.u.gpadl_teardown.gpadl = 0xe1e12;
	s[n++].size = 16;

	s[n].m.type = CHANNELMSG_GPADL_TORNDOWN;
	s[n].m.u.gpadl_torndown.gpadl = 0xe1e12;
	s[n++].size = 12;

	s[n].m.type = CHANNELMSG_RELID_RELEASED;
	s[n].m.u.relid_released.child_relid = 0x99;
	s[n++].size = 12;

	s[n].m.type = CHANNELMSG_INITIATE_CONTACT;
	s[n].m.u.initiate_contact.version_requested = VERSION_WIN10_V5_2;
	s[n].m.u.initiate_contact.target_vcpu = 2;
	s[n].m.u.initiate_contact.msg_sint = 2;
	s[n].m.u.initiate_contact.msg_vtl = 1;
	s[n].m.u.initiate_contact.feature_flags = 0x0f;
	s[n].m.u.initiate_contact.monitor_page1 = 0x123456789000ull;
	s[n].m.u.initiate_contact.monitor_page2 = 0xfedcba987000ull;
	s[n++].size = 40;

	s[n].m.type = CHANNELMSG_INITIATE_CONTACT;
	s[n].m.u.initiate_contact.version_requested = VERSION_WIN8;
	s[n].m.u.initiate_contact.interrupt_page = 0x8877665544332211ull;
	s[n].m.u.initiate_contact.monitor_page1 = 0x1000;
	s[n].m.u.initiate_contact.monitor_page2 = 0x2000;
	s[n++].size = 40;

	s[n].m.type = CHANNELMSG_INITIATE_CONTACT;
	s[n].m.u.initiate_contact.version_requested = VERSION_COPPER;
	s[n].m.u.initiate_contact.msg_sint = 2;
	s[n].m.u.initiate_contact.feature_flags = VMBUS_FEATURE_CLIENT_ID;
	s[n].m.u.initiate_contact.has_client_id = true;
	s[n].m.u.initiate_contact.client_id = guid_c;
	s[n++].size = 56;

	s[n].m.type = CHANNELMSG_VERSION_RESPONSE;
	s[n].m.u.version_response.version_supported = 1;
	s[n].m.u.version_response.connection_state = 2;
	s[n].m.u.version_response.msg_conn_id = 0x800074;
	s[n++].size = 16;

	s[n] = s[n - 1];
	s[n].m.u.version_response.form = VMBUS_VERSION_RESPONSE_V2;
	s[n].m.u.version_response.supported_features = 0xff;
	s[n++].size = 20;

	s[n] = s[n - 1];
	s[n].m.u.version_response.form = VMBUS_VERSION_RESPONSE_V3;
	s[n].m.u.version_response.parent_to_child_monitor_page_gpa = 0xaaaa000;
	s[n].m.u.version_response.child_to_parent_monitor_page_gpa = 0xbbbb000;
	s[n++].size = 40;

	s[n].m.type = CHANNELMSG_UNLOAD;
	s[n++].size = 8;

	s[n].m.type = CHANNELMSG_UNLOAD_RESPONSE;
	s[n++].size = 8;

	s[n].m.type = CHANNELMSG_TL_CONNECT_REQUEST;
	s[n].m.u.tl_connect_request.guest_endpoint_id = guid_a;
	s[n].m.u.tl_connect_request.host_service_id = guid_b;
	s[n++].size = 40;

	s[n] = s[n - 1];
	s[n].m.u.tl_connect_request.has_silo_id = true;
	s[n].m.u.tl_connect_request.silo_id = guid_c;
	s[n++].size = 56;

	s[n].m.type = CHANNELMSG_MODIFYCHANNEL;
	s[n].m.u.modifychannel.child_relid = 12;
	s[n].m.u.modifychannel.target_vp = 63;
	s[n++].size = 16;

	s[n].m.type = CHANNELMSG_TL_CONNECT_RESULT;
	s[n].m.u.tl_connect_result.guest_endpoint_id = guid_b;
	s[n].m.u.tl_connect_result.host_service_id = guid_a;
	s[n].m.u.tl_connect_result.status = VMBUS_STATUS_CONNECTION_REFUSED;
	s[n++].size = 44;

	s[n].m.type = CHANNELMSG_MODIFYCHANNEL_RESPONSE;
	s[n].m.u.modifychannel_response.child_relid = 12;
	s[n].m.u.modifychannel_response.status = 1;
	s[n++].size = 16;

	return n;
}

/* A decode into a struct that was zeroed the same way must match field for
 * field; compare the members the type uses. */
static void assert_same(const struct vmbus_msg *a, const struct vmbus_msg *b)
{
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_mem_eq(&a->u, &b->u, sizeof(a->u));
}

START_TEST(round_trip_every_type)
{
	struct sample s[32];
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg d;
	int n = make_samples(s), i;
	bool seen[CHANNELMSG_COUNT] = { false };

	for (i = 0; i < n; i++) {
		memset(buf, 0xcc, sizeof(buf));
		ck_assert_int_eq(vmbus_msg_encode(&s[i].m, buf, sizeof(buf)), s[i].size);
		/* Nothing written past the message. */
		ck_assert_uint_eq(buf[s[i].size], 0xcc);
		ck_assert_uint_eq(buf[0] | buf[1] << 8, s[i].m.type);
		ck_assert_int_eq(vmbus_msg_decode(buf, (size_t)s[i].size, &d),
				 (int)s[i].m.type);
		assert_same(&d, &s[i].m);
		seen[s[i].m.type] = true;
	}
	/* Every type the library encodes was covered. */
	for (i = 1; i < CHANNELMSG_COUNT; i++) {
		bool encodable = vmbus_msg_min_size((uint32_t)i) &&
				 i != CHANNELMSG_GPADL_HEADER && i != CHANNELMSG_GPADL_BODY;

		ck_assert_msg(seen[i] == encodable, "type %d", i);
	}
}
END_TEST

/* The exact wire bytes of a few encodings: the header's padding is zero,
 * reserved fields are zero, and fields land at their offsets. */
START_TEST(encode_bytes)
{
	struct sample s[32];
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	int n = make_samples(s);
	static const uint8_t modify[16] = {
		0x16, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0, 0, 0, 0x3f, 0, 0, 0,
	};
	static const uint8_t tl_result_tail[4] = { 0x36, 0x02, 0x00, 0xc0 };
	int i;

	for (i = 0; i < n; i++) {
		memset(buf, 0xcc, sizeof(buf));
		vmbus_msg_encode(&s[i].m, buf, sizeof(buf));
		ck_assert_uint_eq(buf[4] | buf[5] | buf[6] | buf[7], 0);
		switch (s[i].m.type) {
		case CHANNELMSG_MODIFYCHANNEL:
			ck_assert_mem_eq(buf, modify, sizeof(modify));
			break;
		case CHANNELMSG_TL_CONNECT_RESULT:
			ck_assert_mem_eq(buf + 8, guid_b.b, 16);
			ck_assert_mem_eq(buf + 24, guid_a.b, 16);
			ck_assert_mem_eq(buf + 40, tl_result_tail, 4);
			break;
		case CHANNELMSG_OFFERCHANNEL:
			/* reserved1/2 */
			ck_assert_uint_eq(buf[40] | buf[47] | buf[55], 0);
			ck_assert_uint_eq(buf[189], VMBUS_OFFER_MONITOR_ALLOCATED);
			ck_assert_uint_eq(buf[190], 1);
			ck_assert_uint_eq(buf[191], 0);
			break;
		case CHANNELMSG_INITIATE_CONTACT:
			if (s[i].m.u.initiate_contact.version_requested == VERSION_WIN10_V5_2) {
				ck_assert_uint_eq(buf[16], 2);
				ck_assert_uint_eq(buf[17], 1);
				ck_assert_uint_eq(buf[18] | buf[19], 0);
				ck_assert_uint_eq(buf[20], 0x0f);
			} else if (s[i].m.u.initiate_contact.version_requested == VERSION_WIN8) {
				ck_assert_uint_eq(buf[16], 0x11);
				ck_assert_uint_eq(buf[23], 0x88);
			}
			break;
		default:
			break;
		}
	}
}
END_TEST

START_TEST(encode_errors)
{
	struct sample s[32];
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg m;
	int n = make_samples(s), i;

	/* One byte too small fails and leaves the buffer untouched. */
	for (i = 0; i < n; i++) {
		memset(buf, 0xcc, sizeof(buf));
		ck_assert_int_eq(vmbus_msg_encode(&s[i].m, buf, (size_t)s[i].size - 1),
				 -ENOSPC);
		ck_assert_uint_eq(buf[0], 0xcc);
	}
	memset(&m, 0, sizeof(m));
	m.type = CHANNELMSG_GPADL_HEADER;
	ck_assert_int_eq(vmbus_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CHANNELMSG_GPADL_BODY;
	ck_assert_int_eq(vmbus_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CHANNELMSG_INVALID;
	ck_assert_int_eq(vmbus_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CHANNELMSG_19;
	ck_assert_int_eq(vmbus_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = 1000;
	ck_assert_int_eq(vmbus_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CHANNELMSG_VERSION_RESPONSE;
	m.u.version_response.form = 3;
	ck_assert_int_eq(vmbus_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.version_response.form = VMBUS_VERSION_RESPONSE_V1;
	ck_assert_int_eq(vmbus_msg_encode(&m, NULL, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(vmbus_msg_encode(NULL, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* Every decodable type at its minimum decodes, one byte less is -EBADMSG,
 * and anything up to 240 bytes is still accepted. */
START_TEST(truncated_every_type)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE + 1];
	struct vmbus_msg m;
	uint32_t t;
	int decodable = 0;

	for (t = 0; t < 40; t++) {
		size_t min = vmbus_msg_min_size(t);

		memset(buf, 0, sizeof(buf));
		buf[0] = (uint8_t)t;
		if (!min) {
			ck_assert_int_eq(vmbus_msg_decode(buf, VMBUS_MSG_MAX_SIZE, &m),
					 -ENOMSG);
			continue;
		}
		decodable++;
		ck_assert_uint_ge(min, 8);
		ck_assert_int_eq(vmbus_msg_decode(buf, min, &m), (int)t);
		ck_assert_int_eq(vmbus_msg_decode(buf, VMBUS_MSG_MAX_SIZE, &m), (int)t);
		ck_assert_int_eq(vmbus_msg_decode(buf, min - 1, &m), -EBADMSG);
		/* A failed decode leaves no stale type behind. */
		ck_assert_uint_eq(m.type, 0);
	}
	/* 1..17 and 21..24. */
	ck_assert_int_eq(decodable, 21);
}
END_TEST

START_TEST(min_sizes_match_linux)
{
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_OFFERCHANNEL), 196);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_RESCIND_CHANNELOFFER), 12);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_OPENCHANNEL), 148);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_OPENCHANNEL_RESULT), 20);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_GPADL_HEADER), 20);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_GPADL_BODY), 16);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_GPADL_CREATED), 20);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_GPADL_TORNDOWN), 12);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_INITIATE_CONTACT), 40);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_VERSION_RESPONSE), 16);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_TL_CONNECT_REQUEST), 40);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_TL_CONNECT_RESULT), 44);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_MODIFYCHANNEL_RESPONSE), 16);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_UNLOAD_RESPONSE), 8);
	ck_assert_uint_eq(vmbus_msg_min_size(CHANNELMSG_INVALID), 0);
	ck_assert_uint_eq(vmbus_msg_min_size(0xffffffffu), 0);
}
END_TEST

START_TEST(hostile_lengths_and_types)
{
	uint8_t buf[512];
	struct vmbus_msg m;
	size_t len;

	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_UNLOAD;
	for (len = 0; len < 8; len++)
		ck_assert_int_eq(vmbus_msg_decode(buf, len, &m), -EBADMSG);
	ck_assert_int_eq(vmbus_msg_decode(buf, 8, &m), CHANNELMSG_UNLOAD);
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), CHANNELMSG_UNLOAD);
	ck_assert_int_eq(vmbus_msg_decode(buf, 241, &m), -EMSGSIZE);
	ck_assert_int_eq(vmbus_msg_decode(buf, sizeof(buf), &m), -EMSGSIZE);
	ck_assert_int_eq(vmbus_msg_decode(buf, (size_t)-1, &m), -EMSGSIZE);
	ck_assert_int_eq(vmbus_msg_decode(NULL, 0, &m), -EBADMSG);
	ck_assert_int_eq(vmbus_msg_decode(NULL, 16, &m), -EINVAL);
	ck_assert_int_eq(vmbus_msg_decode(buf, 16, NULL), -EINVAL);

	/* Unknown, unimplemented and huge types. The type is the whole u32:
	 * 0x100 + OFFERCHANNEL must not alias OFFERCHANNEL. */
	buf[0] = 0;
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), -ENOMSG);
	buf[0] = 18;
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), -ENOMSG);
	buf[0] = 20;
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), -ENOMSG);
	buf[0] = 25;
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), -ENOMSG);
	buf[0] = 1;
	buf[1] = 1;
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), -ENOMSG);
	memset(buf, 0xff, 4);
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), -ENOMSG);

	/* The header's padding word is ignored, as Linux does. */
	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_RESCIND_CHANNELOFFER;
	memset(buf + 4, 0xff, 4);
	buf[8] = 0x21;
	ck_assert_int_eq(vmbus_msg_decode(buf, 12, &m), CHANNELMSG_RESCIND_CHANNELOFFER);
	ck_assert_uint_eq(m.u.rescind.child_relid, 0x21);
}
END_TEST

/* GPADL_BODY: fixed part plus the PFN tail's position; an odd tail is not
 * the decoder's business. */
START_TEST(gpadl_tails)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg m;

	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_GPADL_BODY;
	buf[8] = 2;		/* msgnumber */
	buf[12] = 0x13;		/* gpadl */
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), CHANNELMSG_GPADL_BODY);
	ck_assert_uint_eq(m.u.gpadl_body.msgnumber, 2);
	ck_assert_uint_eq(m.u.gpadl_body.gpadl, 0x13);
	ck_assert_uint_eq(m.u.gpadl_body.data_offset, 16);
	ck_assert_uint_eq(m.u.gpadl_body.data_len, 224);	/* 28 PFNs */
	ck_assert_int_eq(vmbus_msg_decode(buf, 16, &m), CHANNELMSG_GPADL_BODY);
	ck_assert_uint_eq(m.u.gpadl_body.data_len, 0);
	ck_assert_int_eq(vmbus_msg_decode(buf, 21, &m), CHANNELMSG_GPADL_BODY);
	ck_assert_uint_eq(m.u.gpadl_body.data_len, 5);
	ck_assert_int_eq(vmbus_msg_decode(buf, 15, &m), -EBADMSG);

	memset(buf, 0, sizeof(buf));
	buf[0] = CHANNELMSG_GPADL_HEADER;
	buf[16] = 0xff;		/* range_buflen 0xffff: claimed, not checked here */
	buf[17] = 0xff;
	buf[18] = 0xff;		/* rangecount 0xffff */
	buf[19] = 0xff;
	ck_assert_int_eq(vmbus_msg_decode(buf, 240, &m), CHANNELMSG_GPADL_HEADER);
	ck_assert_uint_eq(m.u.gpadl_header.range_buflen, 0xffff);
	ck_assert_uint_eq(m.u.gpadl_header.rangecount, 0xffff);
	ck_assert_uint_eq(m.u.gpadl_header.data_offset, 20);
	ck_assert_uint_eq(m.u.gpadl_header.data_len, 220);
}
END_TEST

/* Longer-than-needed messages of the versioned types: the long form is
 * recognised only at its full size; in between the extra bytes are ignored. */
START_TEST(versioned_forms_by_size)
{
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	struct vmbus_msg m;

	memset(buf, 0x5a, sizeof(buf));
	buf[0] = CHANNELMSG_TL_CONNECT_REQUEST;
	buf[1] = buf[2] = buf[3] = 0;
	ck_assert_int_eq(vmbus_msg_decode(buf, 55, &m), CHANNELMSG_TL_CONNECT_REQUEST);
	ck_assert(!m.u.tl_connect_request.has_silo_id);
	ck_assert_uint_eq(m.u.tl_connect_request.silo_id.b[0], 0);
	ck_assert_int_eq(vmbus_msg_decode(buf, 56, &m), CHANNELMSG_TL_CONNECT_REQUEST);
	ck_assert(m.u.tl_connect_request.has_silo_id);
	ck_assert_uint_eq(m.u.tl_connect_request.silo_id.b[15], 0x5a);

	buf[0] = CHANNELMSG_INITIATE_CONTACT;
	ck_assert_int_eq(vmbus_msg_decode(buf, 55, &m), CHANNELMSG_INITIATE_CONTACT);
	ck_assert(!m.u.initiate_contact.has_client_id);
	ck_assert_int_eq(vmbus_msg_decode(buf, 56, &m), CHANNELMSG_INITIATE_CONTACT);
	ck_assert(m.u.initiate_contact.has_client_id);
	/* 0x5a5a5a5a >= 5.0: the union is SINT/VTL/features, not a page. */
	ck_assert_uint_eq(m.u.initiate_contact.msg_sint, 0x5a);
	ck_assert_uint_eq(m.u.initiate_contact.feature_flags, 0x5a5a5a5a);
	ck_assert_uint_eq(m.u.initiate_contact.interrupt_page, 0);

	buf[0] = CHANNELMSG_VERSION_RESPONSE;
	ck_assert_int_eq(vmbus_msg_decode(buf, 19, &m), CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.form, VMBUS_VERSION_RESPONSE_V1);
	ck_assert_uint_eq(m.u.version_response.supported_features, 0);
	ck_assert_int_eq(vmbus_msg_decode(buf, 39, &m), CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.form, VMBUS_VERSION_RESPONSE_V2);
	ck_assert_uint_eq(m.u.version_response.parent_to_child_monitor_page_gpa, 0);
	ck_assert_int_eq(vmbus_msg_decode(buf, 40, &m), CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.form, VMBUS_VERSION_RESPONSE_V3);
	ck_assert_uint_eq(m.u.version_response.child_to_parent_monitor_page_gpa,
			  0x5a5a5a5a5a5a5a5aull);
}
END_TEST

START_TEST(direction)
{
	static const uint32_t g2h[] = {
		CHANNELMSG_REQUESTOFFERS, CHANNELMSG_OPENCHANNEL, CHANNELMSG_CLOSECHANNEL,
		CHANNELMSG_GPADL_HEADER, CHANNELMSG_GPADL_BODY, CHANNELMSG_GPADL_TEARDOWN,
		CHANNELMSG_RELID_RELEASED, CHANNELMSG_INITIATE_CONTACT, CHANNELMSG_UNLOAD,
		CHANNELMSG_TL_CONNECT_REQUEST, CHANNELMSG_MODIFYCHANNEL,
		CHANNELMSG_OPEN_RESERVED_CHANNEL, CHANNELMSG_CLOSE_RESERVED_CHANNEL,
	};
	static const uint32_t h2g[] = {
		CHANNELMSG_OFFERCHANNEL, CHANNELMSG_RESCIND_CHANNELOFFER,
		CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_OPENCHANNEL_RESULT,
		CHANNELMSG_GPADL_CREATED, CHANNELMSG_GPADL_TORNDOWN,
		CHANNELMSG_VERSION_RESPONSE, CHANNELMSG_UNLOAD_RESPONSE,
		CHANNELMSG_TL_CONNECT_RESULT, CHANNELMSG_MODIFYCHANNEL_RESPONSE,
		CHANNELMSG_CLOSE_RESERVED_RESPONSE,
	};
	size_t i;

	for (i = 0; i < sizeof(g2h) / sizeof(g2h[0]); i++) {
		ck_assert_msg(vmbus_msg_guest_may_send(g2h[i]), "%u", g2h[i]);
		ck_assert_msg(!vmbus_msg_host_may_send(g2h[i]), "%u", g2h[i]);
	}
	for (i = 0; i < sizeof(h2g) / sizeof(h2g[0]); i++) {
		ck_assert_msg(vmbus_msg_host_may_send(h2g[i]), "%u", h2g[i]);
		ck_assert_msg(!vmbus_msg_guest_may_send(h2g[i]), "%u", h2g[i]);
	}
	/* Every type 1..24 has exactly one direction. */
	for (i = 1; i < CHANNELMSG_COUNT; i++)
		ck_assert(vmbus_msg_guest_may_send((uint32_t)i) !=
			  vmbus_msg_host_may_send((uint32_t)i));
	ck_assert(!vmbus_msg_guest_may_send(CHANNELMSG_INVALID));
	ck_assert(!vmbus_msg_host_may_send(CHANNELMSG_INVALID));
	ck_assert(!vmbus_msg_guest_may_send(30));
	ck_assert(!vmbus_msg_host_may_send(0x80000001u));
}
END_TEST

START_TEST(names)
{
	/* Linux's enum names without the CHANNELMSG_ prefix; OpenVMM's for
	 * 18..20, which Linux leaves unnamed. */
	static const char *const all[CHANNELMSG_COUNT] = {
		NULL, "OFFERCHANNEL", "RESCIND_CHANNELOFFER", "REQUESTOFFERS",
		"ALLOFFERS_DELIVERED", "OPENCHANNEL", "OPENCHANNEL_RESULT",
		"CLOSECHANNEL", "GPADL_HEADER", "GPADL_BODY", "GPADL_CREATED",
		"GPADL_TEARDOWN", "GPADL_TORNDOWN", "RELID_RELEASED",
		"INITIATE_CONTACT", "VERSION_RESPONSE", "UNLOAD", "UNLOAD_RESPONSE",
		"OPEN_RESERVED_CHANNEL", "CLOSE_RESERVED_CHANNEL",
		"CLOSE_RESERVED_RESPONSE", "TL_CONNECT_REQUEST", "MODIFYCHANNEL",
		"TL_CONNECT_RESULT", "MODIFYCHANNEL_RESPONSE",
	};
	uint32_t t;

	for (t = 1; t < CHANNELMSG_COUNT; t++)
		ck_assert_str_eq(vmbus_msg_type_name(t), all[t]);
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_OFFERCHANNEL), "OFFERCHANNEL");
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_RESCIND_CHANNELOFFER),
			 "RESCIND_CHANNELOFFER");
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_GPADL_TORNDOWN), "GPADL_TORNDOWN");
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_INITIATE_CONTACT),
			 "INITIATE_CONTACT");
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_MODIFYCHANNEL_RESPONSE),
			 "MODIFYCHANNEL_RESPONSE");
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_19), "CLOSE_RESERVED_CHANNEL");
	ck_assert_str_eq(vmbus_msg_type_name(CHANNELMSG_INVALID), "UNKNOWN");
	ck_assert_str_eq(vmbus_msg_type_name(30), "UNKNOWN");
	ck_assert_str_eq(vmbus_msg_type_name(0xffffffffu), "UNKNOWN");
}
END_TEST

START_TEST(versions)
{
	static const uint32_t order[] = {
		0x50003, 0x50002, 0x50001, 0x50000, 0x40001, 0x40000, 0x30000, 0x20004,
	};
	char s[VMBUS_VERSION_STR_SIZE];
	size_t i;

	for (i = 0; i < VMBUS_VERSION_COUNT; i++) {
		ck_assert_uint_eq(vmbus_versions[i], order[i]);
		ck_assert(vmbus_version_known(order[i]));
	}
	ck_assert(!vmbus_version_known(VERSION_WIN7));
	ck_assert(!vmbus_version_known(VERSION_WS2008));
	ck_assert(!vmbus_version_known(VERSION_COPPER));
	ck_assert(!vmbus_version_known(0x50004));
	ck_assert(!vmbus_version_known(0));

	ck_assert_uint_eq(vmbus_version_contact_conn_id(VERSION_WIN10_V5_3), 4);
	ck_assert_uint_eq(vmbus_version_contact_conn_id(VERSION_WIN10_V5), 4);
	ck_assert_uint_eq(vmbus_version_contact_conn_id(VERSION_WIN10_V4_1), 1);
	ck_assert_uint_eq(vmbus_version_contact_conn_id(VERSION_WIN8), 1);

	ck_assert_int_eq(vmbus_version_str(VERSION_WIN10_V5_3, s, sizeof(s)), 3);
	ck_assert_str_eq(s, "5.3");
	ck_assert_int_eq(vmbus_version_str(VERSION_WS2008, s, sizeof(s)), 4);
	ck_assert_str_eq(s, "0.13");
	ck_assert_int_eq(vmbus_version_str(VERSION_WIN8, s, sizeof(s)), 3);
	ck_assert_str_eq(s, "2.4");
	ck_assert_int_eq(vmbus_version_str(0xffffffffu, s, sizeof(s)), 11);
	ck_assert_str_eq(s, "65535.65535");
	ck_assert_int_eq(vmbus_version_str(0x000a0000u, s, sizeof(s)), 4);
	ck_assert_str_eq(s, "10.0");
	/* Exactly enough room, then one byte short. */
	ck_assert_int_eq(vmbus_version_str(VERSION_WIN10_V5_3, s, 4), 3);
	ck_assert_str_eq(s, "5.3");
	memset(s, 'x', sizeof(s));
	ck_assert_int_eq(vmbus_version_str(VERSION_WIN10_V5_3, s, 3), -ENOSPC);
	ck_assert_uint_eq(s[0], '\0');
	ck_assert_uint_eq(s[1], 'x');
	ck_assert_int_eq(vmbus_version_str(VERSION_WIN10_V5_3, s, 0), -ENOSPC);
	ck_assert_uint_eq(s[0], '\0');
}
END_TEST

START_TEST(guid_text)
{
	static const char *const bad[] = {
		"",
		"ba6163d9",
		"ba6163d9-04a1-4d29-b605-72e2ffb1dc7",		/* one digit short */
		"ba6163d9-04a1-4d29-b605-72e2ffb1dc7f0",	/* one too many */
		"ba6163d9-04a1-4d29-b605-72e2ffb1dc7f ",
		" ba6163d9-04a1-4d29-b605-72e2ffb1dc7f",
		"{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}",
		"ba6163d9_04a1-4d29-b605-72e2ffb1dc7f",
		"ba6163d904a1-4d29-b605-72e2ffb1dc7f0",		/* dash moved */
		"ba6163d9-04a1-4d29-b60572e2-ffb1dc7f",
		"ba6163g9-04a1-4d29-b605-72e2ffb1dc7f",		/* not hex */
		"ba6163d9-04a1-4d29-b605-72e2ffb1dc7z",
		"ba6163d9-04a1-4d29-b605-72e2ffb1dc-f",
		"ba6163d9--4a1-4d29-b605-72e2ffb1dc7f",
		"+a6163d9-04a1-4d29-b605-72e2ffb1dc7f",
	};
	struct vmbus_guid g, ref = guid_c;
	char text[VMBUS_GUID_STR_SIZE];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		g = ref;
		ck_assert_msg(vmbus_guid_parse(bad[i], &g) == -EINVAL, "%s", bad[i]);
		/* A failed parse leaves the output alone. */
		ck_assert(vmbus_guid_equal(&g, &ref));
	}
	ck_assert_int_eq(vmbus_guid_parse(NULL, &g), -EINVAL);
	ck_assert_int_eq(vmbus_guid_parse("ba6163d9-04a1-4d29-b605-72e2ffb1dc7f", NULL),
			 -EINVAL);

	/* Upper case parses; formatting gives lower case back. */
	ck_assert_int_eq(vmbus_guid_parse("F8615163-DF3E-46C5-913F-F2D2F965ED0E", &g), 0);
	{
		static const struct vmbus_guid net = VMBUS_GUID_NET;

		ck_assert(vmbus_guid_equal(&g, &net));
	}
	vmbus_guid_format(&g, text);
	ck_assert_str_eq(text, "f8615163-df3e-46c5-913f-f2d2f965ed0e");

	/* Format then parse is the identity. */
	vmbus_guid_format(&guid_a, text);
	ck_assert_str_eq(text, "01020304-0506-0708-090a-0b0c0d0e0f10");
	ck_assert_int_eq(vmbus_guid_parse(text, &g), 0);
	ck_assert(vmbus_guid_equal(&g, &guid_a));
	ck_assert(!vmbus_guid_equal(&guid_a, &guid_b));
}
END_TEST

static Suite *msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *codec = tcase_create("codec");
	TCase *hostile = tcase_create("hostile");
	TCase *helpers = tcase_create("helpers");

	tcase_add_test(codec, round_trip_every_type);
	tcase_add_test(codec, encode_bytes);
	tcase_add_test(codec, encode_errors);
	tcase_add_test(codec, min_sizes_match_linux);
	tcase_add_test(hostile, truncated_every_type);
	tcase_add_test(hostile, hostile_lengths_and_types);
	tcase_add_test(hostile, gpadl_tails);
	tcase_add_test(hostile, versioned_forms_by_size);
	tcase_add_test(helpers, direction);
	tcase_add_test(helpers, names);
	tcase_add_test(helpers, versions);
	tcase_add_test(helpers, guid_text);
	suite_add_tcase(s, codec);
	suite_add_tcase(s, hostile);
	suite_add_tcase(s, helpers);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(msg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
