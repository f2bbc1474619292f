/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_FIELDS_H
#define KBP_CORE_FIELDS_H

/*
 * The members of the public structs, each list written once. Deep copy and
 * release (core/objects.c), the PostgreSQL backend's reading of its JSON rows
 * (storage/postgres/convert.c), kbpipe's JSON (tools/kbpipe/json_fields.h)
 * and the bindings' native objects (bindings/kbpipeline.i) are all expanded
 * from these lists, so a member added here reaches every one of them; the
 * fields test holds each list to its struct (same names, order, offsets and
 * sizes). A JSON key or a native attribute is the member's name.
 *
 * KBP_FIELDS_name(X), for the struct kbp_name, calls X(KIND, member, …)
 * once per member, in declaration order. The kinds, and what follows the member:
 *   STR     char *, owned, NULL allowed
 *   JSON    char * holding JSON text (a job's payload), owned
 *   I64     int64_t
 *   INT     int
 *   BOOL    int that is a flag: true/false outside C
 *   ENUM    an enum; then its name function (outside C the name, in storage the number)
 *   CUR     char[4], an ISO 4217 code
 *   ARRAY   an owned array; then its count member and its element's name
 *           (kbp_name, listed as KBP_FIELDS_name)
 *   STRS    char **, owned strings; then its count member
 *   COUNTS  int64_t[n] indexed by an enum; then n, the enum's name function and type
 *   STRUCT  a nested struct; then its name (as ARRAY's element)
 * A consumer dispatches on the kind by pasting it onto its own prefix, e.g.
 * #define COPY(kind, ...) COPY_##kind(__VA_ARGS__).
 */

#include "kbpipeline.h"
#include "kbpipeline/sys/gateway.h"
#include "kbpipeline/sys/storage.h"

#define KBP_FIELDS_vendor(X) \
	X(STR, id) \
	X(STR, name)

#define KBP_FIELDS_product(X) \
	X(STR, id) \
	X(STR, vendor_id) \
	X(STR, name) \
	X(I64, price_minor) \
	X(CUR, currency) \
	X(I64, on_hand) \
	X(I64, reserved) \
	X(I64, available) \
	X(BOOL, active)

#define KBP_FIELDS_cart_item(X) \
	X(STR, sku) \
	X(I64, qty)

#define KBP_FIELDS_cart(X) \
	X(STR, id) \
	X(STR, customer_id) \
	X(I64, version) \
	X(ARRAY, items, n_items, cart_item)

#define KBP_FIELDS_intent_item(X) \
	X(STR, sku) \
	X(STR, vendor_id) \
	X(I64, qty) \
	X(I64, unit_price_minor)

#define KBP_FIELDS_intent(X) \
	X(STR, id) \
	X(STR, cart_id) \
	X(STR, customer_id) \
	X(I64, cart_version) \
	X(ARRAY, items, n_items, intent_item) \
	X(I64, amount_minor) \
	X(CUR, currency) \
	X(STR, gateway) \
	X(STR, gateway_ref) \
	X(STR, redirect) \
	X(STR, idempotency_key) \
	X(ENUM, status, kbp_intent_status_name) \
	X(STR, status_reason) \
	X(BOOL, needs_refund) \
	X(I64, created_at) \
	X(I64, expires_at) \
	X(I64, updated_at)

#define KBP_FIELDS_verification(X) \
	X(STR, id) \
	X(STR, gateway) \
	X(STR, gateway_ref) \
	X(STR, external_txn_id) \
	X(STR, intent_id) \
	X(I64, amount_minor) \
	X(ENUM, outcome, kbp_verification_outcome_name) \
	X(STR, reason) \
	X(BOOL, duplicate) \
	X(ENUM, intent_status, kbp_intent_status_name) \
	X(BOOL, needs_refund) \
	X(I64, at)

#define KBP_FIELDS_job_error(X) \
	X(INT, attempt) \
	X(I64, at) \
	X(STR, message)

#define KBP_FIELDS_job(X) \
	X(STR, id) \
	X(STR, kind) \
	X(JSON, payload) \
	X(ENUM, state, kbp_job_state_name) \
	X(INT, priority) \
	X(INT, attempts) \
	X(INT, max_attempts) \
	X(I64, run_at) \
	X(I64, lease_until) \
	X(STR, locked_by) \
	X(STR, unique_key) \
	X(STR, last_error) \
	X(ARRAY, errors, n_errors, job_error) \
	X(I64, created_at) \
	X(I64, updated_at) \
	X(I64, finished_at)

/* kbp_order_item is kbp_intent_item (orders.h): one list serves both. */
#define KBP_FIELDS_order(X) \
	X(STR, id) \
	X(STR, order_number) \
	X(STR, intent_id) \
	X(STR, customer_id) \
	X(I64, total_minor) \
	X(CUR, currency) \
	X(STR, status) \
	X(STR, fulfillment_status) \
	X(I64, created_at) \
	X(ARRAY, items, n_items, intent_item)

#define KBP_FIELDS_order_status(X) \
	X(ENUM, stage, kbp_order_stage_name) \
	X(STR, intent_id) \
	X(ENUM, intent_status, kbp_intent_status_name) \
	X(STR, order_id) \
	X(STR, order_number) \
	X(STR, reason) \
	X(BOOL, needs_refund)

#define KBP_FIELDS_maintenance_result(X) \
	X(BOOL, ran) \
	X(I64, intents_expired) \
	X(I64, jobs_rescued) \
	X(I64, jobs_pruned) \
	X(I64, reconcile_scheduled)

#define KBP_FIELDS_metrics(X) \
	X(COUNTS, jobs, KBP_JOB_STATE_COUNT, kbp_job_state_name, kbp_job_state) \
	X(I64, jobs_stuck) \
	X(I64, jobs_failed_last_hour) \
	X(I64, oldest_available_age_ms) \
	X(I64, jobs_rescued_last_hour) \
	X(COUNTS, intents, KBP_INTENT_STATUS_COUNT, kbp_intent_status_name, kbp_intent_status) \
	X(I64, orders) \
	X(I64, orders_without_items) \
	X(I64, paid_intents_without_order) \
	X(I64, needs_refund) \
	X(I64, verifications_rejected) \
	X(I64, finalize_p50_ms) \
	X(I64, finalize_p95_ms) \
	X(I64, finalize_p99_ms) \
	X(I64, paid_intents_without_order_late) \
	X(I64, paid_without_order_oldest_ms)

#define KBP_FIELDS_doctor_check(X) \
	X(STR, name) \
	X(STR, description) \
	X(I64, count) \
	X(STRS, ids, n_ids)

#define KBP_FIELDS_doctor_report(X) \
	X(ARRAY, checks, n_checks, doctor_check) \
	X(I64, problems)

#define KBP_FIELDS_health_finding(X) \
	X(ENUM, level, kbp_health_level_name) \
	X(STR, check) \
	X(STR, message)

#define KBP_FIELDS_health(X) \
	X(ENUM, level, kbp_health_level_name) \
	X(STRUCT, metrics, metrics) \
	X(ARRAY, findings, n_findings, health_finding)

/* What a backend reads for an order's status (kbpipeline/sys/storage.h). */
#define KBP_FIELDS_order_facts(X) \
	X(ENUM, intent_status, kbp_intent_status_name) \
	X(STR, intent_reason) \
	X(BOOL, needs_refund) \
	X(STR, order_id) \
	X(STR, order_number) \
	X(INT, job_state) \
	X(STR, job_error)

/* What a gateway returns (kbpipeline/sys/gateway.h). */
#define KBP_FIELDS_prepared(X) \
	X(STR, gateway_ref) \
	X(STR, redirect)

/* A kbp_gateway_status has no name function (NULL): only C reads it. */
#define KBP_FIELDS_callback_claim(X) \
	X(STR, gateway_ref) \
	X(STR, external_txn_id) \
	X(I64, amount_minor) \
	X(ENUM, status, NULL)

#define KBP_FIELDS_lookup_result(X) \
	X(ENUM, status, NULL) \
	X(I64, amount_minor) \
	X(CUR, currency) \
	X(STR, external_txn_id)

/* Every struct with a list, by the name that follows kbp_ (X(name)). */
#define KBP_FIELDS_STRUCTS(X) \
	X(vendor) X(product) X(cart_item) X(cart) X(intent_item) X(intent) X(verification) \
	X(job_error) X(job) X(order) X(order_status) X(maintenance_result) X(metrics) \
	X(doctor_check) X(doctor_report) X(health_finding) X(health) X(order_facts) X(prepared) \
	X(callback_claim) X(lookup_result)

#endif
