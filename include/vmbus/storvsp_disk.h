/* SPDX-License-Identifier: MIT */
/*
 * Disk images behind storvsp LUNs: open a file or block device, recognise
 * its format and expose it as a SCSI disk (a struct scsi_disk_ops table plus
 * the struct scsi_disk_info that scsi_target_add_lun() wants).
 *
 * Formats recognised:
 *  - raw: the file is the disk.
 *  - fixed VHD: raw data followed by a 512-byte footer (Microsoft "Virtual
 *    Hard Disk Image Format Specification" 1.0, section "Hard Disk Footer
 *    Format"). The guest sees the data only; the footer is never exposed
 *    and never written. Read-write.
 *  - dynamic and differencing VHD, VHDX (MS-VHDX): read through libvhdi,
 *    always read-only. Opening one without ",ro" still succeeds, read-only,
 *    and logs a warning (a writable request is a configuration slip, and
 *    refusing would leave the guest without its disk).
 *
 * Asynchronous I/O for these disks goes through the per-channel queue in
 * vsp/storvsp/ioq.h; the ops table here is synchronous and is what
 * scsi_target_execute() and the emulated commands (WRITE SAME, UNMAP) use.
 *
 * Threading: the ops may be called from several threads at once. Opening
 * and closing are not concurrent with anything else on the same disk.
 */
#ifndef VMBUS_STORVSP_DISK_H
#define VMBUS_STORVSP_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/log.h>
#include <vmbus/scsi_target.h>

enum storvsp_disk_format {
	STORVSP_DISK_RAW = 1,
	STORVSP_DISK_VHD_FIXED,
	STORVSP_DISK_VHD_DYNAMIC,
	STORVSP_DISK_VHD_DIFF,
	STORVSP_DISK_VHDX,
};

struct storvsp_disk;

/*
 * Open a disk described by spec: "PATH[,OPT...]" with options
 *   ro   open read-only;
 *   raw  skip format probing and treat the file as raw (use it for raw
 *        images a guest may have written a VHD-looking last sector into).
 * A path containing a comma cannot be given. log may be NULL; it is copied.
 * On success *out holds the disk and 0 is returned. Errors, each with one
 * log line naming the file:
 *   -EINVAL   bad spec or unknown option; size zero or not a multiple of
 *             the block size; unsupported VHD disk type;
 *   -EBADMSG  a VHD footer with a bad checksum or fields that contradict
 *             the file (corrupt image), or libvhdi refusing the image;
 *   -ENOENT, -EACCES, ... what open(2) said;
 *   -ENOMEM.
 */
int storvsp_disk_open(const char *spec, const struct vmbus_log *log,
		      struct storvsp_disk **out);

/* Close the disk and release its files and worker. No I/O on it may be in
 * flight (drain every queue that used it first). NULL is ignored. */
void storvsp_disk_close(struct storvsp_disk *d);

/* Format that was recognised. */
enum storvsp_disk_format storvsp_disk_format(const struct storvsp_disk *d);

/* Short lower-case name of a format ("raw", "vhd-fixed", "vhd-dynamic",
 * "vhd-diff", "vhdx"), "?" for anything else. */
const char *storvsp_disk_format_name(enum storvsp_disk_format f);

/* Size the guest sees, in bytes (a multiple of the block size). */
uint64_t storvsp_disk_size(const struct storvsp_disk *d);

/* Logical block size in bytes: 512, or 4096 for a VHDX that says so. */
uint32_t storvsp_disk_block_size(const struct storvsp_disk *d);

/* True when the guest may not write. */
bool storvsp_disk_read_only(const struct storvsp_disk *d);

/* True when aligned requests can bypass the page cache (the image was
 * opened a second time with O_DIRECT). */
bool storvsp_disk_direct(const struct storvsp_disk *d);

/*
 * Fill *info for scsi_target_add_lun(): size, block size, read-only flag,
 * vendor "Msft", product "Virtual Disk", a serial of 16 hex digits derived
 * from the file's device, inode and resolved path, and a locally assigned
 * NAA designator from the same hash. The strings point into the disk and
 * live as long as it.
 */
void storvsp_disk_info(const struct storvsp_disk *d, struct scsi_disk_info *info);

/* The synchronous ops table for scsi_target_add_lun(); ctx is the disk
 * itself. Read-only disks have no flush and no discard; writes on them
 * answer -EROFS. */
const struct scsi_disk_ops *storvsp_disk_ops(const struct storvsp_disk *d);

#endif
