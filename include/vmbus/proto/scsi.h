/* SPDX-License-Identifier: MIT */
/*
 * SCSI constants the storage target speaks: operation codes, status codes,
 * sense keys, additional sense codes, VPD and mode page codes, and the byte
 * offsets of the fixed-format structures it builds.
 *
 * Sources: T10 SPC-4 and SBC-3 (as summarised by Linux include/scsi/scsi_proto.h
 * and drivers/scsi/sd.c), OpenVMM vm/devices/storage/scsidisk. Every
 * multi-byte field inside a CDB or SCSI data structure is big-endian, which
 * is why this file names byte offsets instead of declaring structs.
 * Freestanding-safe.
 */
#ifndef VMBUS_PROTO_SCSI_H
#define VMBUS_PROTO_SCSI_H

#include <stdint.h>

/* ---- Operation codes -------------------------------------------------------- */

#define SCSI_OP_TEST_UNIT_READY		0x00
#define SCSI_OP_REQUEST_SENSE		0x03
#define SCSI_OP_FORMAT_UNIT		0x04
#define SCSI_OP_READ_6			0x08
#define SCSI_OP_WRITE_6			0x0a
#define SCSI_OP_INQUIRY			0x12
#define SCSI_OP_MODE_SELECT_6		0x15
#define SCSI_OP_RESERVE_6		0x16
#define SCSI_OP_RELEASE_6		0x17
#define SCSI_OP_MODE_SENSE_6		0x1a
#define SCSI_OP_START_STOP_UNIT		0x1b
#define SCSI_OP_SEND_DIAGNOSTIC		0x1d
#define SCSI_OP_ALLOW_MEDIUM_REMOVAL	0x1e
#define SCSI_OP_READ_CAPACITY_10	0x25
#define SCSI_OP_READ_10			0x28
#define SCSI_OP_WRITE_10		0x2a
#define SCSI_OP_WRITE_VERIFY_10		0x2e
#define SCSI_OP_VERIFY_10		0x2f
#define SCSI_OP_SYNCHRONIZE_CACHE_10	0x35
#define SCSI_OP_WRITE_SAME_10		0x41
#define SCSI_OP_UNMAP			0x42
#define SCSI_OP_MODE_SELECT_10		0x55
#define SCSI_OP_MODE_SENSE_10		0x5a
#define SCSI_OP_PERSISTENT_RESERVE_IN	0x5e
#define SCSI_OP_PERSISTENT_RESERVE_OUT	0x5f
#define SCSI_OP_ATA_16			0x85
#define SCSI_OP_READ_16			0x88
#define SCSI_OP_WRITE_16		0x8a
#define SCSI_OP_VERIFY_16		0x8f
#define SCSI_OP_SYNCHRONIZE_CACHE_16	0x91
#define SCSI_OP_WRITE_SAME_16		0x93
#define SCSI_OP_SERVICE_ACTION_IN_16	0x9e
#define SCSI_OP_REPORT_LUNS		0xa0
#define SCSI_OP_ATA_12			0xa1
#define SCSI_OP_MAINTENANCE_IN		0xa3
#define SCSI_OP_READ_12			0xa8
#define SCSI_OP_WRITE_12		0xaa
#define SCSI_OP_VERIFY_12		0xaf

/* SERVICE ACTION IN(16) service actions (CDB byte 1, bits 4:0) */
#define SCSI_SAI_READ_CAPACITY_16	0x10
#define SCSI_SAI_GET_LBA_STATUS		0x12

/* CDB length from the group code in the opcode's top three bits. */
#define SCSI_CDB_GROUP(op)		(((op) >> 5) & 7)
#define SCSI_MAX_CDB_LEN		16

/* ---- Status codes ----------------------------------------------------------- */

#define SCSI_STATUS_GOOD		0x00
#define SCSI_STATUS_CHECK_CONDITION	0x02
#define SCSI_STATUS_CONDITION_MET	0x04
#define SCSI_STATUS_BUSY		0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL	0x28
#define SCSI_STATUS_ACA_ACTIVE		0x30
#define SCSI_STATUS_TASK_ABORTED	0x40

/* ---- Sense keys --------------------------------------------------------------- */

#define SCSI_SENSE_NO_SENSE		0x0
#define SCSI_SENSE_RECOVERED_ERROR	0x1
#define SCSI_SENSE_NOT_READY		0x2
#define SCSI_SENSE_MEDIUM_ERROR		0x3
#define SCSI_SENSE_HARDWARE_ERROR	0x4
#define SCSI_SENSE_ILLEGAL_REQUEST	0x5
#define SCSI_SENSE_UNIT_ATTENTION	0x6
#define SCSI_SENSE_DATA_PROTECT		0x7
#define SCSI_SENSE_BLANK_CHECK		0x8
#define SCSI_SENSE_COPY_ABORTED		0xa
#define SCSI_SENSE_ABORTED_COMMAND	0xb
#define SCSI_SENSE_VOLUME_OVERFLOW	0xd
#define SCSI_SENSE_MISCOMPARE		0xe

/* ---- Additional sense codes (ASC; the qualifier is 0 unless named) --------- */

#define SCSI_ASC_NO_ADDITIONAL_SENSE	0x00
#define SCSI_ASC_WRITE_ERROR		0x0c
#define SCSI_ASC_UNRECOVERED_READ_ERROR	0x11
#define SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR 0x1a
#define SCSI_ASC_INVALID_OPCODE		0x20	/* INVALID COMMAND OPERATION CODE */
#define SCSI_ASC_LBA_OUT_OF_RANGE	0x21	/* ASCQ 0x00 */
#define SCSI_ASC_INVALID_FIELD_IN_CDB	0x24
#define SCSI_ASC_LUN_NOT_SUPPORTED	0x25	/* LOGICAL UNIT NOT SUPPORTED */
#define SCSI_ASC_INVALID_FIELD_IN_PARAM_LIST 0x26
#define SCSI_ASC_WRITE_PROTECTED	0x27
#define SCSI_ASC_POWER_ON_RESET		0x29
#define SCSI_ASC_PARAMETERS_CHANGED	0x2a
#define SCSI_ASCQ_CAPACITY_DATA_CHANGED	0x09
#define SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED 0x39
#define SCSI_ASC_MEDIUM_NOT_PRESENT	0x3a
#define SCSI_ASC_INTERNAL_TARGET_FAILURE 0x44

/* ---- Fixed-format sense data (SPC-4 4.5.3) ------------------------------------ */

#define SCSI_SENSE_FIXED_LEN		18	/* 8-byte header + additional length 10 */
#define SCSI_SENSE_RESPONSE_FIXED	0x70	/* current error, fixed format */
#define SCSI_SENSE_OFF_RESPONSE		0
#define SCSI_SENSE_OFF_KEY		2	/* low nibble */
#define SCSI_SENSE_OFF_ADD_LEN		7
#define SCSI_SENSE_OFF_ASC		12
#define SCSI_SENSE_OFF_ASCQ		13

/* ---- INQUIRY ---------------------------------------------------------------- */

#define SCSI_INQ_EVPD			0x01	/* CDB byte 1 */
#define SCSI_INQ_CMDDT			0x02	/* CDB byte 1, obsolete */
#define SCSI_INQ_STD_LEN		36
#define SCSI_TYPE_DISK			0x00
#define SCSI_TYPE_NO_LUN		0x1f
#define SCSI_PQ_NOT_CONNECTABLE		(3 << 5)	/* peripheral qualifier 011b */
#define SCSI_INQ_VERSION_SPC4		0x06
#define SCSI_INQ_RESPONSE_FORMAT	0x02
#define SCSI_INQ_CMDQUE			0x02	/* standard data byte 7 */

/* VPD page codes */
#define SCSI_VPD_SUPPORTED_PAGES	0x00
#define SCSI_VPD_UNIT_SERIAL		0x80
#define SCSI_VPD_DEVICE_ID		0x83
#define SCSI_VPD_BLOCK_LIMITS		0xb0
#define SCSI_VPD_BLOCK_DEV_CHARS	0xb1
#define SCSI_VPD_LB_PROVISIONING	0xb2

#define SCSI_VPD_BLOCK_LIMITS_LEN	0x40	/* whole page, header included */
#define SCSI_VPD_BLOCK_DEV_CHARS_LEN	0x40
#define SCSI_VPD_LB_PROVISIONING_LEN	0x08

/* Device identification designators (VPD 83h) */
#define SCSI_CODESET_BINARY		0x1
#define SCSI_CODESET_ASCII		0x2
#define SCSI_DESIG_T10_VENDOR_ID	0x1
#define SCSI_DESIG_NAA			0x3

/* VPD B2h byte 5 */
#define SCSI_VPD_LBPU			0x80
#define SCSI_VPD_LBPWS			0x40
#define SCSI_VPD_LBPWS10		0x20
#define SCSI_VPD_LBPRZ			0x04
/* VPD B2h byte 6, provisioning type */
#define SCSI_PROVISIONING_FULL		0x0
#define SCSI_PROVISIONING_THIN		0x2

/* ---- READ CAPACITY ---------------------------------------------------------- */

#define SCSI_READ_CAP10_LEN		8
#define SCSI_READ_CAP16_LEN		32
#define SCSI_READ_CAP16_LBPME		0x80	/* data byte 14 */
#define SCSI_READ_CAP16_LBPRZ		0x40	/* data byte 14 */

/* ---- Read/write CDB flag bits (byte 1) ----------------------------------- */

#define SCSI_RW_FUA			0x08
#define SCSI_RW_DPO			0x10
#define SCSI_RW_PROTECT_MASK		0xe0	/* RDPROTECT / WRPROTECT / VRPROTECT */
#define SCSI_RW_RELADR			0x01	/* obsolete in 10/12-byte CDBs */
#define SCSI_WS_UNMAP			0x08
#define SCSI_WS_ANCHOR			0x10
#define SCSI_WS_NDOB			0x01	/* WRITE SAME(16) only */
#define SCSI_VERIFY_BYTCHK_MASK		0x06

/* ---- UNMAP parameter list ------------------------------------------------------ */

#define SCSI_UNMAP_HEADER_LEN		8
#define SCSI_UNMAP_DESCRIPTOR_LEN	16	/* LBA (8), count (4), reserved (4) */

/* ---- Mode pages --------------------------------------------------------------- */

#define SCSI_MODE_PAGE_CACHING		0x08
#define SCSI_MODE_PAGE_ALL		0x3f
#define SCSI_MODE_SUBPAGE_ALL		0xff
#define SCSI_MODE_PC_CURRENT		0
#define SCSI_MODE_PC_CHANGEABLE		1
#define SCSI_MODE_PC_DEFAULT		2
#define SCSI_MODE_PC_SAVED		3
#define SCSI_MODE_DBD			0x08	/* MODE SENSE CDB byte 1 */
#define SCSI_MODE_LLBAA			0x10	/* MODE SENSE(10) CDB byte 1 */
#define SCSI_MODE_SP			0x01	/* MODE SELECT CDB byte 1 */
#define SCSI_MODE_PF			0x10	/* MODE SELECT CDB byte 1 */
#define SCSI_MODE_HDR6_LEN		4
#define SCSI_MODE_HDR10_LEN		8
#define SCSI_MODE_BLOCK_DESC_LEN	8
#define SCSI_MODE_LONG_BLOCK_DESC_LEN	16
#define SCSI_MODE_DSP_WP		0x80	/* device-specific parameter */
#define SCSI_MODE_DSP_DPOFUA		0x10
#define SCSI_MODE_HDR10_LONGLBA		0x01	/* header byte 4 */
#define SCSI_MODE_CACHING_LEN		20	/* page code + length + 18 */
#define SCSI_MODE_CACHING_WCE		0x04	/* page byte 2 */
#define SCSI_MODE_CACHING_RCD		0x01	/* page byte 2 */
#define SCSI_MODE_PAGE_SPF		0x40	/* sub-page format */

/* ---- REPORT LUNS ---------------------------------------------------------------- */

#define SCSI_REPORT_LUNS_HDR_LEN	8
#define SCSI_REPORT_LUNS_ENTRY_LEN	8
#define SCSI_REPORT_LUNS_MIN_ALLOC	16

/* ---- START STOP UNIT (CDB byte 4) ---------------------------------------------- */

#define SCSI_SSU_START			0x01
#define SCSI_SSU_LOEJ			0x02
#define SCSI_SSU_POWER_COND_MASK	0xf0

#endif
