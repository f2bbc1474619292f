/* SPDX-License-Identifier: MIT */
/*
 * kbpipe demo, shared between its files: demo.c runs the shop,
 * demo_shopper.c is one shopper's flow, demo_checks.c the invariants and
 * demo_report.c the text and JSON summaries.
 */
#ifndef KBPIPE_DEMO_H
#define KBPIPE_DEMO_H

#include "kbpipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <kbpipeline.h>

#define DEMO_SHOPPERS_DEFAULT 6
#define DEMO_SHOPPERS_MIN 5              /* a buyer, two racers, a duplicate callback, a decline */
#define DEMO_SHOPPERS_MAX 500
#define DEMO_WORKER_THREADS 2
#define DEMO_WAIT_MS 10000
#define DEMO_MAX_CHECKS 16

typedef struct seed_product {
	const char *id;
	const char *vendor_id;
	const char *name;
	int64_t price_minor;        /* paisa */
	int64_t on_hand;            /* grown with the number of shoppers so only the slot is scarce */
	int64_t on_hand_per_shopper;
} seed_product;

enum { P_TEA, P_HONEY, P_BOWL, P_SLOT, N_PRODUCTS };

extern const seed_product demo_products[N_PRODUCTS];

typedef enum role {
	ROLE_BUYER,
	ROLE_RACER,                 /* two of them want the slot at the same instant */
	ROLE_DUPLICATE,             /* the gateway's callback is delivered twice */
	ROLE_DECLINED               /* the sandbox answers FAILED */
} role;

extern const char *const demo_role_names[];

typedef struct line {
	int product;
	int64_t qty;
} line;

typedef struct demo demo;

typedef struct shopper {
	demo *d;
	int no;
	role role;
	char customer[64];
	char cart[64];
	line lines[2];
	size_t n_lines;

	char *intent_id;
	int64_t amount_minor;
	int lost_race;
	char *race_message;
	kbp_order_stage seen[3];    /* right after create, after verify, final */
	int n_seen;
	int verify_rc;
	int dup_rc;
	int dup_flag;
	int dup_same_id;
	char *verification_id;
	char *final_reason;
	char *order_number;
	double verify_to_final_ms;

	const char *failed_step;    /* set when something unexpected happened */
	int error_rc;
	char *error_message;
} shopper;

typedef struct check {
	const char *name;
	int ok;
	char detail[320];
} check;

struct demo {
	kbp_pipeline *p;
	int n;
	int json;
	pthread_barrier_t start;
	pthread_barrier_t race;
	atomic_int finished;
	shopper *shoppers;

	kbp_product *before[N_PRODUCTS];
	kbp_product *after[N_PRODUCTS];
	int64_t sold[N_PRODUCTS];
	long samples;
	long bound_violations;
	char first_violation[200];

	kbp_order **orders;         /* per shopper, NULL when it has none */
	kbp_intent **intents;       /* per shopper, NULL when it made none */
	kbp_metrics m_before;
	kbp_metrics m_after;
	kbp_health *health;

	check checks[DEMO_MAX_CHECKS];
	int n_checks;
};

/* demo_shopper.c */
void demo_plan_shopper(demo *d, shopper *s, int no, const char *tag);
void *demo_shopper_main(void *arg);

/* demo_checks.c: appends every check to d->checks; returns how many failed. */
int demo_run_checks(demo *d);

/* demo_report.c */
void demo_print_text(const demo *d, int failed);
int demo_print_json(const demo *d, int failed);

#endif
