/* SPDX-License-Identifier: MIT */
/*
 * Waiting for a partition to stop: the VP threads or the exit port set
 * the flag and signal the condition; the runner's main thread waits here.
 */
#include <errno.h>
#include <time.h>

#include "wait.h"

bool part_wait_stopping(pthread_mutex_t *lock, pthread_cond_t *cond,
			const bool *stopping, unsigned int timeout_sec)
{
	struct timespec deadline;
	bool timed_out;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_sec;
	pthread_mutex_lock(lock);
	while (!*stopping && ret != ETIMEDOUT) {
		if (timeout_sec)
			ret = pthread_cond_timedwait(cond, lock, &deadline);
		else
			pthread_cond_wait(cond, lock);
	}
	timed_out = !*stopping;
	pthread_mutex_unlock(lock);
	return timed_out;
}
