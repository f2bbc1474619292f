/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/storage_open.h"
#include "core/validate.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/mutex.h"

static int64_t system_clock(void *ctx)
{
	(void)ctx;
	return kbp_clock_realtime_ms();
}

static int64_t or_default(int64_t v, int64_t def)
{
	return v ? v : def;
}

static int apply_options(kbp_pipeline *p, const kbp_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_OPTIONS_VERSION, "kbp_options")))
		return rc;
	p->clock = o->clock ? o->clock : system_clock;
	p->clock_ctx = o->clock_ctx;
	p->log = o->log;
	p->log_ctx = o->log_ctx;
	p->log_level = o->log_level;
	p->intent_ttl_ms = or_default(o->intent_ttl_ms, 3600000);
	p->job_lease_ms = or_default(o->job_lease_ms, 300000);
	p->max_attempts = (int)or_default(o->max_attempts, 20);
	p->backoff_unit_ms = or_default(o->backoff_unit_ms, 1000);
	p->backoff_max_ms = or_default(o->backoff_max_ms, 3600000);
	/* Any negative jitter means none; zero means the default. */
	p->backoff_jitter_pct = o->backoff_jitter_pct < 0 ? 0 : (int)or_default(o->backoff_jitter_pct, 10);
	p->job_retention_ms = or_default(o->job_retention_ms, 86400000);
	p->reconcile_after_ms = or_default(o->reconcile_after_ms, 300000);
	if ((rc = kbp__check_range(p->intent_ttl_ms, 1000, INT64_C(30) * 86400000, "intent_ttl_ms")) ||
	    (rc = kbp__check_range(p->job_lease_ms, 100, INT64_C(86400000), "job_lease_ms")) ||
	    (rc = kbp__check_range(p->max_attempts, 1, 1000, "max_attempts")) ||
	    (rc = kbp__check_range(p->backoff_unit_ms, 1, 86400000, "backoff_unit_ms")) ||
	    (rc = kbp__check_range(p->backoff_max_ms, 1, INT64_C(30) * 86400000, "backoff_max_ms")) ||
	    (rc = kbp__check_range(p->backoff_jitter_pct, 0, 100, "backoff_jitter_pct")) ||
	    (rc = kbp__check_range(p->job_retention_ms, 1, INT64_C(3650) * 86400000,
	                           "job_retention_ms")) ||
	    (rc = kbp__check_range(p->reconcile_after_ms, 1000, INT64_C(30) * 86400000,
	                           "reconcile_after_ms")) ||
	    (rc = kbp__check_range(p->log_level, KBP_LOG_DEBUG, KBP_LOG_ERROR, "log_level")))
		return rc;
	return 0;
}

int kbp_pipeline_open(kbp_pipeline **out, const kbp_options *opts)
{
	kbp_options defaults = KBP_OPTIONS_INIT;
	kbp_pipeline *p;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	if (kbp_crypto_init() != 0)
		return kbp_error_set(KBP_ENOMEM, "libsodium could not be initialised");
	p = calloc(1, sizeof(*p));
	if (!p)
		return kbp__oom();
	kbp_mutex_init(&p->registry_lock);
	if ((rc = apply_options(p, opts ? opts : &defaults)) ||
	    (rc = kbp__storage_open(&p->storage, opts ? opts : &defaults)) ||
	    (rc = kbp_job_register(p, KBP_JOB_FINALIZE_ORDER, kbp__finalize_order_handler, NULL)) ||
	    (rc = kbp_job_register(p, KBP_JOB_RECONCILE_PAYMENT, kbp__reconcile_payment_handler,
	                           NULL))) {
		kbp_pipeline_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

void kbp_pipeline_close(kbp_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_gateways; i++)
		p->gateways[i]->free(p->gateways[i]);
	if (p->storage)
		p->storage->free(p->storage);
	pthread_mutex_destroy(&p->registry_lock);
	free(p);
}

int64_t kbp_pipeline_now(kbp_pipeline *p)
{
	return p ? p->clock(p->clock_ctx) : 0;
}

const char *kbp_pipeline_storage_name(kbp_pipeline *p)
{
	return p && p->storage ? p->storage->name : NULL;
}

void kbp__log(kbp_pipeline *p, kbp_log_level level, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	if (!p->log || level < p->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	p->log(p->log_ctx, level, message);
}

static int check_gateway(const kbp_gateway *g)
{
	if (g->version < 1 || g->version > KBP_GATEWAY_VERSION)
		return kbp_error_set(KBP_EVERSION, "gateway version %u is not supported", g->version);
	if (!g->prepare || !g->parse_callback || !g->lookup || !g->free)
		return kbp_error_set(KBP_EINVAL, "gateway lacks a required operation");
	return kbp__check_id(g->name, "gateway name");
}

int kbp_pipeline_add_gateway(kbp_pipeline *p, kbp_gateway *g)
{
	int rc;

	if (!g)
		return kbp_error_set(KBP_EINVAL, "gateway is NULL");
	rc = p ? check_gateway(g) : kbp_error_set(KBP_EINVAL, "pipeline is NULL");
	if (rc) {
		if (g->free)
			g->free(g);
		return rc;
	}
	pthread_mutex_lock(&p->registry_lock);
	for (size_t i = 0; i < p->n_gateways && !rc; i++)
		if (strcmp(p->gateways[i]->name, g->name) == 0)
			rc = kbp_error_set(KBP_EEXISTS, "gateway '%s' is already registered", g->name);
	if (!rc && p->n_gateways == KBP_GATEWAYS_MAX)
		rc = kbp_error_set(KBP_ETOOBIG, "at most %d gateways", KBP_GATEWAYS_MAX);
	if (!rc)
		p->gateways[p->n_gateways++] = g;
	pthread_mutex_unlock(&p->registry_lock);
	if (rc)
		g->free(g);
	return rc;
}

kbp_gateway *kbp__gateway_find(kbp_pipeline *p, const char *name)
{
	kbp_gateway *found = NULL;

	pthread_mutex_lock(&p->registry_lock);
	for (size_t i = 0; i < p->n_gateways && !found; i++)
		if (strcmp(p->gateways[i]->name, name) == 0)
			found = p->gateways[i];
	pthread_mutex_unlock(&p->registry_lock);
	return found;
}

int kbp_job_register(kbp_pipeline *p, const char *kind, kbp_job_handler handler, void *ctx)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_job_kind(kind)))
		return rc;
	if (!handler)
		return kbp_error_set(KBP_EINVAL, "handler is NULL");
	pthread_mutex_lock(&p->registry_lock);
	for (size_t i = 0; i < p->n_handlers && !rc; i++)
		if (strcmp(p->handlers[i].kind, kind) == 0)
			rc = kbp_error_set(KBP_EEXISTS, "a handler for '%s' is already registered", kind);
	if (!rc && p->n_handlers == KBP_HANDLERS_MAX)
		rc = kbp_error_set(KBP_ETOOBIG, "at most %d job handlers", KBP_HANDLERS_MAX);
	if (!rc) {
		kbp_handler_entry *e = &p->handlers[p->n_handlers++];
		snprintf(e->kind, sizeof(e->kind), "%s", kind);
		e->fn = handler;
		e->ctx = ctx;
	}
	pthread_mutex_unlock(&p->registry_lock);
	return rc;
}

int kbp__handler_find(kbp_pipeline *p, const char *kind, kbp_handler_entry *out)
{
	int found = 0;

	pthread_mutex_lock(&p->registry_lock);
	for (size_t i = 0; i < p->n_handlers && !found; i++)
		if (strcmp(p->handlers[i].kind, kind) == 0) {
			*out = p->handlers[i];
			found = 1;
		}
	pthread_mutex_unlock(&p->registry_lock);
	return found;
}
