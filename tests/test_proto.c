/* SPDX-License-Identifier: MIT */
/*
 * Decodes channel messages written out byte for byte as they appear on the
 * wire, and checks every field, so that a wrong offset in
 * include/vmbus/proto/vmbus.h or in msg.c shows up here.
 *
 * Layouts: Linux include/linux/hyperv.h, drivers/hv/connection.c (what a
 * 5.3 guest puts in INITIATE_CONTACT), OpenVMM vmbus_core/src/protocol.rs.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/msg.h>

/* An offer for a synthetic SCSI controller's sub-channel 1: relid 14,
 * connection id 0x200e (relid | SINT 2 << 12), dedicated interrupt, no
 * monitor, instance 12345678-9abc-def0-1122-334455667788. */
static const uint8_t offer_scsi[196] = {
	/* 0: header: msgtype 1, padding */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 8: if_type ba6163d9-04a1-4d29-b605-72e2ffb1dc7f */
	0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
	0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f,
	/* 24: if_instance */
	0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	/* 40: reserved1, reserved2 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 56: chn_flags 0x0001, mmio_megabytes 0; 60: user_def[0..3] */
	0x01, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
	/* 64..175: user_def[4..115] */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xee,
	/* 176: user_def[116..119]; 180: sub_channel_index 1, reserved3 */
	0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	/* 184: child_relid 14; 188: monitorid 0, monitor_allocated 0,
	 * is_dedicated_interrupt 1 */
	0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	/* 192: connection_id 0x200e */
	0x0e, 0x20, 0x00, 0x00,
};

START_TEST(offer_storvsc)
{
	static const struct vmbus_guid scsi = VMBUS_GUID_SCSI;
	static const struct vmbus_guid inst = VMBUS_GUID_INIT(0x12345678u, 0x9abcu,
		0xdef0u, 0x1122u, 0x334455667788ull);
	struct vmbus_msg m;
	const struct vmbus_msg_offer *o = &m.u.offer;
	size_t i;

	ck_assert_int_eq(vmbus_msg_decode(offer_scsi, sizeof(offer_scsi), &m),
			 CHANNELMSG_OFFERCHANNEL);
	ck_assert_uint_eq(m.type, CHANNELMSG_OFFERCHANNEL);
	ck_assert(vmbus_guid_equal(&o->if_type, &scsi));
	ck_assert(vmbus_guid_equal(&o->if_instance, &inst));
	ck_assert_uint_eq(o->chn_flags, VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
	ck_assert_uint_eq(o->mmio_megabytes, 0);
	ck_assert_uint_eq(o->user_def[0], 0xaa);
	ck_assert_uint_eq(o->user_def[3], 0xdd);
	ck_assert_uint_eq(o->user_def[115], 0xee);
	for (i = 4; i < 115; i++)
		ck_assert_uint_eq(o->user_def[i], 0);
	ck_assert_uint_eq(o->sub_channel_index, 1);
	ck_assert_uint_eq(o->mmio_megabytes_optional, 0);
	ck_assert_uint_eq(o->child_relid, 14);
	ck_assert_uint_eq(o->monitor_id, 0);
	ck_assert(!o->monitor_allocated);
	ck_assert(o->is_dedicated_interrupt);
	ck_assert_uint_eq(o->connection_id, 0x200e);
	ck_assert(vmbus_msg_host_may_send(m.type));
	ck_assert(!vmbus_msg_guest_may_send(m.type));
}
END_TEST

/* The same offer with the monitor in use (id 0x42): only bit 0 of the
 * monitor_allocated byte counts; the other bits are reserved. */
START_TEST(offer_monitor_bits)
{
	uint8_t b[sizeof(offer_scsi)];
	struct vmbus_msg m;

	memcpy(b, offer_scsi, sizeof(b));
	b[188] = 0x42;
	b[189] = 0xfe;		/* reserved bits only */
	b[190] = 0x00;		/* no dedicated interrupt */
	b[191] = 0x80;		/* reserved bit of the u16 */
	ck_assert_int_eq(vmbus_msg_decode(b, sizeof(b), &m), CHANNELMSG_OFFERCHANNEL);
	ck_assert_uint_eq(m.u.offer.monitor_id, 0x42);
	ck_assert(!m.u.offer.monitor_allocated);
	ck_assert(!m.u.offer.is_dedicated_interrupt);
	b[189] = 0x01;
	ck_assert_int_eq(vmbus_msg_decode(b, sizeof(b), &m), CHANNELMSG_OFFERCHANNEL);
	ck_assert(m.u.offer.monitor_allocated);
}
END_TEST

/* GPADL_HEADER for relid 14, handle 0xe1e10 (Linux's first handle), one
 * range of three pages at offset 0: PFNs 0x12345..0x12347. */
static const uint8_t gpadl_header_3[52] = {
	/* 0: msgtype 8 */
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 8: child_relid 14, gpadl 0x000e1e10 */
	0x0e, 0x00, 0x00, 0x00, 0x10, 0x1e, 0x0e, 0x00,
	/* 16: range_buflen 32, rangecount 1; 20: byte_count 0x3000 */
	0x20, 0x00, 0x01, 0x00, 0x00, 0x30, 0x00, 0x00,
	/* 24: byte_offset 0; 28: pfn[0] = 0x12345 (low half) */
	0x00, 0x00, 0x00, 0x00, 0x45, 0x23, 0x01, 0x00,
	/* 32: pfn[0] high half; pfn[1] = 0x12346 low half */
	0x00, 0x00, 0x00, 0x00, 0x46, 0x23, 0x01, 0x00,
	/* 40: pfn[1] high; pfn[2] = 0x12347 low */
	0x00, 0x00, 0x00, 0x00, 0x47, 0x23, 0x01, 0x00,
	/* 48: pfn[2] high */
	0x00, 0x00, 0x00, 0x00,
};

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

START_TEST(gpadl_header_one_range)
{
	struct vmbus_msg m;
	const struct vmbus_msg_gpadl_header *g = &m.u.gpadl_header;
	const uint8_t *range;

	ck_assert_int_eq(vmbus_msg_decode(gpadl_header_3, sizeof(gpadl_header_3), &m),
			 CHANNELMSG_GPADL_HEADER);
	ck_assert_uint_eq(g->child_relid, 14);
	ck_assert_uint_eq(g->gpadl, 0xe1e10);
	ck_assert_uint_eq(g->range_buflen, 32);
	ck_assert_uint_eq(g->rangecount, 1);
	ck_assert_uint_eq(g->data_offset, 20);
	ck_assert_uint_eq(g->data_len, 32);
	ck_assert_uint_eq(g->data_offset, sizeof(struct vmbus_channel_gpadl_header));

	/* The tail is where the GPADL code will look for the range. */
	range = gpadl_header_3 + g->data_offset;
	ck_assert_uint_eq(range[0] | range[1] << 8 | range[2] << 16, 0x3000);
	ck_assert_uint_eq(le64_at(range + 8), 0x12345);
	ck_assert_uint_eq(le64_at(range + 16), 0x12346);
	ck_assert_uint_eq(le64_at(range + 24), 0x12347);
	ck_assert(vmbus_msg_guest_may_send(m.type));
	ck_assert(!vmbus_msg_host_may_send(m.type));
}
END_TEST

/* OPENCHANNEL for relid 14 (Linux uses the relid as openid), ring GPADL
 * 0xe1e10, host-to-guest interrupts on VP 3, host-to-guest ring 0x41 pages
 * into the GPADL, user data all zero except the first and last byte. */
static const uint8_t open_scsi[148] = {
	/* 0: msgtype 5 */
	0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 8: child_relid 14, openid 14 */
	0x0e, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
	/* 16: ringbuffer_gpadlhandle, target_vp 3 */
	0x10, 0x1e, 0x0e, 0x00, 0x03, 0x00, 0x00, 0x00,
	/* 24: downstream_ringbuffer_pageoffset 0x41; 28: userdata */
	0x41, 0x00, 0x00, 0x00, 0x5a, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 144: userdata[116..119] */
	0x00, 0x00, 0x00, 0xa5,
};

START_TEST(open_channel)
{
	struct vmbus_msg m;
	const struct vmbus_msg_open *o = &m.u.open;
	uint8_t out[VMBUS_MSG_MAX_SIZE];

	ck_assert_int_eq(vmbus_msg_decode(open_scsi, sizeof(open_scsi), &m),
			 CHANNELMSG_OPENCHANNEL);
	ck_assert_uint_eq(o->child_relid, 14);
	ck_assert_uint_eq(o->openid, 14);
	ck_assert_uint_eq(o->ringbuffer_gpadlhandle, 0xe1e10);
	ck_assert_uint_eq(o->target_vp, 3);
	ck_assert_uint_eq(o->downstream_ringbuffer_pageoffset, 0x41);
	ck_assert_uint_eq(o->userdata[0], 0x5a);
	ck_assert_uint_eq(o->userdata[1], 0);
	ck_assert_uint_eq(o->userdata[119], 0xa5);
	ck_assert(!o->has_ext);
	/* Re-encoding gives back exactly these bytes. */
	ck_assert_int_eq(vmbus_msg_encode(&m, out, sizeof(out)), 148);
	ck_assert_mem_eq(out, open_scsi, sizeof(open_scsi));
}
END_TEST

/* The 6.0 form: 8 more bytes with connection id 0x1234, event flag 7 and
 * the redirect-interrupt flag (OpenVMM OpenChannel2). */
START_TEST(open_channel2)
{
	static const uint8_t ext[8] = {
		0x34, 0x12, 0x00, 0x00, 0x07, 0x00, 0x01, 0x00,
	};
	uint8_t b[156];
	struct vmbus_msg m;

	memcpy(b, open_scsi, sizeof(open_scsi));
	memcpy(b + 148, ext, sizeof(ext));
	ck_assert_int_eq(vmbus_msg_decode(b, sizeof(b), &m), CHANNELMSG_OPENCHANNEL);
	ck_assert(m.u.open.has_ext);
	ck_assert_uint_eq(m.u.open.connection_id, 0x1234);
	ck_assert_uint_eq(m.u.open.event_flag, 7);
	ck_assert_uint_eq(m.u.open.flags, VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT);
	ck_assert_uint_eq(m.u.open.target_vp, 3);
	/* One byte short of the long form is still the short form. */
	ck_assert_int_eq(vmbus_msg_decode(b, 155, &m), CHANNELMSG_OPENCHANNEL);
	ck_assert(!m.u.open.has_ext);
	ck_assert_uint_eq(m.u.open.connection_id, 0);
}
END_TEST

/* INITIATE_CONTACT as Linux sends it for 5.3 from VTL 0: SINT 2 in the
 * first byte of the old interrupt_page, target VP 0, two monitor pages. */
static const uint8_t contact_5_3[40] = {
	/* 0: msgtype 14 */
	0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 8: version 0x00050003, target_vcpu 0 */
	0x03, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 16: msg_sint 2, msg_vtl 0, reserved, feature_flags 0 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 24: monitor_page1 0x1a3c000 */
	0x00, 0xc0, 0xa3, 0x01, 0x00, 0x00, 0x00, 0x00,
	/* 32: monitor_page2 0x1a3d000 */
	0x00, 0xd0, 0xa3, 0x01, 0x00, 0x00, 0x00, 0x00,
};

START_TEST(initiate_contact_5_3)
{
	struct vmbus_msg m;
	const struct vmbus_msg_initiate_contact *c = &m.u.initiate_contact;
	uint8_t out[VMBUS_MSG_MAX_SIZE];

	ck_assert_int_eq(vmbus_msg_decode(contact_5_3, sizeof(contact_5_3), &m),
			 CHANNELMSG_INITIATE_CONTACT);
	ck_assert_uint_eq(c->version_requested, VERSION_WIN10_V5_3);
	ck_assert_uint_eq(c->target_vcpu, 0);
	ck_assert_uint_eq(c->msg_sint, VMBUS_MESSAGE_SINT);
	ck_assert_uint_eq(c->msg_vtl, 0);
	ck_assert_uint_eq(c->feature_flags, 0);
	ck_assert_uint_eq(c->interrupt_page, 0);
	ck_assert_uint_eq(c->monitor_page1, 0x1a3c000);
	ck_assert_uint_eq(c->monitor_page2, 0x1a3d000);
	ck_assert(!c->has_client_id);
	ck_assert_uint_eq(vmbus_version_contact_conn_id(c->version_requested), 4);
	ck_assert_int_eq(vmbus_msg_encode(&m, out, sizeof(out)), 40);
	ck_assert_mem_eq(out, contact_5_3, sizeof(contact_5_3));
}
END_TEST

/* Below 5.0 the same eight bytes are the interrupt page GPA. */
START_TEST(initiate_contact_win8_1)
{
	uint8_t b[sizeof(contact_5_3)];
	struct vmbus_msg m;

	memcpy(b, contact_5_3, sizeof(b));
	b[8] = 0x00;
	b[10] = 0x03;		/* 3.0 */
	b[16] = 0x00;
	b[17] = 0xb0;
	b[18] = 0xa3;
	b[19] = 0x01;		/* interrupt page 0x1a3b000 */
	ck_assert_int_eq(vmbus_msg_decode(b, sizeof(b), &m), CHANNELMSG_INITIATE_CONTACT);
	ck_assert_uint_eq(m.u.initiate_contact.version_requested, VERSION_WIN8_1);
	ck_assert_uint_eq(m.u.initiate_contact.interrupt_page, 0x1a3b000);
	ck_assert_uint_eq(m.u.initiate_contact.msg_sint, 0);
	ck_assert_uint_eq(vmbus_version_contact_conn_id(VERSION_WIN8_1), 1);
}
END_TEST

/* VERSION_RESPONSE accepting the version, with message connection id 4. */
static const uint8_t version_ok[16] = {
	/* 0: msgtype 15 */
	0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 8: version_supported 1, connection_state 0, padding, msg_conn_id */
	0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
};

START_TEST(version_response)
{
	uint8_t b[sizeof(version_ok)];
	struct vmbus_msg m;
	const struct vmbus_msg_version_response *r = &m.u.version_response;

	ck_assert_int_eq(vmbus_msg_decode(version_ok, sizeof(version_ok), &m),
			 CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(r->version_supported, 1);
	ck_assert_uint_eq(r->connection_state, VMBUS_CONNECTION_SUCCESSFUL);
	ck_assert_uint_eq(r->msg_conn_id, 4);
	ck_assert_uint_eq(r->form, VMBUS_VERSION_RESPONSE_V1);
	ck_assert_uint_eq(r->supported_features, 0);

	/* A refusal: version_supported 0, low resources. */
	memcpy(b, version_ok, sizeof(b));
	b[8] = 0;
	b[9] = VMBUS_CONNECTION_FAILED_LOW_RESOURCES;
	b[12] = 0;
	ck_assert_int_eq(vmbus_msg_decode(b, sizeof(b), &m), CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(r->version_supported, 0);
	ck_assert_uint_eq(r->connection_state, 1);
	ck_assert_uint_eq(r->msg_conn_id, 0);
	/* Linux drops a response shorter than its 16-byte struct. */
	ck_assert_int_eq(vmbus_msg_decode(version_ok, 12, &m), -EBADMSG);
}
END_TEST

/* A 6.0 VersionResponse2 (20 bytes) with feature flags 0x0b. */
START_TEST(version_response2)
{
	uint8_t b[20];
	struct vmbus_msg m;

	memcpy(b, version_ok, sizeof(version_ok));
	b[16] = 0x0b;
	b[17] = 0x00;
	b[18] = 0x00;
	b[19] = 0x00;
	ck_assert_int_eq(vmbus_msg_decode(b, sizeof(b), &m), CHANNELMSG_VERSION_RESPONSE);
	ck_assert_uint_eq(m.u.version_response.form, VMBUS_VERSION_RESPONSE_V2);
	ck_assert_uint_eq(m.u.version_response.supported_features, 0x0b);
	ck_assert_uint_eq(m.u.version_response.msg_conn_id, 4);
}
END_TEST

/* VMBUS_GUID_SCSI must hold the Windows byte order of its text form. */
START_TEST(guid_byte_order)
{
	static const struct vmbus_guid scsi = VMBUS_GUID_SCSI;
	static const uint8_t wire[16] = {
		0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
		0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f,
	};
	static const struct vmbus_guid net = VMBUS_GUID_NET;
	static const uint8_t net_wire[16] = {
		0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46,
		0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e,
	};
	struct vmbus_guid g;
	char text[VMBUS_GUID_STR_SIZE];

	ck_assert_mem_eq(scsi.b, wire, 16);
	ck_assert_mem_eq(net.b, net_wire, 16);
	vmbus_guid_format(&scsi, text);
	ck_assert_str_eq(text, "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f");
	ck_assert_int_eq(vmbus_guid_parse("ba6163d9-04a1-4d29-b605-72e2ffb1dc7f", &g), 0);
	ck_assert_mem_eq(g.b, wire, 16);
	ck_assert_int_eq(vmbus_guid_parse("32412632-86cb-44a2-9b5c-50d1417354f5", &g), 0);
	{
		static const struct vmbus_guid ide = VMBUS_GUID_IDE;

		ck_assert(vmbus_guid_equal(&g, &ide));
	}
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, offer_storvsc);
	tcase_add_test(tc, offer_monitor_bits);
	tcase_add_test(tc, gpadl_header_one_range);
	tcase_add_test(tc, open_channel);
	tcase_add_test(tc, open_channel2);
	tcase_add_test(tc, initiate_contact_5_3);
	tcase_add_test(tc, initiate_contact_win8_1);
	tcase_add_test(tc, version_response);
	tcase_add_test(tc, version_response2);
	tcase_add_test(tc, guid_byte_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
