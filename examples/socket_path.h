// SPDX-License-Identifier: MIT
/*
 * The UNIX socket vmbus-host listens on and vmbus-guest connects to when
 * no --socket is given: $XDG_RUNTIME_DIR/vmbus.sock, else
 * /tmp/vmbus-UID.sock. One definition, so the two always agree.
 */
#ifndef VMBUS_EXAMPLES_SOCKET_PATH_H
#define VMBUS_EXAMPLES_SOCKET_PATH_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void default_socket(char *buf, size_t len)
{
	const char *run = getenv("XDG_RUNTIME_DIR");

	if (run && run[0])
		snprintf(buf, len, "%s/vmbus.sock", run);
	else
		snprintf(buf, len, "/tmp/vmbus-%u.sock", (unsigned int)getuid());
}

#endif
