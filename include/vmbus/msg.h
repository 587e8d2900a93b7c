/* SPDX-License-Identifier: MIT */
/*
 * VMBus channel-management messages: decode and validate what the peer sent,
 * encode what we send, and small helpers around them (type names, direction,
 * protocol versions, GUID text).
 *
 * Wire formats: include/vmbus/proto/vmbus.h, from Linux include/linux/hyperv.h
 * and drivers/hv/channel_mgmt.c, and OpenVMM vmbus_core/src/protocol.rs.
 *
 * Pure functions: no allocation, no I/O, freestanding-safe. A decoded message
 * is a copy in host byte order; it never points into the input buffer.
 */
#ifndef VMBUS_MSG_H
#define VMBUS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/proto/vmbus.h>

/*
 * Decoded messages. These are value types the caller embeds or puts on the
 * stack, so they are public. Reserved and padding fields of the wire format
 * are dropped on decode and written as zero on encode.
 */

/* RESCIND_CHANNELOFFER, CLOSECHANNEL, RELID_RELEASED. */
struct vmbus_msg_relid {
	uint32_t child_relid;
};

struct vmbus_msg_offer {
	struct vmbus_guid if_type;
	struct vmbus_guid if_instance;
	uint8_t user_def[VMBUS_OFFER_USER_DEFINED_SIZE];
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint16_t sub_channel_index;
	uint16_t mmio_megabytes_optional;	/* Linux: reserved3 */
	uint32_t child_relid;
	uint32_t connection_id;
	uint8_t monitor_id;
	bool monitor_allocated;			/* bit 0 of its byte */
	bool is_dedicated_interrupt;		/* bit 0 of its u16 */
};

struct vmbus_msg_open {
	uint8_t userdata[VMBUS_OPEN_USER_DATA_SIZE];
	uint32_t child_relid;
	uint32_t openid;
	uint32_t ringbuffer_gpadlhandle;
	uint32_t target_vp;
	uint32_t downstream_ringbuffer_pageoffset;
	/* The 156-byte 6.0 form (struct vmbus_channel_open_channel2). The
	 * decoder sets has_ext whenever the message is long enough; only a
	 * server that negotiated the matching feature flags may use it. */
	bool has_ext;
	uint16_t event_flag;
	uint32_t connection_id;
	uint16_t flags;
};

struct vmbus_msg_open_result {
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status;
};

/* GPADL_HEADER: only the fixed part is decoded. The gpa_range array follows
 * in the input at data_offset for data_len bytes; range_buflen and
 * rangecount are NOT checked against it here (the GPADL table does that). */
struct vmbus_msg_gpadl_header {
	uint32_t child_relid;
	uint32_t gpadl;
	uint16_t range_buflen;
	uint16_t rangecount;
	uint16_t data_offset;
	uint16_t data_len;
};

/* GPADL_BODY: fixed part; the PFNs follow at data_offset for data_len bytes
 * (not required to be a multiple of 8 here). */
struct vmbus_msg_gpadl_body {
	uint32_t msgnumber;
	uint32_t gpadl;
	uint16_t data_offset;
	uint16_t data_len;
};

struct vmbus_msg_gpadl_created {
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status;
};

struct vmbus_msg_gpadl_teardown {
	uint32_t child_relid;
	uint32_t gpadl;
};

struct vmbus_msg_gpadl_torndown {
	uint32_t gpadl;
};

/*
 * INITIATE_CONTACT. The third wire field is a union chosen by the requested
 * version: below 5.0 it is interrupt_page; from 5.0 on it is msg_sint,
 * msg_vtl and feature_flags (OpenVMM honours feature_flags only from 6.0).
 * The decoder fills only the half that applies to version_requested and
 * zeroes the other; the encoder writes only that half too.
 */
struct vmbus_msg_initiate_contact {
	uint32_t version_requested;
	uint32_t target_vcpu;
	uint64_t interrupt_page;
	uint64_t monitor_page1;
	uint64_t monitor_page2;
	uint32_t feature_flags;
	uint8_t msg_sint;
	uint8_t msg_vtl;
	/* The 56-byte 6.0 form with a client id (VMBUS_FEATURE_CLIENT_ID). */
	bool has_client_id;
	struct vmbus_guid client_id;
};

/* VERSION_RESPONSE in its three sizes (16, 20 and 40 bytes). */
enum vmbus_msg_version_response_form {
	VMBUS_VERSION_RESPONSE_V1 = 0,	/* up to 5.3 */
	VMBUS_VERSION_RESPONSE_V2 = 1,	/* 6.0: + supported_features */
	VMBUS_VERSION_RESPONSE_V3 = 2,	/* 6.0: + server monitor pages */
};

struct vmbus_msg_version_response {
	uint8_t version_supported;
	uint8_t connection_state;
	uint8_t form;			/* enum vmbus_msg_version_response_form */
	uint32_t msg_conn_id;
	uint32_t supported_features;
	uint64_t parent_to_child_monitor_page_gpa;
	uint64_t child_to_parent_monitor_page_gpa;
};

struct vmbus_msg_tl_connect_request {
	struct vmbus_guid guest_endpoint_id;
	struct vmbus_guid host_service_id;
	/* The 56-byte form of 5.2 and later. */
	bool has_silo_id;
	struct vmbus_guid silo_id;
};

struct vmbus_msg_tl_connect_result {
	struct vmbus_guid guest_endpoint_id;
	struct vmbus_guid host_service_id;
	uint32_t status;
};

struct vmbus_msg_modifychannel {
	uint32_t child_relid;
	uint32_t target_vp;
};

struct vmbus_msg_modifychannel_response {
	uint32_t child_relid;
	uint32_t status;
};

/* A decoded channel message: type is an enum vmbus_channel_message_type and
 * selects the union member. REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD and
 * UNLOAD_RESPONSE carry nothing but the type. */
struct vmbus_msg {
	uint32_t type;
	union {
		struct vmbus_msg_offer offer;
		struct vmbus_msg_relid rescind;
		struct vmbus_msg_open open;
		struct vmbus_msg_open_result open_result;
		struct vmbus_msg_relid close;
		struct vmbus_msg_gpadl_header gpadl_header;
		struct vmbus_msg_gpadl_body gpadl_body;
		struct vmbus_msg_gpadl_created gpadl_created;
		struct vmbus_msg_gpadl_teardown gpadl_teardown;
		struct vmbus_msg_gpadl_torndown gpadl_torndown;
		struct vmbus_msg_relid relid_released;
		struct vmbus_msg_initiate_contact initiate_contact;
		struct vmbus_msg_version_response version_response;
		struct vmbus_msg_tl_connect_request tl_connect_request;
		struct vmbus_msg_tl_connect_result tl_connect_result;
		struct vmbus_msg_modifychannel modifychannel;
		struct vmbus_msg_modifychannel_response modifychannel_response;
	} u;
};

/* ---- Decode / encode ------------------------------------------------------ */

/*
 * Smallest wire size (header included) accepted for a message type, or 0 if
 * this library does not know the type. Longer messages are accepted, as
 * Linux and OpenVMM do, because later versions append fields.
 */
size_t vmbus_msg_min_size(uint32_t type);

/*
 * Decode and validate one message of len bytes (the SynIC payload, hostile).
 * Every field is read once and copied into *out (zeroed first).
 * Returns the message type (> 0) on success; -EMSGSIZE if len > 240;
 * -EBADMSG if len is shorter than the header or than the type's minimum;
 * -ENOMSG for a type this library does not decode (0, 18..20, >= 25);
 * -EINVAL for a NULL out, or a NULL buf with len > 0.
 */
int vmbus_msg_decode(const void *buf, size_t len, struct vmbus_msg *out);

/*
 * Encode *m into buf (size bytes). Returns the wire length, which is exactly
 * the size of the form chosen (e.g. 196 for OFFERCHANNEL, 148 or 156 for
 * OPENCHANNEL). -ENOSPC if size is too small; -EINVAL for a NULL argument,
 * an unknown type, a bad form value, or GPADL_HEADER / GPADL_BODY (those are
 * built with their PFNs by the GPADL code).
 */
int vmbus_msg_encode(const struct vmbus_msg *m, void *buf, size_t size);

/* ---- Direction and names ---------------------------------------------------- */

/* True if a guest may send this type to a host (a server must reject
 * anything else arriving from a guest). */
bool vmbus_msg_guest_may_send(uint32_t type);

/* True if a host may send this type to a guest. */
bool vmbus_msg_host_may_send(uint32_t type);

/* The protocol name of a type, e.g. "OFFERCHANNEL"; "UNKNOWN" for others.
 * Never NULL. */
const char *vmbus_msg_type_name(uint32_t type);

/* ---- Versions ------------------------------------------------------------- */

#define VMBUS_VERSION_COUNT	8

/* The versions a server accepts and a guest tries, newest first (Linux's
 * order): 5.3, 5.2, 5.1, 5.0, 4.1, 4.0, 3.0, 2.4. */
extern const uint32_t vmbus_versions[VMBUS_VERSION_COUNT];

/* True if version is one of vmbus_versions. */
bool vmbus_version_known(uint32_t version);

/* The message connection id a guest posts INITIATE_CONTACT to when asking
 * for version: 4 from 5.0 on, 1 before. */
uint32_t vmbus_version_contact_conn_id(uint32_t version);

/* "major.minor" and a NUL, at most this long ("65535.65535"). */
#define VMBUS_VERSION_STR_SIZE	12

/* Write version as "5.3" into buf (size bytes, NUL-terminated). Returns
 * the string length, or -ENOSPC (buf then holds "" if size > 0). */
int vmbus_version_str(uint32_t version, char *buf, size_t size);

/* ---- GUIDs ---------------------------------------------------------------- */

/* "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f" and a NUL. */
#define VMBUS_GUID_STR_SIZE	37

/* Write the canonical lower-case text of g into out. */
void vmbus_guid_format(const struct vmbus_guid *g, char out[VMBUS_GUID_STR_SIZE]);

/* Parse exactly 36 characters of canonical text (hex digits of either case,
 * dashes at 8, 13, 18, 23) followed by a NUL into wire byte order. Returns
 * 0, or -EINVAL for anything else (braces, spaces, short or long input). */
int vmbus_guid_parse(const char *s, struct vmbus_guid *out);

/* True if the two GUIDs are byte-for-byte equal. */
bool vmbus_guid_equal(const struct vmbus_guid *a, const struct vmbus_guid *b);

#endif
