/* SPDX-License-Identifier: MIT */
/*
 * ELF64 guest-image loader. Format: gABI ELF-64 and the x86-64 psABI
 * (<elf.h>). Two passes: validate every program header, then copy, so a
 * hostile image either loads whole or changes nothing.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_loader.h"

/* [off, off + len) inside [0, size)? Overflow-safe. */
static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int check_ehdr(const Elf64_Ehdr *eh, size_t file_size)
{
	uint64_t table;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT || eh->e_type != ET_EXEC ||
	    eh->e_machine != EM_X86_64)
		return -ENOEXEC;
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > PART_ELF_MAX_PHDRS)
		return -ENOEXEC;
	table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (!inside(eh->e_phoff, table, file_size))
		return -ENOEXEC;
	return 0;
}

/* The program headers are copied out of the file (which may be unaligned
 * memory) before use. */
static void read_phdr(const uint8_t *file, const Elf64_Ehdr *eh, unsigned int i,
		      Elf64_Phdr *ph)
{
	memcpy(ph, file + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int check_segment(const Elf64_Phdr *ph, size_t file_size,
			 uint64_t ram_size, uint64_t min_gpa)
{
	/* Guest RAM is identity-mapped: a segment linked to run somewhere
	 * else than where it loads would run the wrong bytes. */
	if (ph->p_filesz > ph->p_memsz || ph->p_vaddr != ph->p_paddr)
		return -ENOEXEC;
	if (!inside(ph->p_offset, ph->p_filesz, file_size))
		return -ENOEXEC;
	if (ph->p_paddr < min_gpa || !inside(ph->p_paddr, ph->p_memsz, ram_size))
		return -ERANGE;
	return 0;
}

static bool overlap(const Elf64_Phdr *a, const Elf64_Phdr *b)
{
	/* Both ranges are known to lie inside RAM, so the ends cannot wrap. */
	return a->p_paddr < b->p_paddr + b->p_memsz &&
	       b->p_paddr < a->p_paddr + a->p_memsz;
}

int part_elf_load(const void *file, size_t file_size, void *ram,
		  uint64_t ram_size, uint64_t min_gpa,
		  struct part_elf_image *out)
{
	Elf64_Phdr ph[PART_ELF_MAX_PHDRS];
	struct part_elf_image img = { .low = UINT64_MAX };
	bool entry_ok = false;
	Elf64_Ehdr eh;
	unsigned int i, j, n = 0;
	int ret;

	if (!file || !ram || !out)
		return -EINVAL;
	if (file_size < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, file, sizeof(eh));
	ret = check_ehdr(&eh, file_size);
	if (ret)
		return ret;

	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr p;

		read_phdr(file, &eh, i, &p);
		if (p.p_type != PT_LOAD || p.p_memsz == 0)
			continue;
		ret = check_segment(&p, file_size, ram_size, min_gpa);
		if (ret)
			return ret;
		for (j = 0; j < n; j++)
			if (overlap(&p, &ph[j]))
				return -ENOEXEC;
		if ((p.p_flags & PF_X) && eh.e_entry >= p.p_paddr &&
		    eh.e_entry - p.p_paddr < p.p_memsz)
			entry_ok = true;
		if (p.p_paddr < img.low)
			img.low = p.p_paddr;
		if (p.p_paddr + p.p_memsz > img.high)
			img.high = p.p_paddr + p.p_memsz;
		ph[n++] = p;
	}
	if (!n || !entry_ok)
		return -ENOEXEC;

	for (i = 0; i < n; i++) {
		uint8_t *dst = (uint8_t *)ram + ph[i].p_paddr;

		memcpy(dst, (const uint8_t *)file + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}
	img.entry = eh.e_entry;
	img.segments = n;
	*out = img;
	return 0;
}

int part_elf_read_file(const char *path, void **buf, size_t *size,
		       char *why, size_t whylen)
{
	struct stat st;
	size_t done = 0;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		snprintf(why, whylen, "%s: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > PART_ELF_FILE_MAX) {
		snprintf(why, whylen, "%s: not a regular file of 1 byte to 256 MiB", path);
		close(fd);
		return -EINVAL;
	}
	*size = (size_t)st.st_size;
	*buf = malloc(*size);
	if (!*buf) {
		close(fd);
		snprintf(why, whylen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (done < *size) {
		n = read(fd, (uint8_t *)*buf + done, *size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, whylen, "%s: short read", path);
			free(*buf);
			*buf = NULL;
			close(fd);
			return -EIO;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}
