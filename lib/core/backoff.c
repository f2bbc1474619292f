/* SPDX-License-Identifier: MIT */
#include "core/backoff.h"

#include "util/crypto.h"

int64_t kbp__backoff_delay_ms(int attempt, int64_t unit_ms, int64_t max_ms, int jitter_pct)
{
	int64_t a = attempt < 1 ? 1 : attempt;
	int64_t units = a * a * a * a, delay, spread;

	/* attempt is at most 1000, so attempt^4 fits; the product with unit may not. */
	if (units > max_ms / unit_ms)
		delay = max_ms;
	else
		delay = units * unit_ms;
	if (delay > max_ms)
		delay = max_ms;
	spread = delay * jitter_pct / 100;
	if (spread > 0 && spread < UINT32_MAX / 2)
		delay += (int64_t)kbp_random_uniform((uint32_t)(2 * spread + 1)) - spread;
	return delay < 0 ? 0 : delay;
}
