/* SPDX-License-Identifier: MIT */
#include "util/clock.h"

static int64_t read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kbp_clock_realtime_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}

int64_t kbp_clock_monotonic_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

struct timespec kbp_clock_deadline(int64_t timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}
