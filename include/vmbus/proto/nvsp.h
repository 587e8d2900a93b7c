/* SPDX-License-Identifier: MIT */
/*
 * NVSP wire formats: the Network VSP protocol a synthetic NIC speaks on its
 * VMBus channel(s) before and around RNDIS. Every NVSP message is one inband
 * packet that starts with a 32-bit type.
 *
 * Sources: Linux drivers/net/hyperv/hyperv_net.h and netvsc.c; DPDK
 * drivers/net/netvsc/hn_nvs.h; OpenVMM vm/devices/net/netvsp/src/protocol.rs.
 * All fields are little-endian; all structures are packed exactly as on the wire.
 */
#ifndef VMBUS_PROTO_NVSP_H
#define VMBUS_PROTO_NVSP_H

#include <stddef.h>
#include <stdint.h>

/* ---- Protocol versions (major << 16 | minor) ----------------------------- */

#define NVSP_PROTOCOL_VERSION_1		0x00002u
#define NVSP_PROTOCOL_VERSION_2		0x30002u
#define NVSP_PROTOCOL_VERSION_4		0x40000u
#define NVSP_PROTOCOL_VERSION_5		0x50000u
#define NVSP_PROTOCOL_VERSION_6		0x60000u
#define NVSP_PROTOCOL_VERSION_61	0x60001u
#define NVSP_INVALID_PROTOCOL_VERSION	0xffffffffu

/* NDIS version the guest announces with SEND_NDIS_VER: Linux sends 6.1 up to
 * NVSP 4 and 6.30 from NVSP 5 on. */
#define NVSP_NDIS_VERSION_MAJOR		6u
#define NVSP_NDIS_VERSION_MINOR_6_1	1u
#define NVSP_NDIS_VERSION_MINOR_6_30	30u

/* ---- Message types -------------------------------------------------------- */

enum nvsp_msg_type {
	NVSP_MSG_TYPE_NONE				= 0,
	NVSP_MSG_TYPE_INIT				= 1,
	NVSP_MSG_TYPE_INIT_COMPLETE			= 2,

	/* Version 1 */
	NVSP_MSG1_TYPE_SEND_NDIS_VER			= 100,
	NVSP_MSG1_TYPE_SEND_RECV_BUF			= 101,
	NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE		= 102,
	NVSP_MSG1_TYPE_REVOKE_RECV_BUF			= 103,
	NVSP_MSG1_TYPE_SEND_SEND_BUF			= 104,
	NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE		= 105,
	NVSP_MSG1_TYPE_REVOKE_SEND_BUF			= 106,
	NVSP_MSG1_TYPE_SEND_RNDIS_PKT			= 107,
	NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE		= 108,

	/* Version 2 (chimney and VMQ messages are obsolete; listed for the
	 * numbering) */
	NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF	= 109,
	NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF_COMP	= 110,
	NVSP_MSG2_TYPE_REVOKE_CHIMNEY_DELEGATED_BUF	= 111,
	NVSP_MSG2_TYPE_RESUME_CHIMNEY_RX_INDICATION	= 112,
	NVSP_MSG2_TYPE_TERMINATE_CHIMNEY		= 113,
	NVSP_MSG2_TYPE_TERMINATE_CHIMNEY_COMP		= 114,
	NVSP_MSG2_TYPE_INDICATE_CHIMNEY_EVENT		= 115,
	NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT			= 116,
	NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT_COMP		= 117,
	NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ		= 118,
	NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ_COMP	= 119,
	NVSP_MSG2_TYPE_ALLOC_RXBUF			= 120,
	NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP			= 121,
	NVSP_MSG2_TYPE_FREE_RXBUF			= 122,
	NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT		= 123,
	NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT_COMP		= 124,
	NVSP_MSG2_TYPE_SEND_NDIS_CONFIG			= 125,
	NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE		= 126,
	NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE_COMP	= 127,

	/* Version 4 */
	NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION		= 128,
	NVSP_MSG4_TYPE_SWITCH_DATA_PATH			= 129,
	NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED	= 130,

	/* Version 5 */
	NVSP_MSG5_TYPE_OID_QUERY_EX			= 131,
	NVSP_MSG5_TYPE_OID_QUERY_EX_COMP		= 132,
	NVSP_MSG5_TYPE_SUBCHANNEL			= 133,
	NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE		= 134,

	/* Version 6 (PacketDirect; never sent by Linux) */
	NVSP_MSG6_TYPE_PD_API				= 135,
	NVSP_MSG6_TYPE_PD_POST_BATCH			= 136,
};

/* ---- Status --------------------------------------------------------------- */

enum nvsp_status {
	NVSP_STAT_NONE			= 0,
	NVSP_STAT_SUCCESS		= 1,
	NVSP_STAT_FAIL			= 2,
	NVSP_STAT_PROTOCOL_TOO_NEW	= 3,
	NVSP_STAT_PROTOCOL_TOO_OLD	= 4,
	NVSP_STAT_INVALID_RNDIS_PKT	= 5,
	NVSP_STAT_BUSY			= 6,
	NVSP_STAT_PROTOCOL_UNSUPPORTED	= 7,
};

/* ---- Constants ------------------------------------------------------------ */

/* The guest names its receive buffer 0xCAFE; the host puts the same id in
 * xfer_pageset_id of every DATA_USING_XFER_PAGES packet it sends. */
#define NVSP_RECEIVE_BUFFER_ID		0xcafeu
#define NVSP_SEND_BUFFER_ID		0u

/* SEND_RNDIS_PKT channel_type. */
#define NVSP_CHANNEL_TYPE_DATA		0u
#define NVSP_CHANNEL_TYPE_CONTROL	1u

/* send_buf_section_index when the RNDIS message travels in GPA-direct ranges. */
#define NVSP_INVALID_SECTION_INDEX	0xffffffffu

/* Section sizes Linux accepts in RECV_BUF_COMPLETE / SEND_BUF_COMPLETE:
 * at least ETH_MIN_MTU (68); a receive section at most 65535. */
#define NVSP_MIN_SECTION_SIZE		68u
#define NVSP_MAX_RECV_SECTION_SIZE	65535u

/* Entries of the send indirection table a host pushes with
 * SEND_INDIRECTION_TABLE (Linux VRSS_SEND_TAB_SIZE). */
#define NVSP_SEND_INDIRECTION_TABLE_ENTRIES	16u

/* SEND_NDIS_CONFIG capability bits. */
#define NVSP_CAP_VMQ			(1ull << 0)
#define NVSP_CAP_CHIMNEY		(1ull << 1)
#define NVSP_CAP_SRIOV			(1ull << 2)
#define NVSP_CAP_IEEE8021Q		(1ull << 3)
#define NVSP_CAP_CORRELATION_ID		(1ull << 4)
#define NVSP_CAP_TEAMING		(1ull << 5)
#define NVSP_CAP_VSUBNETID		(1ull << 6)
#define NVSP_CAP_RSC			(1ull << 7)

/* SWITCH_DATA_PATH active_datapath. */
#define NVSP_DATAPATH_SYNTHETIC		0u
#define NVSP_DATAPATH_VF		1u

/* SUBCHANNEL op. */
#define NVSP_SUBCHANNEL_NONE		0u
#define NVSP_SUBCHANNEL_ALLOCATE	1u

/* ---- Messages ------------------------------------------------------------- */

struct nvsp_message_header {
	uint32_t msg_type;
} __attribute__((packed));

/* INIT: Linux sends min == max, one version at a time, newest first. */
struct nvsp_message_init {
	uint32_t min_protocol_ver;
	uint32_t max_protocol_ver;
} __attribute__((packed));

struct nvsp_message_init_complete {
	uint32_t negotiated_protocol_ver;
	uint32_t max_mdl_chain_len;
	uint32_t status;
} __attribute__((packed));

struct nvsp_1_message_send_ndis_version {
	uint32_t ndis_major_ver;
	uint32_t ndis_minor_ver;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer {
	uint32_t gpadl_handle;
	uint16_t id;
	uint16_t reserved;
} __attribute__((packed));

/* A section of the receive buffer cut into num_sub_allocs pieces of
 * sub_alloc_size bytes. Linux accepts exactly one section at offset 0. */
struct nvsp_1_receive_buffer_section {
	uint32_t offset;
	uint32_t sub_alloc_size;
	uint32_t num_sub_allocs;
	uint32_t end_offset;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer_complete {
	uint32_t status;
	uint32_t num_sections;
	struct nvsp_1_receive_buffer_section sections[1];
} __attribute__((packed));

struct nvsp_1_message_revoke_receive_buffer {
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer {
	uint32_t gpadl_handle;
	uint16_t id;
	uint16_t reserved;
} __attribute__((packed));

/* The guest sizes the send buffer, the host picks its section size. */
struct nvsp_1_message_send_send_buffer_complete {
	uint32_t status;
	uint32_t section_size;
} __attribute__((packed));

struct nvsp_1_message_revoke_send_buffer {
	uint16_t id;
} __attribute__((packed));

/* Carries one RNDIS message either in a send-buffer section or, with index
 * NVSP_INVALID_SECTION_INDEX, in the packet's GPA-direct ranges (guest to
 * host) or transfer-page ranges (host to guest). */
struct nvsp_1_message_send_rndis_packet {
	uint32_t channel_type;
	uint32_t send_buf_section_index;
	uint32_t send_buf_section_size;
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet_complete {
	uint32_t status;
} __attribute__((packed));

/* NVSP >= 2: the guest's MTU (including the 14-byte Ethernet header) and
 * what it can do (NVSP_CAP_*). */
struct nvsp_2_send_ndis_config {
	uint32_t mtu;
	uint32_t reserved;
	uint64_t capability;
} __attribute__((packed));

struct nvsp_2_alloc_rxbuf {
	uint32_t alloc_id;
	uint32_t len;
} __attribute__((packed));

struct nvsp_2_alloc_rxbuf_comp {
	uint32_t status;
	uint32_t alloc_id;
	uint32_t gpadl_handle;
	uint64_t recv_buf_id;
} __attribute__((packed));

struct nvsp_2_free_rxbuf {
	uint64_t recv_buf_id;
} __attribute__((packed));

struct nvsp_4_send_vf_association {
	uint32_t allocated;	/* 1: serial is valid */
	uint32_t serial;
} __attribute__((packed));

struct nvsp_4_sw_datapath {
	uint32_t active_datapath;	/* NVSP_DATAPATH_* */
} __attribute__((packed));

struct nvsp_5_subchannel_request {
	uint32_t op;		/* NVSP_SUBCHANNEL_ALLOCATE */
	uint32_t num_subchannels;
} __attribute__((packed));

struct nvsp_5_subchannel_complete {
	uint32_t status;
	uint32_t num_subchannels;	/* how many the host actually offers */
} __attribute__((packed));

/* Host to guest: count u32 channel numbers at offset bytes from the start of
 * the NVSP message (header included). */
struct nvsp_5_send_indirect_table {
	uint32_t count;
	uint32_t offset;
} __attribute__((packed));

/* Linux's union also holds the NVSP 6 PacketDirect messages; the largest of
 * them is 36 bytes, which fixes sizeof(struct nvsp_message) at 40, and every
 * NVSP message Linux sends has that length. pad keeps that size here. */
#define NVSP_MESSAGE_BODY_SIZE	36u

union nvsp_all_messages {
	struct nvsp_message_init init;
	struct nvsp_message_init_complete init_complete;
	struct nvsp_1_message_send_ndis_version send_ndis_ver;
	struct nvsp_1_message_send_receive_buffer send_recv_buf;
	struct nvsp_1_message_send_receive_buffer_complete send_recv_buf_complete;
	struct nvsp_1_message_revoke_receive_buffer revoke_recv_buf;
	struct nvsp_1_message_send_send_buffer send_send_buf;
	struct nvsp_1_message_send_send_buffer_complete send_send_buf_complete;
	struct nvsp_1_message_revoke_send_buffer revoke_send_buf;
	struct nvsp_1_message_send_rndis_packet send_rndis_pkt;
	struct nvsp_1_message_send_rndis_packet_complete send_rndis_pkt_complete;
	struct nvsp_2_send_ndis_config send_ndis_config;
	struct nvsp_2_alloc_rxbuf alloc_rxbuf;
	struct nvsp_2_alloc_rxbuf_comp alloc_rxbuf_comp;
	struct nvsp_2_free_rxbuf free_rxbuf;
	struct nvsp_4_send_vf_association vf_assoc;
	struct nvsp_4_sw_datapath active_dp;
	struct nvsp_5_subchannel_request subchn_req;
	struct nvsp_5_subchannel_complete subchn_comp;
	struct nvsp_5_send_indirect_table send_table;
	uint8_t pad[NVSP_MESSAGE_BODY_SIZE];
} __attribute__((packed));

struct nvsp_message {
	struct nvsp_message_header hdr;
	union nvsp_all_messages msg;
} __attribute__((packed));

/* A guest that negotiated NVSP 1 only sends the 28 bytes that held its
 * largest message (RECV_BUF_COMPLETE); later guests send 40. A host must
 * accept any length that covers the fields of the type it reads. */
#define NVSP_MESSAGE_SIZE_V1	28u
#define NVSP_MESSAGE_SIZE	40u

_Static_assert(sizeof(struct nvsp_message_header) == 4, "nvsp header");
_Static_assert(sizeof(struct nvsp_message_init) == 8, "nvsp init");
_Static_assert(sizeof(struct nvsp_message_init_complete) == 12, "nvsp init complete");
_Static_assert(sizeof(struct nvsp_1_message_send_ndis_version) == 8, "ndis version");
_Static_assert(sizeof(struct nvsp_1_message_send_receive_buffer) == 8, "send recv buf");
_Static_assert(sizeof(struct nvsp_1_receive_buffer_section) == 16, "recv buf section");
_Static_assert(sizeof(struct nvsp_1_message_send_receive_buffer_complete) == 24,
	       "recv buf complete");
_Static_assert(sizeof(struct nvsp_1_message_send_send_buffer) == 8, "send send buf");
_Static_assert(sizeof(struct nvsp_1_message_send_send_buffer_complete) == 8,
	       "send buf complete");
_Static_assert(sizeof(struct nvsp_1_message_send_rndis_packet) == 12, "send rndis pkt");
_Static_assert(sizeof(struct nvsp_1_message_send_rndis_packet_complete) == 4,
	       "rndis pkt complete");
_Static_assert(sizeof(struct nvsp_2_send_ndis_config) == 16, "ndis config");
_Static_assert(offsetof(struct nvsp_2_send_ndis_config, capability) == 8, "ndis config caps");
_Static_assert(sizeof(struct nvsp_2_alloc_rxbuf_comp) == 20, "alloc rxbuf comp");
_Static_assert(sizeof(struct nvsp_4_send_vf_association) == 8, "vf association");
_Static_assert(sizeof(struct nvsp_4_sw_datapath) == 4, "switch datapath");
_Static_assert(sizeof(struct nvsp_5_subchannel_request) == 8, "subchannel request");
_Static_assert(sizeof(struct nvsp_5_subchannel_complete) == 8, "subchannel complete");
_Static_assert(sizeof(struct nvsp_5_send_indirect_table) == 8, "send indirection table");
_Static_assert(sizeof(struct nvsp_message) == NVSP_MESSAGE_SIZE, "nvsp message is 40 bytes");
_Static_assert(offsetof(struct nvsp_message, msg) == 4, "nvsp body");
_Static_assert(sizeof(struct nvsp_message_header) +
	       sizeof(struct nvsp_1_message_send_receive_buffer_complete) == NVSP_MESSAGE_SIZE_V1,
	       "NVSP 1 message size");

#endif
