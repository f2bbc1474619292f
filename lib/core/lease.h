/* SPDX-License-Identifier: MIT */
/*
 * Lease renewal (DESIGN §7): jobs a worker holds keep their lease while their
 * handlers run, so maintenance rescues only jobs whose worker is gone.
 */
#ifndef KBP_CORE_LEASE_H
#define KBP_CORE_LEASE_H

#include <pthread.h>
#include <kbpipeline.h>

/* The batch one worker thread holds, published for the keeper. */
typedef struct kbp_lease_slot {
	pthread_mutex_t lock;
	const kbp_job_list *batch;  /* NULL between batches */
	const char *worker;         /* the id the batch is leased to */
	int64_t until;              /* the batch's lease end as last written (pipeline clock) */
} kbp_lease_slot;

typedef struct kbp_lease_keeper kbp_lease_keeper;

/*
 * Extends the leases of every job of batch still running under worker to
 * now + the pipeline's lease and returns that end, or -1 when the storage
 * failed; logs a failure (the next renewal may succeed, and a lost lease only
 * means the job may run again).
 */
int64_t kbp__lease_extend(kbp_pipeline *p, const kbp_job_list *batch, const char *worker);

void kbp__lease_slot_init(kbp_lease_slot *slot, const char *worker);
void kbp__lease_slot_destroy(kbp_lease_slot *slot);
/*
 * Publishes the batch in hand (NULL: none), leased until `until`; the keeper
 * renews it from then on.
 */
void kbp__lease_slot_hold(kbp_lease_slot *slot, const kbp_job_list *batch, int64_t until);
/* The end of the slot's lease as last written, by the acquisition or a renewal. */
int64_t kbp__lease_slot_until(kbp_lease_slot *slot);

/* A thread renewing the slots' batches every third of the lease. */
int kbp__lease_keeper_start(kbp_lease_keeper **out, kbp_pipeline *p, kbp_lease_slot *slots,
                            size_t n);
void kbp__lease_keeper_stop(kbp_lease_keeper *k);

#endif
