/* SPDX-License-Identifier: MIT */
/*
 * vstor wire formats: the packets a storvsc guest and a storvsp host exchange
 * over the synthetic SCSI channel (control steps, the SCSI request block,
 * channel properties, protocol versions, SRB status codes and flags).
 *
 * Sources: Linux drivers/scsi/storvsc_drv.c (including the pre-5.x tables of
 * sense sizes and vmscsi_size_delta); OpenVMM
 * vm/devices/storage/storvsp_protocol/src/lib.rs. All fields little-endian,
 * every structure packed exactly as on the wire. Freestanding-safe.
 */
#ifndef VMBUS_PROTO_VSTOR_H
#define VMBUS_PROTO_VSTOR_H

#include <stddef.h>
#include <stdint.h>

/* ---- Protocol versions ---------------------------------------------------- */

/* major in the high byte, minor in the low byte of a 16-bit field */
#define VMSTOR_PROTO_VERSION(major, minor) \
	((uint16_t)((((major) & 0xff) << 8) | ((minor) & 0xff)))

#define VMSTOR_PROTO_VERSION_WIN6	VMSTOR_PROTO_VERSION(2, 0)	/* 0x0200 */
#define VMSTOR_PROTO_VERSION_WIN7	VMSTOR_PROTO_VERSION(4, 2)	/* 0x0402 */
#define VMSTOR_PROTO_VERSION_WIN8	VMSTOR_PROTO_VERSION(5, 1)	/* 0x0501 */
#define VMSTOR_PROTO_VERSION_WIN8_1	VMSTOR_PROTO_VERSION(6, 0)	/* 0x0600 */
#define VMSTOR_PROTO_VERSION_WIN10	VMSTOR_PROTO_VERSION(6, 2)	/* 0x0602 */

/* ---- Operations and packet flags ----------------------------------------- */

enum vstor_packet_operation {
	VSTOR_OPERATION_COMPLETE_IO		= 1,
	VSTOR_OPERATION_REMOVE_DEVICE		= 2,
	VSTOR_OPERATION_EXECUTE_SRB		= 3,
	VSTOR_OPERATION_RESET_LUN		= 4,
	VSTOR_OPERATION_RESET_ADAPTER		= 5,
	VSTOR_OPERATION_RESET_BUS		= 6,
	VSTOR_OPERATION_BEGIN_INITIALIZATION	= 7,
	VSTOR_OPERATION_END_INITIALIZATION	= 8,
	VSTOR_OPERATION_QUERY_PROTOCOL_VERSION	= 9,
	VSTOR_OPERATION_QUERY_PROPERTIES	= 10,
	VSTOR_OPERATION_ENUMERATE_BUS		= 11,
	VSTOR_OPERATION_FCHBA_DATA		= 12,
	VSTOR_OPERATION_CREATE_SUB_CHANNELS	= 13,
	/* Known to OpenVMM only; Linux never sends or expects it. */
	VSTOR_OPERATION_EVENT_NOTIFICATION	= 14,
};

/* vstor_packet.flags: the sender wants a COMPLETE_IO answer. */
#define VSTOR_REQUEST_COMPLETION_FLAG	0x1u

/* vstor_packet.status, filled in by the host: NTSTATUS values (OpenVMM).
 * Linux only tests for zero. */
#define VSTOR_STATUS_SUCCESS			0x00000000u
#define VSTOR_STATUS_BUFFER_OVERFLOW		0x80000005u
#define VSTOR_STATUS_DEVICE_BUSY		0x80000011u
#define VSTOR_STATUS_UNSUCCESSFUL		0xC0000001u
#define VSTOR_STATUS_INVALID_PARAMETER		0xC000000Du
#define VSTOR_STATUS_INVALID_DEVICE_REQUEST	0xC0000010u
#define VSTOR_STATUS_REVISION_MISMATCH		0xC0000059u
#define VSTOR_STATUS_DEVICE_NOT_CONNECTED	0xC000009Du
#define VSTOR_STATUS_IO_TIMEOUT			0xC00000B5u
#define VSTOR_STATUS_DEVICE_DOES_NOT_EXIST	0xC00000C0u
#define VSTOR_STATUS_CANCELLED			0xC0000120u
#define VSTOR_STATUS_INVALID_DEVICE_STATE	0xC0000184u
#define VSTOR_STATUS_IO_DEVICE_ERROR		0xC0000185u

/* ---- SCSI request block --------------------------------------------------- */

#define VMSCSI_CDB_SIZE			0x10u
/* The sense area shares the CDB's union; its usable size depends on the
 * negotiated version. */
#define VMSCSI_SENSE_BUFFER_SIZE	0x14u	/* WIN8 and later */
#define VMSCSI_SENSE_BUFFER_SIZE_PRE_WIN8 0x12u	/* WIN6, WIN7 */
#define VMSCSI_MAX_BUF_LEN_WITH_PADDING	0x14u

/* vmscsi_request.data_in (Linux enum storvsc_request_type). */
#define VSTOR_DATA_OUT		0u	/* WRITE_TYPE: guest memory -> device */
#define VSTOR_DATA_IN		1u	/* READ_TYPE: device -> guest memory */
#define VSTOR_DATA_UNKNOWN	2u	/* no data, or both directions */

/* Tail of the request block that WIN8 (5.1) added. Before WIN8 it is absent
 * from the wire: the packet is shorter by exactly this much. */
struct vmscsi_win8_extension {
	uint16_t reserve;
	uint8_t queue_tag;
	uint8_t queue_action;
	uint32_t srb_flags;
	uint32_t time_out_value;
	uint32_t queue_sort_key;
} __attribute__((packed));

struct vmscsi_request {
	uint16_t length;
	uint8_t srb_status;
	uint8_t scsi_status;

	uint8_t port_number;	/* "reserved1" in OpenVMM */
	uint8_t path_id;
	uint8_t target_id;
	uint8_t lun;

	uint8_t cdb_length;
	uint8_t sense_info_length;
	uint8_t data_in;	/* VSTOR_DATA_* */
	uint8_t reserved;	/* "properties" in OpenVMM */

	uint32_t data_transfer_length;

	union {
		uint8_t cdb[VMSCSI_CDB_SIZE];
		uint8_t sense_data[VMSCSI_SENSE_BUFFER_SIZE];
		uint8_t reserved_array[VMSCSI_MAX_BUF_LEN_WITH_PADDING];
	};

	struct vmscsi_win8_extension win8_extension;
} __attribute__((packed));

#define VMSCSI_WIN8_EXTENSION_SIZE	16u
/* Linux's vmscsi_size_delta: bytes missing from a pre-WIN8 request block. */
#define VMSCSI_SIZE_DELTA_PRE_WIN8	VMSCSI_WIN8_EXTENSION_SIZE
#define VMSCSI_REQUEST_SIZE_WIN8	0x34u
#define VMSCSI_REQUEST_SIZE_PRE_WIN8	(VMSCSI_REQUEST_SIZE_WIN8 - VMSCSI_SIZE_DELTA_PRE_WIN8)

/* ---- SRB status (vmscsi_request.srb_status) --------------------------------
 * The two high bits are flags, the low six an integer code. */
#define SRB_STATUS_AUTOSENSE_VALID	0x80u
#define SRB_STATUS_QUEUE_FROZEN		0x40u
#define SRB_STATUS(status) \
	((status) & ~(SRB_STATUS_AUTOSENSE_VALID | SRB_STATUS_QUEUE_FROZEN))

#define SRB_STATUS_PENDING		0x00u
#define SRB_STATUS_SUCCESS		0x01u
#define SRB_STATUS_ABORTED		0x02u
#define SRB_STATUS_ERROR		0x04u
#define SRB_STATUS_INVALID_REQUEST	0x06u
#define SRB_STATUS_TIMEOUT		0x09u
#define SRB_STATUS_SELECTION_TIMEOUT	0x0Au
#define SRB_STATUS_BUS_RESET		0x0Eu
#define SRB_STATUS_DATA_OVERRUN		0x12u
#define SRB_STATUS_INVALID_LUN		0x20u
#define SRB_STATUS_INTERNAL_ERROR	0x30u

/* ---- SRB flags (vmscsi_win8_extension.srb_flags) -------------------------- */

#define SRB_FLAGS_QUEUE_ACTION_ENABLE		0x00000002u
#define SRB_FLAGS_DISABLE_DISCONNECT		0x00000004u
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER	0x00000008u
#define SRB_FLAGS_BYPASS_FROZEN_QUEUE		0x00000010u
#define SRB_FLAGS_DISABLE_AUTOSENSE		0x00000020u
#define SRB_FLAGS_DATA_IN			0x00000040u
#define SRB_FLAGS_DATA_OUT			0x00000080u
#define SRB_FLAGS_NO_DATA_TRANSFER		0x00000000u
#define SRB_FLAGS_UNSPECIFIED_DIRECTION \
	(SRB_FLAGS_DATA_IN | SRB_FLAGS_DATA_OUT)
#define SRB_FLAGS_NO_QUEUE_FREEZE		0x00000100u
#define SRB_FLAGS_ADAPTER_CACHE_ENABLE		0x00000200u
#define SRB_FLAGS_FREE_SENSE_BUFFER		0x00000400u
#define SRB_FLAGS_D3_PROCESSING			0x00000800u
#define SRB_FLAGS_IS_ACTIVE			0x00010000u
#define SRB_FLAGS_ALLOCATED_FROM_ZONE		0x00020000u
#define SRB_FLAGS_SGLIST_FROM_POOL		0x00040000u
#define SRB_FLAGS_BYPASS_LOCKED_QUEUE		0x00080000u
#define SRB_FLAGS_NO_KEEP_AWAKE			0x00100000u
#define SRB_FLAGS_PORT_DRIVER_ALLOCSENSE	0x00200000u
#define SRB_FLAGS_PORT_DRIVER_SENSEHASPORT	0x00400000u
#define SRB_FLAGS_DONT_START_NEXT_PACKET	0x00800000u
#define SRB_FLAGS_PORT_DRIVER_RESERVED		0x0F000000u
#define SRB_FLAGS_CLASS_DRIVER_RESERVED		0xF0000000u

/* queue_tag / queue_action values Linux fills in */
#define SP_UNTAGGED			0xFFu
#define SRB_SIMPLE_TAG_REQUEST		0x20u

/* ---- Initialization payloads ------------------------------------------------ */

/* QUERY_PROPERTIES answer. */
struct vmstorage_channel_properties {
	uint32_t reserved;
	uint16_t max_channel_cnt;	/* sub-channels the host can open */
	uint16_t reserved1;
	uint32_t flags;			/* VSTOR_PROPERTIES_* */
	uint32_t max_transfer_bytes;
	uint64_t reserved2;
} __attribute__((packed));

/* vmstorage_channel_properties.flags (STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL) */
#define VSTOR_PROPERTIES_MULTI_CHANNEL	0x1u

/* QUERY_PROTOCOL_VERSION request and answer. */
struct vmstorage_protocol_version {
	uint16_t major_minor;		/* VMSTOR_PROTO_VERSION() */
	uint16_t revision;		/* Windows build stamp; Linux sends 0 */
} __attribute__((packed));

/* FCHBA_DATA answer, only for the synthetic Fibre Channel class. */
struct hv_fc_wwn_packet {
	uint8_t primary_active;
	uint8_t reserved1[3];
	uint8_t primary_port_wwn[8];
	uint8_t primary_node_wwn[8];
	uint8_t secondary_port_wwn[8];
	uint8_t secondary_node_wwn[8];
} __attribute__((packed));

/* User-defined area of the channel offer (OpenVMM OfferProperties); old
 * Windows guests read path/target from it for the IDE accelerator. */
struct vstor_offer_properties {
	uint16_t reserved;
	uint8_t path_id;
	uint8_t target_id;
	uint32_t reserved2;
	uint32_t flags;			/* VSTOR_OFFER_* */
	uint32_t reserved3[3];
} __attribute__((packed));

/* vstor_offer_properties.flags (Linux STORAGE_CHANNEL_*_FLAG) */
#define VSTOR_OFFER_REMOVABLE		0x1u
#define VSTOR_OFFER_EMULATED_IDE	0x2u

/* ---- The packet ----------------------------------------------------------- */

#define VSTOR_PACKET_PAYLOAD_SIZE	0x34u

struct vstor_packet {
	uint32_t operation;		/* enum vstor_packet_operation */
	uint32_t flags;			/* VSTOR_REQUEST_COMPLETION_FLAG */
	uint32_t status;		/* VSTOR_STATUS_*, host to guest */
	union {
		struct vmscsi_request vm_srb;
		struct vmstorage_channel_properties storage_channel_properties;
		struct vmstorage_protocol_version version;
		struct hv_fc_wwn_packet wwn_packet;
		uint16_t sub_channel_count;	/* CREATE_SUB_CHANNELS */
		uint8_t buffer[VSTOR_PACKET_PAYLOAD_SIZE];
	};
} __attribute__((packed));

/* Bytes on the wire: Linux sends sizeof(struct vstor_packet) minus
 * vmscsi_size_delta, and expects answers of the same length. */
#define VSTOR_PACKET_SIZE_WIN8		0x40u
#define VSTOR_PACKET_SIZE_PRE_WIN8	(VSTOR_PACKET_SIZE_WIN8 - VMSCSI_SIZE_DELTA_PRE_WIN8)

/* Limits the Linux guest assumes for the synthetic SCSI controller. */
#define VSTOR_MAX_LUNS_PER_TARGET	255u
#define VSTOR_MAX_TARGETS		2u
#define VSTOR_MAX_CHANNELS		8u
#define VSTOR_IDE_MAX_LUNS_PER_TARGET	64u
#define VSTOR_IDE_MAX_TARGETS		1u

/* ---- Layout checks --------------------------------------------------------- */

_Static_assert(sizeof(struct vmscsi_win8_extension) == VMSCSI_WIN8_EXTENSION_SIZE,
	       "vmscsi_win8_extension");
_Static_assert(sizeof(struct vmscsi_request) == VMSCSI_REQUEST_SIZE_WIN8, "vmscsi_request");
_Static_assert(VMSCSI_REQUEST_SIZE_PRE_WIN8 == 0x24u, "pre-WIN8 vmscsi_request");
_Static_assert(offsetof(struct vmscsi_request, srb_status) == 2, "srb_status");
_Static_assert(offsetof(struct vmscsi_request, scsi_status) == 3, "scsi_status");
_Static_assert(offsetof(struct vmscsi_request, lun) == 7, "lun");
_Static_assert(offsetof(struct vmscsi_request, cdb_length) == 8, "cdb_length");
_Static_assert(offsetof(struct vmscsi_request, sense_info_length) == 9, "sense_info_length");
_Static_assert(offsetof(struct vmscsi_request, data_in) == 10, "data_in");
_Static_assert(offsetof(struct vmscsi_request, data_transfer_length) == 12,
	       "data_transfer_length");
_Static_assert(offsetof(struct vmscsi_request, cdb) == 16, "cdb");
_Static_assert(offsetof(struct vmscsi_request, win8_extension) == 36, "win8_extension");
_Static_assert(offsetof(struct vmscsi_request, win8_extension.srb_flags) == 40, "srb_flags");
_Static_assert(sizeof(struct vmstorage_channel_properties) == 24, "channel_properties");
_Static_assert(offsetof(struct vmstorage_channel_properties, max_channel_cnt) == 4,
	       "max_channel_cnt");
_Static_assert(offsetof(struct vmstorage_channel_properties, flags) == 8, "props flags");
_Static_assert(offsetof(struct vmstorage_channel_properties, max_transfer_bytes) == 12,
	       "max_transfer_bytes");
_Static_assert(sizeof(struct vmstorage_protocol_version) == 4, "protocol_version");
_Static_assert(sizeof(struct hv_fc_wwn_packet) == 36, "hv_fc_wwn_packet");
_Static_assert(sizeof(struct vstor_offer_properties) == 24, "vstor_offer_properties");
_Static_assert(sizeof(struct vstor_packet) == VSTOR_PACKET_SIZE_WIN8, "vstor_packet");
_Static_assert(VSTOR_PACKET_SIZE_PRE_WIN8 == 48u, "pre-WIN8 vstor_packet");
_Static_assert(offsetof(struct vstor_packet, vm_srb) == 12, "vstor_packet payload");
_Static_assert(VMSTOR_PROTO_VERSION_WIN10 == 0x0602 && VMSTOR_PROTO_VERSION_WIN6 == 0x0200,
	       "version encoding");

#endif
