/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_CLOCK_H
#define KBP_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock milliseconds since the epoch: the default pipeline clock. */
int64_t kbp_clock_realtime_ms(void);
/* Monotonic milliseconds, for timeouts that must not jump with the wall clock. */
int64_t kbp_clock_monotonic_ms(void);
/* The CLOCK_MONOTONIC deadline timeout_ms from now, for pthread_cond_timedwait. */
struct timespec kbp_clock_deadline(int64_t timeout_ms);

#endif
