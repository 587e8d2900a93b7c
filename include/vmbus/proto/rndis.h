/* SPDX-License-Identifier: MIT */
/*
 * RNDIS and NDIS wire formats as a Hyper-V synthetic NIC uses them: RNDIS
 * control and data messages, status codes, OIDs, per-packet info, and the
 * NDIS objects (offload, RSS) carried in OID buffers.
 *
 * Sources: Linux drivers/net/hyperv/hyperv_net.h, rndis_filter.c, netvsc_drv.c
 * and include/linux/rndis.h; DPDK drivers/net/netvsc/ndis.h and rndis.h;
 * OpenVMM vm/devices/net/netvsp/src/rndisprot.rs.
 * All fields are little-endian; all structures are packed exactly as on the
 * wire. NDIS objects keep their natural C layout, so their padding is spelled
 * out as reserved fields.
 */
#ifndef VMBUS_PROTO_RNDIS_H
#define VMBUS_PROTO_RNDIS_H

#include <stddef.h>
#include <stdint.h>

/* ---- Message types ------------------------------------------------------- */

#define RNDIS_MSG_COMPLETION		0x80000000u
#define RNDIS_MSG_PACKET		0x00000001u
#define RNDIS_MSG_INIT			0x00000002u
#define RNDIS_MSG_INIT_C		(RNDIS_MSG_INIT | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_HALT			0x00000003u
#define RNDIS_MSG_QUERY			0x00000004u
#define RNDIS_MSG_QUERY_C		(RNDIS_MSG_QUERY | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_SET			0x00000005u
#define RNDIS_MSG_SET_C			(RNDIS_MSG_SET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_RESET			0x00000006u
#define RNDIS_MSG_RESET_C		(RNDIS_MSG_RESET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_INDICATE		0x00000007u
#define RNDIS_MSG_KEEPALIVE		0x00000008u
#define RNDIS_MSG_KEEPALIVE_C		(RNDIS_MSG_KEEPALIVE | RNDIS_MSG_COMPLETION)

/* ---- Status codes (NDIS_STATUS_*) ------------------------------------------ */

#define RNDIS_STATUS_SUCCESS			0x00000000u
#define RNDIS_STATUS_PENDING			0x00000103u
#define RNDIS_STATUS_MEDIA_CONNECT		0x4001000bu
#define RNDIS_STATUS_MEDIA_DISCONNECT		0x4001000cu
#define RNDIS_STATUS_LINK_SPEED_CHANGE		0x40010013u
#define RNDIS_STATUS_NETWORK_CHANGE		0x40010018u
#define RNDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG 0x40020006u
#define RNDIS_STATUS_BUFFER_OVERFLOW		0x80000005u
#define RNDIS_STATUS_FAILURE			0xc0000001u
#define RNDIS_STATUS_RESOURCES			0xc000009au
#define RNDIS_STATUS_NOT_SUPPORTED		0xc00000bbu
#define RNDIS_STATUS_BAD_VERSION		0xc0010004u
#define RNDIS_STATUS_MULTICAST_FULL		0xc0010009u
#define RNDIS_STATUS_INVALID_PACKET		0xc001000fu
#define RNDIS_STATUS_ADAPTER_NOT_READY		0xc0010011u
#define RNDIS_STATUS_INVALID_LENGTH		0xc0010014u
#define RNDIS_STATUS_INVALID_DATA		0xc0010015u
#define RNDIS_STATUS_BUFFER_TOO_SHORT		0xc0010016u
#define RNDIS_STATUS_INVALID_OID		0xc0010017u

/* ---- INITIALIZE values ------------------------------------------------------ */

#define RNDIS_MAJOR_VERSION		1u
#define RNDIS_MINOR_VERSION		0u
#define RNDIS_DF_CONNECTIONLESS		0x00000001u
#define RNDIS_MEDIUM_802_3		0x00000000u

/* OID_GEN_MEDIA_CONNECT_STATUS values. */
#define NDIS_MEDIA_STATE_CONNECTED	0u
#define NDIS_MEDIA_STATE_DISCONNECTED	1u

/* ---- OIDs -------------------------------------------------------------------- */

#define OID_GEN_SUPPORTED_LIST			0x00010101u
#define OID_GEN_HARDWARE_STATUS			0x00010102u
#define OID_GEN_MEDIA_SUPPORTED			0x00010103u
#define OID_GEN_MEDIA_IN_USE			0x00010104u
#define OID_GEN_MAXIMUM_LOOKAHEAD		0x00010105u
#define OID_GEN_MAXIMUM_FRAME_SIZE		0x00010106u
#define OID_GEN_LINK_SPEED			0x00010107u
#define OID_GEN_TRANSMIT_BUFFER_SPACE		0x00010108u
#define OID_GEN_RECEIVE_BUFFER_SPACE		0x00010109u
#define OID_GEN_TRANSMIT_BLOCK_SIZE		0x0001010au
#define OID_GEN_RECEIVE_BLOCK_SIZE		0x0001010bu
#define OID_GEN_VENDOR_ID			0x0001010cu
#define OID_GEN_VENDOR_DESCRIPTION		0x0001010du
#define OID_GEN_CURRENT_PACKET_FILTER		0x0001010eu
#define OID_GEN_CURRENT_LOOKAHEAD		0x0001010fu
#define OID_GEN_DRIVER_VERSION			0x00010110u
#define OID_GEN_MAXIMUM_TOTAL_SIZE		0x00010111u
#define OID_GEN_PROTOCOL_OPTIONS		0x00010112u
#define OID_GEN_MAC_OPTIONS			0x00010113u
#define OID_GEN_MEDIA_CONNECT_STATUS		0x00010114u
#define OID_GEN_MAXIMUM_SEND_PACKETS		0x00010115u
#define OID_GEN_VENDOR_DRIVER_VERSION		0x00010116u
#define OID_GEN_NETWORK_LAYER_ADDRESSES		0x00010118u
#define OID_GEN_TRANSPORT_HEADER_OFFSET		0x00010119u
#define OID_GEN_RECEIVE_SCALE_CAPABILITIES	0x00010203u
#define OID_GEN_RECEIVE_SCALE_PARAMETERS	0x00010204u
#define OID_GEN_MAX_LINK_SPEED			0x00010206u
#define OID_GEN_LINK_STATE			0x00010207u
#define OID_GEN_LINK_PARAMETERS			0x00010208u
#define OID_GEN_MACHINE_NAME			0x0001021au
#define OID_GEN_RNDIS_CONFIG_PARAMETER		0x0001021bu

#define OID_GEN_XMIT_OK				0x00020101u
#define OID_GEN_RCV_OK				0x00020102u
#define OID_GEN_XMIT_ERROR			0x00020103u
#define OID_GEN_RCV_ERROR			0x00020104u
#define OID_GEN_RCV_NO_BUFFER			0x00020105u
#define OID_GEN_FRIENDLY_NAME			0x00020216u

#define OID_802_3_PERMANENT_ADDRESS		0x01010101u
#define OID_802_3_CURRENT_ADDRESS		0x01010102u
#define OID_802_3_MULTICAST_LIST		0x01010103u
#define OID_802_3_MAXIMUM_LIST_SIZE		0x01010104u
#define OID_802_3_MAC_OPTIONS			0x01010105u
#define OID_OFFLOAD_ENCAPSULATION		0x0101010au
#define OID_802_3_RCV_ERROR_ALIGNMENT		0x01020101u
#define OID_802_3_XMIT_ONE_COLLISION		0x01020102u
#define OID_802_3_XMIT_MORE_COLLISIONS		0x01020103u

#define OID_TCP_OFFLOAD_CURRENT_CONFIG		0xfc01020bu
#define OID_TCP_OFFLOAD_PARAMETERS		0xfc01020cu
#define OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES	0xfc01020du

/* ---- OID values ------------------------------------------------------------ */

/* OID_GEN_CURRENT_PACKET_FILTER */
#define NDIS_PACKET_TYPE_DIRECTED	0x00000001u
#define NDIS_PACKET_TYPE_MULTICAST	0x00000002u
#define NDIS_PACKET_TYPE_ALL_MULTICAST	0x00000004u
#define NDIS_PACKET_TYPE_BROADCAST	0x00000008u
#define NDIS_PACKET_TYPE_SOURCE_ROUTING	0x00000010u
#define NDIS_PACKET_TYPE_PROMISCUOUS	0x00000020u
#define NDIS_PACKET_TYPE_SMT		0x00000040u
#define NDIS_PACKET_TYPE_ALL_LOCAL	0x00000080u
#define NDIS_PACKET_TYPE_GROUP		0x00000100u
#define NDIS_PACKET_TYPE_ALL_FUNCTIONAL	0x00000200u
#define NDIS_PACKET_TYPE_FUNCTIONAL	0x00000400u
#define NDIS_PACKET_TYPE_MAC_FRAME	0x00000800u

/* OID_GEN_MAC_OPTIONS */
#define NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA	0x00000001u
#define NDIS_MAC_OPTION_RECEIVE_SERIALIZED	0x00000002u
#define NDIS_MAC_OPTION_TRANSFERS_NOT_PEND	0x00000004u
#define NDIS_MAC_OPTION_NO_LOOPBACK		0x00000008u
#define NDIS_MAC_OPTION_FULL_DUPLEX		0x00000010u
#define NDIS_MAC_OPTION_8021P_PRIORITY		0x00000040u
#define NDIS_MAC_OPTION_8021Q_VLAN		0x00000200u

/* ---- Control messages ------------------------------------------------------ */

/* Every RNDIS message starts with this header; msg_len counts the header.
 * All offsets inside a message body count from the end of the header. */
struct rndis_msg_hdr {
	uint32_t msg_type;
	uint32_t msg_len;
} __attribute__((packed));

struct rndis_initialize_request {
	uint32_t req_id;
	uint32_t major_ver;
	uint32_t minor_ver;
	uint32_t max_xfer_size;
} __attribute__((packed));

/* pkt_alignment_factor is a power of two exponent: Linux aligns batched
 * PACKET messages to 1 << factor bytes. */
struct rndis_initialize_complete {
	uint32_t req_id;
	uint32_t status;
	uint32_t major_ver;
	uint32_t minor_ver;
	uint32_t dev_flags;
	uint32_t medium;
	uint32_t max_pkt_per_msg;
	uint32_t max_xfer_size;
	uint32_t pkt_alignment_factor;
	uint32_t af_list_offset;
	uint32_t af_list_size;
} __attribute__((packed));

struct rndis_halt_request {
	uint32_t req_id;
} __attribute__((packed));

struct rndis_query_request {
	uint32_t req_id;
	uint32_t oid;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
	uint32_t dev_vc_handle;
} __attribute__((packed));

struct rndis_query_complete {
	uint32_t req_id;
	uint32_t status;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
} __attribute__((packed));

struct rndis_set_request {
	uint32_t req_id;
	uint32_t oid;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
	uint32_t dev_vc_handle;
} __attribute__((packed));

struct rndis_set_complete {
	uint32_t req_id;
	uint32_t status;
} __attribute__((packed));

struct rndis_reset_request {
	uint32_t reserved;
} __attribute__((packed));

/* The one completion without a request id. */
struct rndis_reset_complete {
	uint32_t status;
	uint32_t addressing_reset;
} __attribute__((packed));

struct rndis_indicate_status {
	uint32_t status;
	uint32_t status_buflen;
	uint32_t status_buf_offset;
} __attribute__((packed));

struct rndis_keepalive_request {
	uint32_t req_id;
} __attribute__((packed));

struct rndis_keepalive_complete {
	uint32_t req_id;
	uint32_t status;
} __attribute__((packed));

/* OID_GEN_RNDIS_CONFIG_PARAMETER set buffer; offsets count from the start
 * of this structure, names and values are UTF-16LE. */
struct rndis_config_parameter_info {
	uint32_t parameter_name_offset;
	uint32_t parameter_name_length;
	uint32_t parameter_type;
	uint32_t parameter_value_offset;
	uint32_t parameter_value_length;
} __attribute__((packed));

#define RNDIS_CONFIG_PARAM_TYPE_INTEGER	0u
#define RNDIS_CONFIG_PARAM_TYPE_STRING	2u

/* ---- Data messages --------------------------------------------------------- */

/* PACKET body; offsets count from the start of this structure. Several
 * PACKET messages may follow each other in one transfer, each msg_len
 * (padded to the INITIALIZE alignment) after the previous. */
struct rndis_packet {
	uint32_t data_offset;
	uint32_t data_len;
	uint32_t oob_data_offset;
	uint32_t oob_data_len;
	uint32_t num_oob_data_elements;
	uint32_t per_pkt_info_offset;
	uint32_t per_pkt_info_len;
	uint32_t vc_handle;
	uint32_t reserved;
} __attribute__((packed));

struct rndis_oobd {
	uint32_t size;
	uint32_t type;
	uint32_t class_info_offset;
} __attribute__((packed));

/* One per-packet info element: size covers this header and the data, which
 * starts ppi_offset bytes from the start of the element. Bit 31 of type
 * marks RNDIS-internal types (RNDIS_PKTINFO_ID). */
struct rndis_per_packet_info {
	uint32_t size;
	uint32_t type;
	uint32_t ppi_offset;
} __attribute__((packed));

#define RNDIS_PPI_INTERNAL		0x80000000u

/* Per-packet info types (enum ndis_per_pkt_info_type). */
#define TCPIP_CHKSUM_PKTINFO		0u
#define IPSEC_PKTINFO			1u
#define TCP_LARGESEND_PKTINFO		2u
#define CLASSIFICATION_HANDLE_PKTINFO	3u
#define SG_LIST_PKTINFO			5u
#define IEEE_8021Q_INFO			6u
#define ORIGINAL_PKTINFO		7u
#define NBL_HASH_VALUE			8u	/* a.k.a. PACKET_CANCEL_ID */
#define NBL_HASH_INFO			9u	/* a.k.a. ORIGINAL_NET_BUFLIST */
#define SHORT_PKT_PADINFO		11u
#define RNDIS_PKTINFO_ID		(1u | RNDIS_PPI_INTERNAL)

/* TCPIP_CHKSUM_PKTINFO, guest to host (transmit request). */
#define NDIS_TXCSUM_INFO_IPV4		0x00000001u
#define NDIS_TXCSUM_INFO_IPV6		0x00000002u
#define NDIS_TXCSUM_INFO_TCPCS		0x00000004u
#define NDIS_TXCSUM_INFO_UDPCS		0x00000008u
#define NDIS_TXCSUM_INFO_IPCS		0x00000010u
#define NDIS_TXCSUM_INFO_THOFF_SHIFT	16
#define NDIS_TXCSUM_INFO_THOFF_MASK	0x03ff0000u

/* TCPIP_CHKSUM_PKTINFO, host to guest (receive result). */
#define NDIS_RXCSUM_INFO_TCPCS_FAILED	0x00000001u
#define NDIS_RXCSUM_INFO_UDPCS_FAILED	0x00000002u
#define NDIS_RXCSUM_INFO_IPCS_FAILED	0x00000004u
#define NDIS_RXCSUM_INFO_TCPCS_OK	0x00000008u
#define NDIS_RXCSUM_INFO_UDPCS_OK	0x00000010u
#define NDIS_RXCSUM_INFO_IPCS_OK	0x00000020u
#define NDIS_RXCSUM_INFO_LOOPBACK	0x00000040u
#define NDIS_RXCSUM_INFO_TCPCS_INVAL	0x00000080u
#define NDIS_RXCSUM_INFO_IPCS_INVAL	0x00000100u

/* TCP_LARGESEND_PKTINFO, LSO v2 transmit. */
#define NDIS_LSO2_INFO_MSS_MASK		0x000fffffu
#define NDIS_LSO2_INFO_THOFF_SHIFT	20
#define NDIS_LSO2_INFO_THOFF_MASK	0x3ff00000u
#define NDIS_LSO2_INFO_ISLSO2		0x40000000u
#define NDIS_LSO2_INFO_ISIPV6		0x80000000u

/* IEEE_8021Q_INFO: priority, CFI and VLAN id of the frame (the tag itself
 * is not in the frame). */
#define NDIS_VLAN_INFO_PRI_MASK		0x00000007u
#define NDIS_VLAN_INFO_CFI_MASK		0x00000008u
#define NDIS_VLAN_INFO_ID_SHIFT		4
#define NDIS_VLAN_INFO_ID_MASK		0x0000fff0u

/* Each of the PPIs above carries one u32. */
#define RNDIS_PPI_DATA_SIZE		4u
#define RNDIS_PPI_SIZE			(sizeof(struct rndis_per_packet_info) + RNDIS_PPI_DATA_SIZE)

/* ---- NDIS objects ------------------------------------------------------------ */

struct ndis_object_header {
	uint8_t type;
	uint8_t revision;
	uint16_t size;		/* of the whole object, header included */
} __attribute__((packed));

#define NDIS_OBJECT_TYPE_DEFAULT		0x80u
#define NDIS_OBJECT_TYPE_RSS_CAPABILITIES	0x88u
#define NDIS_OBJECT_TYPE_RSS_PARAMETERS		0x89u
#define NDIS_OBJECT_TYPE_OFFLOAD		0xa7u
#define NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION	0xa8u

/* OID_TCP_OFFLOAD_PARAMETERS (set). */
struct ndis_offload_params {
	struct ndis_object_header header;
	uint8_t ip_v4_csum;
	uint8_t tcp_ip_v4_csum;
	uint8_t udp_ip_v4_csum;
	uint8_t tcp_ip_v6_csum;
	uint8_t udp_ip_v6_csum;
	uint8_t lso_v1;
	uint8_t ip_sec_v1;
	uint8_t lso_v2_ipv4;
	uint8_t lso_v2_ipv6;
	uint8_t tcp_connection_ip_v4;
	uint8_t tcp_connection_ip_v6;
	uint8_t reserved;
	uint32_t flags;
	/* revision 2 (NDIS 6.1) */
	uint8_t ip_sec_v2;
	uint8_t ip_sec_v2_ip_v4;
	/* revision 3 (NDIS 6.30) */
	uint8_t rsc_ip_v4;
	uint8_t rsc_ip_v6;
	uint8_t encapsulated_packet_task_offload;
	uint8_t encapsulation_types;
	uint8_t reserved2[2];
} __attribute__((packed));

#define NDIS_OFFLOAD_PARAMETERS_REVISION_1	1u
#define NDIS_OFFLOAD_PARAMETERS_REVISION_2	2u
#define NDIS_OFFLOAD_PARAMETERS_REVISION_3	3u
#define NDIS_OFFLOAD_PARAMETERS_SIZE_REV1	20u
#define NDIS_OFFLOAD_PARAMETERS_SIZE_REV2	22u	/* Linux at NVSP <= 4 */
#define NDIS_OFFLOAD_PARAMETERS_SIZE_REV3	26u

/* Checksum fields. */
#define NDIS_OFFLOAD_PARAMETERS_NO_CHANGE		0u
#define NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED		1u
#define NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED	2u
#define NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED	3u
#define NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED		4u
/* LSO and RSC fields. */
#define NDIS_OFFLOAD_PARAMETERS_DISABLED		1u
#define NDIS_OFFLOAD_PARAMETERS_ENABLED			2u

/* Encapsulation values (NDIS_ENCAPSULATION_*). */
#define NDIS_OFFLOAD_ENCAP_NONE		0x0000u
#define NDIS_OFFLOAD_ENCAP_NULL		0x0001u
#define NDIS_OFFLOAD_ENCAP_8023		0x0002u

struct ndis_csum_offload {
	uint32_t ip4_txenc;
	uint32_t ip4_txcsum;
	uint32_t ip4_rxenc;
	uint32_t ip4_rxcsum;
	uint32_t ip6_txenc;
	uint32_t ip6_txcsum;
	uint32_t ip6_rxenc;
	uint32_t ip6_rxcsum;
} __attribute__((packed));

/* ndis_csum_offload flag bits (2-bit "supported" fields set to 1). */
#define NDIS_CSUM_CAP_IP4OPT		0x001u
#define NDIS_CSUM_CAP_TCP4OPT		0x004u
#define NDIS_CSUM_CAP_TCP4		0x010u
#define NDIS_CSUM_CAP_UDP4		0x040u
#define NDIS_CSUM_CAP_IP4		0x100u
#define NDIS_CSUM_CAP_IP6EXT		0x001u
#define NDIS_CSUM_CAP_TCP6OPT		0x004u
#define NDIS_CSUM_CAP_TCP6		0x010u
#define NDIS_CSUM_CAP_UDP6		0x040u

struct ndis_lsov1_offload {
	uint32_t encap;
	uint32_t maxsize;
	uint32_t minsegs;
	uint32_t opts;
} __attribute__((packed));

struct ndis_ipsecv1_offload {
	uint32_t encap;
	uint32_t ah_esp;
	uint32_t xport_tun;
	uint32_t ip4_opts;
	uint32_t flags;
	uint32_t ip4_ah;
	uint32_t ip4_esp;
} __attribute__((packed));

struct ndis_lsov2_offload {
	uint32_t ip4_encap;
	uint32_t ip4_maxsz;
	uint32_t ip4_minsg;
	uint32_t ip6_encap;
	uint32_t ip6_maxsz;
	uint32_t ip6_minsg;
	uint32_t ip6_opts;
} __attribute__((packed));

#define NDIS_LSOV2_CAP_IP6EXT		0x001u
#define NDIS_LSOV2_CAP_TCP6OPT		0x004u

struct ndis_ipsecv2_offload {
	uint32_t encap;
	uint8_t ip6;
	uint8_t ip4opt;
	uint8_t ip6ext;
	uint8_t ah;
	uint8_t esp;
	uint8_t ah_esp;
	uint8_t xport;
	uint8_t tun;
	uint8_t xport_tun;
	uint8_t lso;
	uint8_t extseq;
	uint8_t reserved;
	uint32_t udp_esp;
	uint32_t auth;
	uint32_t crypto;
	uint32_t sa_caps;
} __attribute__((packed));

struct ndis_rsc_offload {
	uint8_t ip4;
	uint8_t ip6;
	uint8_t reserved[2];
} __attribute__((packed));

struct ndis_encap_offload {
	uint32_t flags;
	uint32_t maxhdr;
} __attribute__((packed));

/* OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES / _CURRENT_CONFIG (query). */
struct ndis_offload {
	struct ndis_object_header header;
	struct ndis_csum_offload csum;
	struct ndis_lsov1_offload lsov1;
	struct ndis_ipsecv1_offload ipsecv1;
	struct ndis_lsov2_offload lsov2;
	uint32_t flags;
	/* revision 2 (NDIS 6.1) */
	struct ndis_ipsecv2_offload ipsecv2;
	/* revision 3 (NDIS 6.30) */
	struct ndis_rsc_offload rsc;
	struct ndis_encap_offload encap_gre;
} __attribute__((packed));

#define NDIS_OFFLOAD_REVISION_1		1u
#define NDIS_OFFLOAD_REVISION_2		2u
#define NDIS_OFFLOAD_REVISION_3		3u
#define NDIS_OFFLOAD_SIZE_REV1		112u
#define NDIS_OFFLOAD_SIZE_REV2		144u
#define NDIS_OFFLOAD_SIZE_REV3		156u

/* OID_OFFLOAD_ENCAPSULATION (query and set). */
struct ndis_offload_encapsulation {
	struct ndis_object_header header;
	uint32_t ipv4_enabled;
	uint32_t ipv4_encapsulation_type;
	uint32_t ipv4_header_size;
	uint32_t ipv6_enabled;
	uint32_t ipv6_encapsulation_type;
	uint32_t ipv6_header_size;
} __attribute__((packed));

#define NDIS_OFFLOAD_ENCAPSULATION_REVISION_1	1u
#define NDIS_OFFLOAD_ENCAPSULATION_SIZE_REV1	28u
#define NDIS_OFFLOAD_SET_NO_CHANGE		0u
#define NDIS_OFFLOAD_SET_ON			1u
#define NDIS_OFFLOAD_SET_OFF			2u

/* OID_GEN_RECEIVE_SCALE_CAPABILITIES (query). Revision 2 is 18 bytes: the
 * trailing pad is not part of it, and Linux's buffer for it may be 18. */
struct ndis_rss_caps {
	struct ndis_object_header header;
	uint32_t cap_flags;
	uint32_t num_int_msg;
	uint32_t num_recv_queues;
	uint16_t num_indirect_entries;
	uint16_t reserved;
} __attribute__((packed));

#define NDIS_RSS_CAPS_REVISION_1	1u
#define NDIS_RSS_CAPS_REVISION_2	2u
#define NDIS_RSS_CAPS_SIZE_REV1		16u
#define NDIS_RSS_CAPS_SIZE_REV2		18u

#define NDIS_RSS_CAPS_MESSAGE_SIGNALED_INTERRUPTS 0x01000000u
#define NDIS_RSS_CAPS_CLASSIFICATION_AT_ISR	0x02000000u
#define NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC	0x04000000u
#define NDIS_RSS_CAPS_USING_MSI_X		0x08000000u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4	0x00000100u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6	0x00000200u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6_EX	0x00000400u
#define NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV4	0x00000800u
#define NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6	0x00001000u
#define NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6_EX	0x00002000u

/* OID_GEN_RECEIVE_SCALE_PARAMETERS (set). Table and key offsets count from
 * the start of this structure; the table size is in bytes (u32 entries on
 * Hyper-V, each a queue number). */
struct ndis_rss_params {
	struct ndis_object_header header;
	uint16_t flags;
	uint16_t base_cpu_number;
	uint32_t hash_info;
	uint16_t indirect_tabsize;
	uint16_t reserved1;
	uint32_t indirect_taboffset;
	uint16_t hashkey_size;
	uint16_t reserved2;
	uint32_t hashkey_offset;
	/* revision 2 */
	uint32_t processor_masks_offset;
	uint32_t num_processor_masks;
	uint32_t processor_masks_entry_size;
} __attribute__((packed));

#define NDIS_RSS_PARAMS_REVISION_1	1u
#define NDIS_RSS_PARAMS_REVISION_2	2u
#define NDIS_RSS_PARAMS_SIZE_REV1	28u
#define NDIS_RSS_PARAMS_SIZE_REV2	40u

#define NDIS_RSS_PARAM_FLAG_BASE_CPU_UNCHANGED	0x0001u
#define NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED	0x0002u
#define NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED	0x0004u
#define NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED	0x0008u
#define NDIS_RSS_PARAM_FLAG_DISABLE_RSS		0x0010u

/* hash_info: function in the low byte, types above. */
#define NDIS_HASH_FUNCTION_MASK		0x000000ffu
#define NDIS_HASH_FUNCTION_TOEPLITZ	0x00000001u
#define NDIS_HASH_TYPE_MASK		0x00ffff00u
#define NDIS_HASH_IPV4			0x00000100u
#define NDIS_HASH_TCP_IPV4		0x00000200u
#define NDIS_HASH_IPV6			0x00000400u
#define NDIS_HASH_IPV6_EX		0x00000800u
#define NDIS_HASH_TCP_IPV6		0x00001000u
#define NDIS_HASH_TCP_IPV6_EX		0x00002000u
#define NDIS_HASH_UDP_IPV4		0x00004000u
#define NDIS_HASH_UDP_IPV6		0x00008000u
#define NDIS_HASH_UDP_IPV6_EX		0x00010000u

#define NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ	40u
#define NDIS_RSS_INDIRECTION_TABLE_MAX	128u

/* ---- Layout checks ------------------------------------------------------------ */

_Static_assert(sizeof(struct rndis_msg_hdr) == 8, "rndis header");
_Static_assert(sizeof(struct rndis_initialize_request) == 16, "init request");
_Static_assert(sizeof(struct rndis_initialize_complete) == 44, "init complete");
_Static_assert(sizeof(struct rndis_query_request) == 20, "query request");
_Static_assert(sizeof(struct rndis_query_complete) == 16, "query complete");
_Static_assert(sizeof(struct rndis_set_request) == 20, "set request");
_Static_assert(sizeof(struct rndis_set_complete) == 8, "set complete");
_Static_assert(sizeof(struct rndis_reset_complete) == 8, "reset complete");
_Static_assert(sizeof(struct rndis_indicate_status) == 12, "indicate status");
_Static_assert(sizeof(struct rndis_keepalive_complete) == 8, "keepalive complete");
_Static_assert(sizeof(struct rndis_config_parameter_info) == 20, "config parameter");
_Static_assert(sizeof(struct rndis_packet) == 36, "rndis packet");
_Static_assert(sizeof(struct rndis_oobd) == 12, "oob data");
_Static_assert(sizeof(struct rndis_per_packet_info) == 12, "ppi header");
_Static_assert(RNDIS_PPI_SIZE == 16, "one u32 PPI");
_Static_assert(sizeof(struct ndis_object_header) == 4, "ndis object header");
_Static_assert(offsetof(struct ndis_offload_params, flags) == 16, "offload params flags");
_Static_assert(offsetof(struct ndis_offload_params, rsc_ip_v4) ==
	       NDIS_OFFLOAD_PARAMETERS_SIZE_REV2, "offload params rev 2");
_Static_assert(offsetof(struct ndis_offload_params, reserved2) ==
	       NDIS_OFFLOAD_PARAMETERS_SIZE_REV3, "offload params rev 3");
_Static_assert(sizeof(struct ndis_offload_params) == 28, "offload params");
_Static_assert(sizeof(struct ndis_csum_offload) == 32, "csum offload");
_Static_assert(sizeof(struct ndis_ipsecv2_offload) == 32, "ipsec v2 offload");
_Static_assert(offsetof(struct ndis_offload, lsov2) == 80, "offload lsov2");
_Static_assert(offsetof(struct ndis_offload, ipsecv2) == NDIS_OFFLOAD_SIZE_REV1, "offload rev 1");
_Static_assert(offsetof(struct ndis_offload, rsc) == NDIS_OFFLOAD_SIZE_REV2, "offload rev 2");
_Static_assert(offsetof(struct ndis_offload, encap_gre) == 148, "offload gre");
_Static_assert(sizeof(struct ndis_offload) == NDIS_OFFLOAD_SIZE_REV3, "offload rev 3");
_Static_assert(sizeof(struct ndis_offload_encapsulation) ==
	       NDIS_OFFLOAD_ENCAPSULATION_SIZE_REV1, "offload encapsulation");
_Static_assert(offsetof(struct ndis_rss_caps, num_indirect_entries) == NDIS_RSS_CAPS_SIZE_REV1,
	       "rss caps rev 1");
_Static_assert(offsetof(struct ndis_rss_caps, reserved) == NDIS_RSS_CAPS_SIZE_REV2,
	       "rss caps rev 2");
_Static_assert(offsetof(struct ndis_rss_params, indirect_taboffset) == 16, "rss table offset");
_Static_assert(offsetof(struct ndis_rss_params, hashkey_offset) == 24, "rss key offset");
_Static_assert(offsetof(struct ndis_rss_params, processor_masks_offset) ==
	       NDIS_RSS_PARAMS_SIZE_REV1, "rss params rev 1");
_Static_assert(sizeof(struct ndis_rss_params) == NDIS_RSS_PARAMS_SIZE_REV2, "rss params rev 2");

#endif
