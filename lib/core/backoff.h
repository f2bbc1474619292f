/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_BACKOFF_H
#define KBP_CORE_BACKOFF_H

#include <stdint.h>

/*
 * The delay before retry number `attempt` (1-based): attempt^4 units, capped,
 * spread by +/- jitter_pct percent so that failures do not retry in lockstep.
 */
int64_t kbp__backoff_delay_ms(int attempt, int64_t unit_ms, int64_t max_ms, int jitter_pct);

#endif
