/* SPDX-License-Identifier: MIT */
/*
 * ELF64 loader for partition guest images: a static x86-64 executable
 * whose PT_LOAD segments are copied to their physical addresses in guest
 * RAM. The file is untrusted: every header field is bounds-checked before
 * anything is copied, and a rejected image leaves RAM untouched.
 *
 * Format: System V ABI (gABI) ELF-64 object file format, x86-64 psABI;
 * field names as in <elf.h>.
 */
#ifndef PART_ELF_LOADER_H
#define PART_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

/* More program headers than this is not a guest image. */
#define PART_ELF_MAX_PHDRS	64u

/* What a successful load produced (a value type the caller owns). */
struct part_elf_image {
	uint64_t entry;		/* inside a loaded executable segment */
	uint64_t low;		/* lowest loaded guest-physical address */
	uint64_t high;		/* first byte above the highest segment */
	unsigned int segments;	/* PT_LOAD segments with memsz > 0 */
};

/*
 * Check @file (@file_size bytes) and copy it into @ram, which holds guest
 * physical addresses [0, @ram_size). Segments may only land in
 * [@min_gpa, @ram_size); the bytes between p_filesz and p_memsz are zeroed.
 *
 * Rejected with -ENOEXEC: a short file, bad magic, not ELFCLASS64 /
 * little-endian / EV_CURRENT / ET_EXEC / EM_X86_64, e_phentsize not
 * sizeof(Elf64_Phdr), no or more than PART_ELF_MAX_PHDRS program headers,
 * a header table or segment that overflows or lies outside the file,
 * p_filesz > p_memsz, p_vaddr != p_paddr (RAM is identity-mapped), two
 * segments that overlap, no loadable segment, or an entry point outside
 * every executable segment. -ERANGE: a segment
 * outside [@min_gpa, @ram_size). -EINVAL: NULL arguments.
 */
int part_elf_load(const void *file, size_t file_size, void *ram,
		  uint64_t ram_size, uint64_t min_gpa,
		  struct part_elf_image *out);

/* The largest guest image file part_elf_read_file() takes. */
#define PART_ELF_FILE_MAX	(256ull << 20)

/*
 * Read a guest image file whole into a malloc'd buffer (*buf, *size; the
 * caller frees it). 0, or a negative errno with a sentence for the user,
 * starting with the path, in @why.
 */
int part_elf_read_file(const char *path, void **buf, size_t *size,
		       char *why, size_t whylen);

#endif
