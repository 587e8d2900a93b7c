/* SPDX-License-Identifier: MIT */
/*
 * The few libc pieces the guest half uses. In a hosted build they come from
 * <string.h>; in a freestanding build (-ffreestanding) the embedder provides
 * memcpy, memmove, memset and memcmp, as every freestanding C program must.
 */
#ifndef VMBUS_FREESTANDING_H
#define VMBUS_FREESTANDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__STDC_HOSTED__) && __STDC_HOSTED__
#include <errno.h>
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif

#ifndef EINVAL
/* errno values for freestanding builds: the Linux numbers, so negative
 * returns mean the same everywhere. */
#define EPERM		1
#define ENOENT		2
#define EIO		5
#define E2BIG		7
#define EBADF		9
#define EAGAIN		11
#define ENOMEM		12
#define EFAULT		14
#define EBUSY		16
#define EEXIST		17
#define ENODEV		19
#define EINVAL		22
#define ENOSPC		28
#define ERANGE		34
#define ENOSYS		38
#define ENOMSG		42
#define EBADMSG		74
#define EOVERFLOW	75
#define EMSGSIZE	90
#define EPROTO		71
#define ENOTSUP		95
#define EOPNOTSUPP	95
#define ENOBUFS		105
#define ENOTCONN	107
#define ETIMEDOUT	110
#define EALREADY	114
#define ECONNRESET	104
#define ESTALE		116
#endif

#endif
