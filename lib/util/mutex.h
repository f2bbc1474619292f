/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_MUTEX_H
#define KBP_UTIL_MUTEX_H

#include <pthread.h>

/*
 * The pipeline's locks guard a few map operations at a time. An adaptive
 * mutex spins briefly before sleeping, so two threads taking turns do not
 * pay a futex sleep and a context switch for a lock held for a microsecond.
 */
static inline void kbp_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
}

#endif
