/* SPDX-License-Identifier: MIT */
/*
 * VMBus wire formats: the ring-buffer control page, packet descriptors and
 * packet types, GPA-direct and transfer-page packets, channel-management
 * messages, protocol versions and device class GUIDs.
 *
 * Sources: Linux include/linux/hyperv.h, drivers/hv/hyperv_vmbus.h,
 * drivers/hv/ring_buffer.c; OpenVMM vm/devices/vmbus/vmbus_core/src/protocol.rs.
 * All fields are little-endian; all structures are packed exactly as on the wire.
 */
#ifndef VMBUS_PROTO_VMBUS_H
#define VMBUS_PROTO_VMBUS_H

#include <stddef.h>
#include <stdint.h>

#include <vmbus/proto/tlfs.h>

/* ---- GUIDs ------------------------------------------------------------- */

/* A GUID as it travels: Data1..Data3 little-endian, Data4 as bytes. */
struct vmbus_guid {
	uint8_t b[16];
};

/* Build the wire bytes of GUID aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee. */
#define VMBUS_GUID_INIT(a, b, c, d, e) { {					\
	(uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16), (uint8_t)((a) >> 24),	\
	(uint8_t)(b), (uint8_t)((b) >> 8), (uint8_t)(c), (uint8_t)((c) >> 8),		\
	(uint8_t)((d) >> 8), (uint8_t)(d),						\
	(uint8_t)((e) >> 40), (uint8_t)((e) >> 32), (uint8_t)((e) >> 24),		\
	(uint8_t)((e) >> 16), (uint8_t)((e) >> 8), (uint8_t)(e) } }

/* ba6163d9-04a1-4d29-b605-72e2ffb1dc7f: synthetic SCSI controller. */
#define VMBUS_GUID_SCSI \
	VMBUS_GUID_INIT(0xba6163d9u, 0x04a1u, 0x4d29u, 0xb605u, 0x72e2ffb1dc7full)
/* 32412632-86cb-44a2-9b5c-50d1417354f5: IDE accelerator. */
#define VMBUS_GUID_IDE \
	VMBUS_GUID_INIT(0x32412632u, 0x86cbu, 0x44a2u, 0x9b5cu, 0x50d1417354f5ull)
/* f8615163-df3e-46c5-913f-f2d2f965ed0e: synthetic network adapter. */
#define VMBUS_GUID_NET \
	VMBUS_GUID_INIT(0xf8615163u, 0xdf3eu, 0x46c5u, 0x913fu, 0xf2d2f965ed0eull)

/* ---- Ring buffer --------------------------------------------------------- */

/* One ring: this 4 KiB control page, then the data area (a whole number of
 * pages). Indices are byte offsets into the data area. */
struct vmbus_ring_ctrl {
	uint32_t write_index;
	uint32_t read_index;
	uint32_t interrupt_mask;
	uint32_t pending_send_sz;
	uint32_t reserved1[12];
	uint32_t feature_bits;
	uint8_t reserved2[HV_PAGE_SIZE - 68];
};

#define VMBUS_RING_FEAT_PENDING_SEND_SZ	(1u << 0)
#define VMBUS_RING_CTRL_SIZE		HV_PAGE_SIZE

/* Every packet is padded to 8 bytes and followed by this trailer: the
 * write index the packet started at, in the upper 32 bits. */
#define VMBUS_RING_TRAILER_SIZE		8u
#define VMBUS_PKT_ALIGN			8u

/* Packet descriptor; offset8 and len8 count 8-byte units, len8 covers the
 * whole padded packet (not the trailer). */
struct vmpacket_descriptor {
	uint16_t type;
	uint16_t offset8;
	uint16_t len8;
	uint16_t flags;
	uint64_t trans_id;
};

#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED	0x1u

enum vmbus_packet_type {
	VM_PKT_INVALID			= 0x0,
	VM_PKT_SYNCH			= 0x1,
	VM_PKT_ADD_XFER_PAGESET		= 0x2,
	VM_PKT_RM_XFER_PAGESET		= 0x3,
	VM_PKT_ESTABLISH_GPADL		= 0x4,
	VM_PKT_TEARDOWN_GPADL		= 0x5,
	VM_PKT_DATA_INBAND		= 0x6,
	VM_PKT_DATA_USING_XFER_PAGES	= 0x7,
	VM_PKT_DATA_USING_GPADL		= 0x8,
	VM_PKT_DATA_USING_GPA_DIRECT	= 0x9,
	VM_PKT_CANCEL_REQUEST		= 0xa,
	VM_PKT_COMP			= 0xb,
	VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
	VM_PKT_ADDITIONAL_DATA		= 0xd,
};

/* A range of guest pages: byte_offset into the first page, byte_count in
 * all; pfn_array holds one entry per page touched. */
struct vmbus_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint64_t pfn_array[];
};

/* DATA_USING_GPA_DIRECT: descriptor, then range_count ranges. */
struct vmbus_gpa_direct_header {
	struct vmpacket_descriptor desc;
	uint32_t reserved;
	uint32_t range_count;
	/* struct vmbus_gpa_range ranges[] follow */
};

/* DATA_USING_XFER_PAGES. */
struct vmbus_xfer_page_range {
	uint32_t byte_count;
	uint32_t byte_offset;
};

struct vmbus_xfer_page_header {
	struct vmpacket_descriptor desc;
	uint16_t xfer_pageset_id;
	uint8_t sender_owns_set;
	uint8_t reserved;
	uint32_t range_count;
	struct vmbus_xfer_page_range ranges[];
};

/* ---- Connection ids, SINT ------------------------------------------------ */

#define VMBUS_MESSAGE_CONNECTION_ID	1u
#define VMBUS_MESSAGE_CONNECTION_ID_4	4u	/* INITIATE_CONTACT at >= 5.0 */
#define VMBUS_MESSAGE_PORT_ID		1u
#define VMBUS_EVENT_CONNECTION_ID	2u
#define VMBUS_EVENT_PORT_ID		2u
#define VMBUS_MONITOR_CONNECTION_ID	3u
#define VMBUS_MONITOR_PORT_ID		3u
#define VMBUS_MESSAGE_SINT		2u
/* Newer Linux first tries INITIATE_CONTACT on this id (a paravisor relay
 * answers it; a plain host fails the post) before falling back to 4. */
#define VMBUS_MESSAGE_REDIRECT_CONNECTION_ID	0x800074u

/* ---- Protocol versions (major << 16 | minor) ----------------------------- */

#define VMBUS_MAKE_VERSION(major, minor)	(((uint32_t)(major) << 16) | (minor))
#define VMBUS_VERSION_MAJOR(v)		((uint32_t)(v) >> 16)
#define VMBUS_VERSION_MINOR(v)		((uint32_t)(v) & 0xffffu)

#define VERSION_WS2008		VMBUS_MAKE_VERSION(0, 13)
#define VERSION_WIN7		VMBUS_MAKE_VERSION(1, 1)
#define VERSION_WIN8		VMBUS_MAKE_VERSION(2, 4)
#define VERSION_WIN8_1		VMBUS_MAKE_VERSION(3, 0)
#define VERSION_WIN10		VMBUS_MAKE_VERSION(4, 0)
#define VERSION_WIN10_V4_1	VMBUS_MAKE_VERSION(4, 1)
#define VERSION_WIN10_V5	VMBUS_MAKE_VERSION(5, 0)
#define VERSION_WIN10_V5_1	VMBUS_MAKE_VERSION(5, 1)
#define VERSION_WIN10_V5_2	VMBUS_MAKE_VERSION(5, 2)
#define VERSION_WIN10_V5_3	VMBUS_MAKE_VERSION(5, 3)
#define VERSION_COPPER		VMBUS_MAKE_VERSION(6, 0)

/* ---- Channel-management messages ----------------------------------------- */

enum vmbus_channel_message_type {
	CHANNELMSG_INVALID			= 0,
	CHANNELMSG_OFFERCHANNEL			= 1,
	CHANNELMSG_RESCIND_CHANNELOFFER		= 2,
	CHANNELMSG_REQUESTOFFERS		= 3,
	CHANNELMSG_ALLOFFERS_DELIVERED		= 4,
	CHANNELMSG_OPENCHANNEL			= 5,
	CHANNELMSG_OPENCHANNEL_RESULT		= 6,
	CHANNELMSG_CLOSECHANNEL			= 7,
	CHANNELMSG_GPADL_HEADER			= 8,
	CHANNELMSG_GPADL_BODY			= 9,
	CHANNELMSG_GPADL_CREATED		= 10,
	CHANNELMSG_GPADL_TEARDOWN		= 11,
	CHANNELMSG_GPADL_TORNDOWN		= 12,
	CHANNELMSG_RELID_RELEASED		= 13,
	CHANNELMSG_INITIATE_CONTACT		= 14,
	CHANNELMSG_VERSION_RESPONSE		= 15,
	CHANNELMSG_UNLOAD			= 16,
	CHANNELMSG_UNLOAD_RESPONSE		= 17,
	CHANNELMSG_18				= 18,
	CHANNELMSG_19				= 19,
	CHANNELMSG_20				= 20,
	CHANNELMSG_TL_CONNECT_REQUEST		= 21,
	CHANNELMSG_MODIFYCHANNEL		= 22,
	CHANNELMSG_TL_CONNECT_RESULT		= 23,
	CHANNELMSG_MODIFYCHANNEL_RESPONSE	= 24,
	CHANNELMSG_COUNT
};

/* Linux leaves 18..20 unnamed; OpenVMM names them (reserved channels,
 * Win10 and later). */
#define CHANNELMSG_OPEN_RESERVED_CHANNEL	CHANNELMSG_18
#define CHANNELMSG_CLOSE_RESERVED_CHANNEL	CHANNELMSG_19
#define CHANNELMSG_CLOSE_RESERVED_RESPONSE	CHANNELMSG_20
/* OpenVMM only, version 6.0 (Copper) with the matching feature flags. */
#define CHANNELMSG_MODIFY_CONNECTION		25
#define CHANNELMSG_MODIFY_CONNECTION_RESPONSE	26
#define CHANNELMSG_PAUSE			27
#define CHANNELMSG_PAUSE_RESPONSE		28
#define CHANNELMSG_RESUME			29

/* The same values under the VMBUS_MSG_ prefix (QEMU's spelling). */
#define VMBUS_MSG_OFFERCHANNEL		CHANNELMSG_OFFERCHANNEL
#define VMBUS_MSG_RESCIND_CHANNELOFFER	CHANNELMSG_RESCIND_CHANNELOFFER
#define VMBUS_MSG_REQUESTOFFERS		CHANNELMSG_REQUESTOFFERS
#define VMBUS_MSG_ALLOFFERS_DELIVERED	CHANNELMSG_ALLOFFERS_DELIVERED
#define VMBUS_MSG_OPENCHANNEL		CHANNELMSG_OPENCHANNEL
#define VMBUS_MSG_OPENCHANNEL_RESULT	CHANNELMSG_OPENCHANNEL_RESULT
#define VMBUS_MSG_CLOSECHANNEL		CHANNELMSG_CLOSECHANNEL
#define VMBUS_MSG_GPADL_HEADER		CHANNELMSG_GPADL_HEADER
#define VMBUS_MSG_GPADL_BODY		CHANNELMSG_GPADL_BODY
#define VMBUS_MSG_GPADL_CREATED		CHANNELMSG_GPADL_CREATED
#define VMBUS_MSG_GPADL_TEARDOWN	CHANNELMSG_GPADL_TEARDOWN
#define VMBUS_MSG_GPADL_TORNDOWN	CHANNELMSG_GPADL_TORNDOWN
#define VMBUS_MSG_RELID_RELEASED	CHANNELMSG_RELID_RELEASED
#define VMBUS_MSG_INITIATE_CONTACT	CHANNELMSG_INITIATE_CONTACT
#define VMBUS_MSG_VERSION_RESPONSE	CHANNELMSG_VERSION_RESPONSE
#define VMBUS_MSG_UNLOAD		CHANNELMSG_UNLOAD
#define VMBUS_MSG_UNLOAD_RESPONSE	CHANNELMSG_UNLOAD_RESPONSE
#define VMBUS_MSG_TL_CONNECT_REQUEST	CHANNELMSG_TL_CONNECT_REQUEST
#define VMBUS_MSG_MODIFYCHANNEL		CHANNELMSG_MODIFYCHANNEL
#define VMBUS_MSG_TL_CONNECT_RESULT	CHANNELMSG_TL_CONNECT_RESULT
#define VMBUS_MSG_MODIFYCHANNEL_RESPONSE CHANNELMSG_MODIFYCHANNEL_RESPONSE

/* NTSTATUS values OpenVMM puts in result messages (open, GPADL created,
 * TL connect, modify channel); zero is success, negative is failure. */
#define VMBUS_STATUS_SUCCESS			0x00000000u
#define VMBUS_STATUS_UNSUCCESSFUL		0x8000ffffu
#define VMBUS_STATUS_CONNECTION_REFUSED		0xc0000236u

/* A channel message is the payload of one SynIC message: at most 240 bytes. */
#define VMBUS_MSG_MAX_SIZE		HV_MESSAGE_PAYLOAD_BYTE_COUNT

struct vmbus_channel_message_header {
	uint32_t msgtype;
	uint32_t padding;
};

#define VMBUS_OFFER_USER_DEFINED_SIZE	120
#define VMBUS_OPEN_USER_DATA_SIZE	120

/* chn_flags */
#define VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE	0x0001
#define VMBUS_CHANNEL_SERVER_SUPPORTS_TRANSFER_PAGES	0x0002
#define VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS		0x0004
#define VMBUS_CHANNEL_NAMED_PIPE_MODE			0x0010
#define VMBUS_CHANNEL_LOOPBACK_OFFER			0x0100
#define VMBUS_CHANNEL_PARENT_OFFER			0x0200
#define VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION	0x0400
#define VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER		0x2000
/* OpenVMM reuses 0x2, 0x4 and 0x8 for confidential VMs (confidential ring
 * buffer, confidential external memory, pinned external memory). */

struct vmbus_channel_offer_channel {
	struct vmbus_channel_message_header header;
	struct vmbus_guid if_type;
	struct vmbus_guid if_instance;
	uint64_t reserved1;
	uint64_t reserved2;
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint8_t user_def[VMBUS_OFFER_USER_DEFINED_SIZE];
	uint16_t sub_channel_index;
	uint16_t reserved3;		/* OpenVMM: mmio_megabytes_optional */
	uint32_t child_relid;
	uint8_t monitorid;
	uint8_t monitor_allocated;	/* bit 0 */
	uint16_t is_dedicated_interrupt; /* bit 0 */
	uint32_t connection_id;
} __attribute__((packed));

#define VMBUS_OFFER_MONITOR_ALLOCATED	0x01u
#define VMBUS_OFFER_DEDICATED_INTERRUPT	0x0001u

struct vmbus_channel_rescind_offer {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
} __attribute__((packed));

struct vmbus_channel_request_offers {
	struct vmbus_channel_message_header header;
};

struct vmbus_channel_all_offers_delivered {
	struct vmbus_channel_message_header header;
};

struct vmbus_channel_open_channel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t ringbuffer_gpadlhandle;
	uint32_t target_vp;
	uint32_t downstream_ringbuffer_pageoffset;
	uint8_t userdata[VMBUS_OPEN_USER_DATA_SIZE];
} __attribute__((packed));

/* OpenVMM OpenChannel2: version 6.0 with feature GUEST_SPECIFIED_SIGNAL_
 * PARAMETERS (connection_id, event_flag) or CHANNEL_INTERRUPT_REDIRECTION
 * (flags). A server that negotiated neither reads only the first 148 bytes. */
struct vmbus_channel_open_channel2 {
	struct vmbus_channel_open_channel open;
	uint32_t connection_id;
	uint16_t event_flag;
	uint16_t flags;
} __attribute__((packed));

#define VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT	0x0001u

struct vmbus_channel_open_result {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status;
} __attribute__((packed));

struct vmbus_channel_close_channel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
} __attribute__((packed));

/* GPADL_HEADER: ranges (each a struct vmbus_gpa_range with its PFNs) follow;
 * range_buflen is their size in bytes. */
struct vmbus_channel_gpadl_header {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
	uint16_t range_buflen;
	uint16_t rangecount;
	/* struct vmbus_gpa_range range[] follow */
} __attribute__((packed));

struct vmbus_channel_gpadl_body {
	struct vmbus_channel_message_header header;
	uint32_t msgnumber;
	uint32_t gpadl;
	uint64_t pfn[];
} __attribute__((packed));

struct vmbus_channel_gpadl_created {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status;
} __attribute__((packed));

struct vmbus_channel_gpadl_teardown {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
} __attribute__((packed));

struct vmbus_channel_gpadl_torndown {
	struct vmbus_channel_message_header header;
	uint32_t gpadl;
} __attribute__((packed));

struct vmbus_channel_relid_released {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
} __attribute__((packed));

/* Below 5.0 the third field is the guest's interrupt page; from 5.0 on it
 * is the target SINT and VTL, and from 6.0 on also the feature flags. */
struct vmbus_channel_initiate_contact {
	struct vmbus_channel_message_header header;
	uint32_t vmbus_version_requested;
	uint32_t target_vcpu;
	union {
		uint64_t interrupt_page;
		struct {
			uint8_t msg_sint;
			uint8_t msg_vtl;
			uint8_t reserved[2];
			uint32_t feature_flags;
		};
	};
	uint64_t monitor_page1;
	uint64_t monitor_page2;
} __attribute__((packed));

/* OpenVMM InitiateContact2: 6.0 with VMBUS_FEATURE_CLIENT_ID; told apart
 * from the short form only by its size. */
struct vmbus_channel_initiate_contact2 {
	struct vmbus_channel_initiate_contact contact;
	struct vmbus_guid client_id;
} __attribute__((packed));

/* Feature flags of version 6.0 (initiate contact, version response 2). */
#define VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS	0x01u
#define VMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION	0x02u
#define VMBUS_FEATURE_MODIFY_CONNECTION			0x04u
#define VMBUS_FEATURE_CLIENT_ID				0x08u
#define VMBUS_FEATURE_CONFIDENTIAL_CHANNELS		0x10u
#define VMBUS_FEATURE_PAUSE_RESUME			0x20u
#define VMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES	0x40u
#define VMBUS_FEATURE_GPA_PINNING			0x80u

/* msg_conn_id is the connection id for later guest messages from 5.0 on;
 * below 5.0 OpenVMM puts the selected version there and guests ignore it. */
struct vmbus_channel_version_response {
	struct vmbus_channel_message_header header;
	uint8_t version_supported;
	uint8_t connection_state;
	uint16_t padding;
	uint32_t msg_conn_id;
} __attribute__((packed));

/* connection_state */
#define VMBUS_CONNECTION_SUCCESSFUL		0
#define VMBUS_CONNECTION_FAILED_LOW_RESOURCES	1
#define VMBUS_CONNECTION_FAILED_UNKNOWN_FAILURE	2

/* OpenVMM VersionResponse2: sent for a supported version >= 6.0. */
struct vmbus_channel_version_response2 {
	struct vmbus_channel_version_response response;
	uint32_t supported_features;
} __attribute__((packed));

/* OpenVMM VersionResponse3: 6.0 when the server provides the monitor pages
 * (VMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES). */
struct vmbus_channel_version_response3 {
	struct vmbus_channel_version_response2 response2;
	uint32_t padding;
	uint64_t parent_to_child_monitor_page_gpa;
	uint64_t child_to_parent_monitor_page_gpa;
} __attribute__((packed));

/* Reserved channels (message types 18..20; OpenVMM, Win10 and later). */
struct vmbus_channel_open_reserved_channel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t target_vp;
	uint32_t target_sint;
	uint32_t ringbuffer_gpadlhandle;
	uint32_t downstream_ringbuffer_pageoffset;
} __attribute__((packed));

struct vmbus_channel_close_reserved_channel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t target_vp;
	uint32_t target_sint;
} __attribute__((packed));

struct vmbus_channel_close_reserved_response {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
} __attribute__((packed));

struct vmbus_channel_unload {
	struct vmbus_channel_message_header header;
};

struct vmbus_channel_unload_response {
	struct vmbus_channel_message_header header;
};

struct vmbus_channel_tl_connect_request {
	struct vmbus_channel_message_header header;
	struct vmbus_guid guest_endpoint_id;
	struct vmbus_guid host_service_id;
} __attribute__((packed));

/* OpenVMM TlConnectRequest2, from 5.2 (Win10 RS5) on. Some guests keep
 * sending the short form, so a server tells them apart by size. */
struct vmbus_channel_tl_connect_request2 {
	struct vmbus_channel_tl_connect_request request;
	struct vmbus_guid silo_id;
} __attribute__((packed));

struct vmbus_channel_tl_connect_result {
	struct vmbus_channel_message_header header;
	struct vmbus_guid guest_endpoint_id;
	struct vmbus_guid host_service_id;
	uint32_t status;
} __attribute__((packed));

struct vmbus_channel_modifychannel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t target_vp;
} __attribute__((packed));

struct vmbus_channel_modifychannel_response {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t status;
} __attribute__((packed));

/* How many PFNs fit in the first and in each further GPADL message, for a
 * GPADL made of one range (what Linux sends). */
#define VMBUS_GPADL_HEADER_PFNS \
	((VMBUS_MSG_MAX_SIZE - sizeof(struct vmbus_channel_gpadl_header) - \
	  sizeof(struct vmbus_gpa_range)) / sizeof(uint64_t))
#define VMBUS_GPADL_BODY_PFNS \
	((VMBUS_MSG_MAX_SIZE - sizeof(struct vmbus_channel_gpadl_body)) / sizeof(uint64_t))

/* ---- Size and offset checks (values from hyperv.h / protocol.rs) --------- */

_Static_assert(sizeof(struct vmbus_guid) == 16, "guid");
_Static_assert(sizeof(struct vmbus_ring_ctrl) == 4096, "ring control page");
_Static_assert(offsetof(struct vmbus_ring_ctrl, read_index) == 0x04, "read_index");
_Static_assert(offsetof(struct vmbus_ring_ctrl, interrupt_mask) == 0x08, "interrupt_mask");
_Static_assert(offsetof(struct vmbus_ring_ctrl, pending_send_sz) == 0x0c, "pending_send_sz");
_Static_assert(offsetof(struct vmbus_ring_ctrl, feature_bits) == 0x40, "feature_bits");
_Static_assert(sizeof(struct vmpacket_descriptor) == 16, "vmpacket_descriptor");
_Static_assert(offsetof(struct vmpacket_descriptor, trans_id) == 8, "trans_id");
_Static_assert(sizeof(struct vmbus_gpa_range) == 8, "gpa_range");
_Static_assert(sizeof(struct vmbus_gpa_direct_header) == 24, "gpa direct header");
_Static_assert(sizeof(struct vmbus_xfer_page_range) == 8, "xfer page range");
_Static_assert(sizeof(struct vmbus_xfer_page_header) == 24, "xfer page header");
_Static_assert(offsetof(struct vmbus_xfer_page_header, range_count) == 20, "xfer range_count");
_Static_assert(sizeof(struct vmbus_channel_message_header) == 8, "message header");
_Static_assert(sizeof(struct vmbus_channel_offer_channel) == 196, "offer");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, if_type) == 8, "offer if_type");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, if_instance) == 24, "offer if_instance");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, chn_flags) == 56, "offer chn_flags");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, user_def) == 60, "offer user_def");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, sub_channel_index) == 180, "offer subch");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, child_relid) == 184, "offer relid");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, monitorid) == 188, "offer monitorid");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, is_dedicated_interrupt) == 190, "offer dedicated");
_Static_assert(offsetof(struct vmbus_channel_offer_channel, connection_id) == 192, "offer connid");
_Static_assert(sizeof(struct vmbus_channel_rescind_offer) == 12, "rescind");
_Static_assert(sizeof(struct vmbus_channel_request_offers) == 8, "request offers");
_Static_assert(sizeof(struct vmbus_channel_open_channel) == 148, "open");
_Static_assert(sizeof(struct vmbus_channel_open_channel2) == 156, "open2");
_Static_assert(offsetof(struct vmbus_channel_open_channel2, event_flag) == 152, "open2 event_flag");
_Static_assert(offsetof(struct vmbus_channel_open_channel, target_vp) == 20, "open target_vp");
_Static_assert(offsetof(struct vmbus_channel_open_channel, ringbuffer_gpadlhandle) == 16, "open gpadl");
_Static_assert(offsetof(struct vmbus_channel_open_channel, downstream_ringbuffer_pageoffset) == 24, "open offset");
_Static_assert(offsetof(struct vmbus_channel_open_channel, userdata) == 28, "open userdata");
_Static_assert(sizeof(struct vmbus_channel_open_result) == 20, "open result");
_Static_assert(sizeof(struct vmbus_channel_close_channel) == 12, "close");
_Static_assert(sizeof(struct vmbus_channel_gpadl_header) == 20, "gpadl header");
_Static_assert(sizeof(struct vmbus_channel_gpadl_body) == 16, "gpadl body");
_Static_assert(sizeof(struct vmbus_channel_gpadl_created) == 20, "gpadl created");
_Static_assert(sizeof(struct vmbus_channel_gpadl_teardown) == 16, "gpadl teardown");
_Static_assert(sizeof(struct vmbus_channel_gpadl_torndown) == 12, "gpadl torndown");
_Static_assert(sizeof(struct vmbus_channel_relid_released) == 12, "relid released");
_Static_assert(sizeof(struct vmbus_channel_initiate_contact) == 40, "initiate contact");
_Static_assert(offsetof(struct vmbus_channel_initiate_contact, monitor_page1) == 24, "monitor_page1");
_Static_assert(offsetof(struct vmbus_channel_initiate_contact, interrupt_page) == 16, "interrupt_page");
_Static_assert(offsetof(struct vmbus_channel_initiate_contact, msg_vtl) == 17, "msg_vtl");
_Static_assert(offsetof(struct vmbus_channel_initiate_contact, feature_flags) == 20, "feature_flags");
_Static_assert(sizeof(struct vmbus_channel_initiate_contact2) == 56, "initiate contact 2");
_Static_assert(sizeof(struct vmbus_channel_version_response) == 16, "version response");
_Static_assert(sizeof(struct vmbus_channel_version_response2) == 20, "version response 2");
_Static_assert(sizeof(struct vmbus_channel_version_response3) == 40, "version response 3");
_Static_assert(offsetof(struct vmbus_channel_version_response3, parent_to_child_monitor_page_gpa) == 24,
	       "version response 3 monitor pages");
_Static_assert(sizeof(struct vmbus_channel_open_reserved_channel) == 28, "open reserved");
_Static_assert(sizeof(struct vmbus_channel_close_reserved_channel) == 20, "close reserved");
_Static_assert(sizeof(struct vmbus_channel_close_reserved_response) == 12, "close reserved response");
_Static_assert(offsetof(struct vmbus_channel_version_response, msg_conn_id) == 12, "msg_conn_id");
_Static_assert(sizeof(struct vmbus_channel_tl_connect_request) == 40, "tl connect request");
_Static_assert(sizeof(struct vmbus_channel_tl_connect_request2) == 56, "tl connect request 2");
_Static_assert(sizeof(struct vmbus_channel_tl_connect_result) == 44, "tl connect result");
_Static_assert(offsetof(struct vmbus_channel_tl_connect_result, status) == 40, "tl result status");
_Static_assert(sizeof(struct vmbus_channel_unload_response) == 8, "unload response");
_Static_assert(offsetof(struct vmbus_channel_gpadl_header, range_buflen) == 16, "gpadl range_buflen");
_Static_assert(offsetof(struct vmbus_channel_gpadl_body, gpadl) == 12, "gpadl body gpadl");
_Static_assert(sizeof(struct vmbus_channel_modifychannel) == 16, "modifychannel");
_Static_assert(sizeof(struct vmbus_channel_modifychannel_response) == 16, "modifychannel response");
_Static_assert(VMBUS_GPADL_HEADER_PFNS == 26, "26 PFNs in a GPADL header");
_Static_assert(VMBUS_GPADL_BODY_PFNS == 28, "28 PFNs in a GPADL body");

#endif
