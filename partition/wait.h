/* SPDX-License-Identifier: MIT */
/*
 * Waiting for a partition to stop, shared by the KVM and emulator paths.
 */
#ifndef PARTITION_WAIT_H
#define PARTITION_WAIT_H

#include <pthread.h>
#include <stdbool.h>

/*
 * Wait under @lock on @cond until *@stopping is set or @timeout_sec pass
 * (0: no time-out). Returns true when the time-out ended the wait.
 */
bool part_wait_stopping(pthread_mutex_t *lock, pthread_cond_t *cond,
			const bool *stopping, unsigned int timeout_sec);

#endif
