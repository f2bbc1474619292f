/* SPDX-License-Identifier: MIT */
/*
 * A storage backend that lives outside the library: it wraps a memory store
 * and counts the calls of each slot, which proves that what a pipeline opened
 * on its scheme does goes through it. It registers as "counting" with
 * kbp_storage_register(), like any out-of-tree backend:
 *   counting:          records (the library's rules run on them) and every
 *                      optional slot
 *   counting:minimal   without the optional slots (jobs_complete, wait,
 *                      notify, wait_order, jobs_insert): the library's fallbacks run
 *   counting:batch     without job_complete (jobs_complete stands in)
 *   counting:v1        says it is version 1: the pipeline's steps are its own
 *                      slots (passed on to the memory store's), and jobs_insert
 *                      is never read (job_enqueue for each job stands in)
 */
#ifndef KBP_TEST_COUNTING_H
#define KBP_TEST_COUNTING_H

#include <kbpipeline/sys/storage.h>

#define COUNTING_SLOTS(X)                                                              \
	KBP_STORAGE_REQUIRED_SLOTS(X) KBP_STORAGE_STANDING_IN_SLOTS(X)                 \
	KBP_STORAGE_RECORDS_SLOTS(X) KBP_STORAGE_OPTIONAL_SLOTS(X)

typedef enum counting_slot {
#define COUNTING_ENUM(slot) COUNTING_##slot,
	COUNTING_SLOTS(COUNTING_ENUM)
#undef COUNTING_ENUM
	COUNTING_N
} counting_slot;

/* Registers "counting"; safe to call more than once. */
int counting_register(void);
/* The open function it registers, for backends of the tests built on it. */
int counting_open(kbp_storage **out, const char *uri, const kbp_storage_open_options *opts);
/* Calls of a slot, summed over every counting store of the process. */
unsigned long counting_calls(counting_slot slot);
/* The counting store opened last, NULL before the first. */
kbp_storage *counting_last(void);

#endif
