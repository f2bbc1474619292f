/* SPDX-License-Identifier: MIT */
#include "fixture.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

const char *fx_strerror(int code)
{
	const char *s = kbp_strerror(code);
	return s ? s : "(null)";
}

const char *fx_last_message(void)
{
	const kbp_error *e = kbp_error_last();
	return e && e->message ? e->message : "(no message)";
}

const char *fx_storage_uri(void)
{
	const char *uri = getenv("KBP_TEST_STORAGE");
	return uri && *uri ? uri : "memory:";
}

static int64_t fx_clock(void *ctx)
{
	return atomic_load((_Atomic int64_t *)ctx);
}

int64_t fx_now(fx *f) { return atomic_load(&f->now); }
void fx_set_now(fx *f, int64_t ms) { atomic_store(&f->now, ms); }
void fx_advance(fx *f, int64_t ms) { atomic_fetch_add(&f->now, ms); }

void fx_default_options(fx *f, kbp_options *o)
{
	kbp_options init = KBP_OPTIONS_INIT;
	*o = init;
	o->storage = fx_storage_uri();
	o->clock = fx_clock;
	o->clock_ctx = (void *)&f->now;
	o->intent_ttl_ms = FX_TTL_MS;
}

void fx_open_with(fx *f, kbp_options *o)
{
	unsigned char rnd[5];
	kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;

	ck_assert_int_ge(sodium_init(), 0);
	f->p = NULL;
	f->vendor = NULL;
	f->ids = NULL;
	f->n_ids = f->cap_ids = 0;
	/* Later tests start later, as they would on a shared database. */
	f->start = FX_EPOCH_MS + (int64_t)time(NULL) % 1000000 * 1000;
	atomic_store(&f->now, f->start);
	randombytes_buf(rnd, sizeof rnd);
	snprintf(f->prefix, sizeof f->prefix, "t%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	         rnd[3], rnd[4]);

	o->storage = fx_storage_uri();
	o->clock = fx_clock;
	o->clock_ctx = (void *)&f->now;
	/*
	 * On a database, each test gets a schema of its own (named by its prefix),
	 * so global counts and the job queue are as fresh as a memory store's.
	 */
	if (strcmp(o->storage, "memory:") != 0) {
		CK_OK(kbp_migrate(NULL, o->storage, f->prefix));
		o->storage_schema = f->prefix;
	}
	CK_OK(kbp_pipeline_open(&f->p, o));
	ck_assert_ptr_nonnull(f->p);

	so.secret = FX_SECRET;
	so.secret_len = strlen(FX_SECRET);
	CK_OK(kbp_gateway_add_sandbox(f->p, &so));
}

void fx_open(fx *f)
{
	kbp_options o;
	fx_default_options(f, &o);
	fx_open_with(f, &o);
}

void fx_close(fx *f)
{
	kbp_pipeline_close(f->p);
	f->p = NULL;
	for (size_t i = 0; i < f->n_ids; i++)
		free(f->ids[i]);
	free(f->ids);
	f->ids = NULL;
	f->n_ids = f->cap_ids = 0;
}

static const char *fx_keep(fx *f, char *s)
{
	ck_assert_ptr_nonnull(s);
	if (f->n_ids == f->cap_ids) {
		f->cap_ids = f->cap_ids ? f->cap_ids * 2 : 64;
		f->ids = realloc(f->ids, f->cap_ids * sizeof *f->ids);
		ck_assert_ptr_nonnull(f->ids);
	}
	f->ids[f->n_ids++] = s;
	return s;
}

const char *fx_id(fx *f, const char *fmt, ...)
{
	char tail[200];
	char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof tail, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(asprintf(&s, "%s-%s", f->prefix, tail), 0);
	return fx_keep(f, s);
}

const char *fx_kind(fx *f, const char *name)
{
	char *s;
	ck_assert_int_ge(asprintf(&s, "k%s-%s", f->prefix, name), 0);
	for (char *c = s; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return fx_keep(f, s);
}

const char *fx_product(fx *f, const char *name, int64_t price, int64_t on_hand)
{
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;

	if (!f->vendor) {
		f->vendor = (char *)fx_id(f, "vendor");
		CK_OK(kbp_vendor_put(f->p, f->vendor, "Conformance Vendor"));
	}
	spec.id = fx_id(f, "sku-%s", name);
	spec.vendor_id = f->vendor;
	spec.name = name;
	spec.price_minor = price;
	spec.on_hand = on_hand;
	CK_OK(kbp_product_put(f->p, &spec));
	return spec.id;
}

kbp_product *fx_product_get(fx *f, const char *sku)
{
	kbp_product *pr = NULL;
	CK_OK(kbp_product_get(&pr, f->p, sku));
	ck_assert_ptr_nonnull(pr);
	ck_assert_int_eq(pr->available, pr->on_hand - pr->reserved);
	return pr;
}

int64_t fx_reserved(fx *f, const char *sku)
{
	kbp_product *pr = fx_product_get(f, sku);
	int64_t r = pr->reserved;
	kbp_product_free(pr);
	return r;
}

int64_t fx_on_hand(fx *f, const char *sku)
{
	kbp_product *pr = fx_product_get(f, sku);
	int64_t r = pr->on_hand;
	kbp_product_free(pr);
	return r;
}

static size_t fx_cart_seq;

const char *fx_cart(fx *f, const char *sku, int64_t qty)
{
	size_t n = ++fx_cart_seq;
	const char *cart = fx_id(f, "cart%zu", n);
	const char *cust = fx_id(f, "cust%zu", n);
	int64_t version = 0;

	CK_OK(kbp_cart_set_item(&version, f->p, cart, cust, sku, qty));
	ck_assert_int_eq(version, 1);
	return cart;
}

const char *fx_customer_of(fx *f, const char *cart_id)
{
	/* fx_cart names the customer after the cart: "<prefix>-cartN" -> "<prefix>-custN". */
	const char *tail = strstr(cart_id, "-cart");
	ck_assert_ptr_nonnull(tail);
	return fx_id(f, "cust%s", tail + 5);
}

void fx_cart_set(fx *f, const char *cart_id, const char *sku, int64_t qty)
{
	CK_OK(kbp_cart_set_item(NULL, f->p, cart_id, fx_customer_of(f, cart_id), sku, qty));
}

kbp_intent *fx_intent(fx *f, const char *cart_id)
{
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;

	req.cart_id = cart_id;
	req.gateway = FX_GATEWAY;
	req.idempotency_key = fx_id(f, "idem%zu", f->n_ids);
	CK_OK(kbp_intent_create(&in, f->p, &req));
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(in->status, KBP_INTENT_PENDING);
	return in;
}

kbp_intent *fx_intent_get(fx *f, const char *intent_id)
{
	kbp_intent *in = NULL;
	CK_OK(kbp_intent_get(&in, f->p, intent_id));
	ck_assert_ptr_nonnull(in);
	return in;
}

kbp_intent_status fx_intent_status(fx *f, const char *intent_id)
{
	kbp_intent *in = fx_intent_get(f, intent_id);
	kbp_intent_status s = in->status;
	kbp_intent_free(in);
	return s;
}

char *fx_pay(fx *f, const char *intent_id, kbp_sandbox_answer answer, int64_t amount)
{
	char *cb = NULL;
	CK_OK(kbp_sandbox_pay(&cb, f->p, FX_GATEWAY, intent_id, answer, amount));
	ck_assert_ptr_nonnull(cb);
	ck_assert_int_eq(strncmp(cb, "data=", 5), 0);
	return cb;
}

int fx_verify(kbp_verification **out, fx *f, const char *callback)
{
	return kbp_payment_verify(out, f->p, FX_GATEWAY, callback, strlen(callback));
}

void fx_pay_ok(fx *f, const char *intent_id)
{
	char *cb = fx_pay(f, intent_id, KBP_SANDBOX_COMPLETED, -1);
	kbp_verification *v = NULL;

	CK_OK(fx_verify(&v, f, cb));
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->outcome, KBP_VERIFICATION_ACCEPTED);
	ck_assert_int_eq(v->duplicate, 0);
	ck_assert_int_eq(v->needs_refund, 0);
	ck_assert_int_eq(v->intent_status, KBP_INTENT_SUCCEEDED);
	kbp_verification_free(v);
	kbp_free(cb);
}

kbp_intent *fx_paid_intent(fx *f, const char *sku, int64_t qty)
{
	kbp_intent *in = fx_intent(f, fx_cart(f, sku, qty));
	fx_pay_ok(f, in->id);
	return in;
}

int fx_drain(fx *f)
{
	int total = 0;
	for (int round = 0; round < 200; round++) {
		int ran = -1;
		CK_OK(kbp_worker_run_once(&ran, f->p, FX_WORKER, 100));
		ck_assert_int_ge(ran, 0);
		if (ran == 0)
			return total;
		total += ran;
	}
	ck_abort_msg("the queue never emptied");
	return total;
}

kbp_order *fx_order_of(fx *f, const char *intent_id)
{
	kbp_order *o = NULL;
	int rc = kbp_order_get_by_intent(&o, f->p, intent_id);
	if (rc == KBP_ENOTFOUND) {
		ck_assert_ptr_null(o);
		return NULL;
	}
	CK_OK(rc);
	ck_assert_ptr_nonnull(o);
	return o;
}

kbp_order_status *fx_status(fx *f, const char *intent_id)
{
	kbp_order_status *st = NULL;
	CK_OK(kbp_order_status_get(&st, f->p, intent_id));
	ck_assert_ptr_nonnull(st);
	ck_assert_str_eq(st->intent_id, intent_id);
	return st;
}

char *fx_finalize_job(fx *f, const char *intent_id, size_t *count)
{
	kbp_job_filter flt = KBP_JOB_FILTER_INIT;
	char *found = NULL;
	char *cursor = NULL;
	size_t n = 0;
	char key[256];

	/* The key the library gives an intent's finalize job (kbpipeline/jobs.h). */
	snprintf(key, sizeof key, KBP_JOB_KEY_PREFIX KBP_JOB_FINALIZE_ORDER ":%s", intent_id);
	flt.kind = KBP_JOB_FINALIZE_ORDER;
	flt.since = f->start;
	flt.limit = KBP_JOB_LIST_MAX;
	for (int page = 0; page < 1000; page++) {
		kbp_job_list *l = NULL;
		flt.after = cursor;
		CK_OK(kbp_jobs_list(&l, f->p, &flt));
		ck_assert_ptr_nonnull(l);
		for (size_t i = 0; i < l->n; i++) {
			if (l->jobs[i].unique_key && strcmp(l->jobs[i].unique_key, key) == 0) {
				if (!found)
					found = strdup(l->jobs[i].id);
				n++;
			}
		}
		free(cursor);
		cursor = l->next_after ? strdup(l->next_after) : NULL;
		kbp_job_list_free(l);
		if (!cursor)
			break;
	}
	free(cursor);
	if (count)
		*count = n;
	return found;
}

kbp_job *fx_job_get(fx *f, const char *job_id)
{
	kbp_job *j = NULL;
	CK_OK(kbp_job_get(&j, f->p, job_id));
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(j->id, job_id);
	return j;
}

void fx_metrics(fx *f, kbp_metrics *m)
{
	memset(m, 0xa5, sizeof *m);
	CK_OK(kbp_metrics_get(m, f->p));
}

cJSON *fx_callback_decode(const char *callback)
{
	const char *b64;
	unsigned char *bin;
	size_t len, bin_len = 0;
	cJSON *json;

	ck_assert_int_eq(strncmp(callback, "data=", 5), 0);
	b64 = callback + 5;
	len = strlen(b64);
	bin = malloc(len + 1);
	ck_assert_ptr_nonnull(bin);
	ck_assert_int_eq(sodium_base642bin(bin, len, b64, len, NULL, &bin_len, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL), 0);
	bin[bin_len] = '\0';
	json = cJSON_Parse((const char *)bin);
	free(bin);
	ck_assert_ptr_nonnull(json);
	return json;
}

static char *fx_b64(const void *bin, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

char *fx_callback_encode(const cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);
	char *b64, *out;

	ck_assert_ptr_nonnull(text);
	b64 = fx_b64(text, strlen(text));
	ck_assert_int_ge(asprintf(&out, "data=%s", b64), 0);
	free(b64);
	cJSON_free(text);
	return out;
}

const char *fx_json_str(const cJSON *json, const char *field)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, field);
	ck_assert_msg(cJSON_IsString(item), "callback field %s missing", field);
	return item->valuestring;
}

void fx_callback_sign(cJSON *json, const char *secret, size_t secret_len)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char *names = strdup(fx_json_str(json, "signed_field_names"));
	char *save = NULL, *sig;
	int first = 1;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, secret_len);
	for (char *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const char *value = fx_json_str(json, name);
		if (!first)
			crypto_auth_hmacsha256_update(&st, (const unsigned char *)",", 1);
		first = 0;
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)name, strlen(name));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)"=", 1);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)value, strlen(value));
	}
	crypto_auth_hmacsha256_final(&st, mac);
	free(names);
	sig = fx_b64(mac, sizeof mac);
	cJSON_DeleteItemFromObjectCaseSensitive(json, "signature");
	cJSON_AddStringToObject(json, "signature", sig);
	free(sig);
}

char *fx_callback_forge(const char *txn, const char *status, const char *total_amount,
                        const char *currency, const char *gateway_ref,
                        const char *secret, size_t secret_len)
{
	cJSON *json = cJSON_CreateObject();
	char *cb;

	cJSON_AddStringToObject(json, "transaction_id", txn);
	cJSON_AddStringToObject(json, "status", status);
	cJSON_AddStringToObject(json, "total_amount", total_amount);
	cJSON_AddStringToObject(json, "currency", currency);
	cJSON_AddStringToObject(json, "gateway_ref", gateway_ref);
	cJSON_AddStringToObject(json, "signed_field_names",
	                        "transaction_id,status,total_amount,currency,gateway_ref,signed_field_names");
	fx_callback_sign(json, secret, secret_len);
	cb = fx_callback_encode(json);
	cJSON_Delete(json);
	return cb;
}

size_t fx_verification_count(fx *f, const char *intent_id)
{
	kbp_verification_list *l = NULL;
	size_t n;
	CK_OK(kbp_verification_list_get(&l, f->p, intent_id));
	ck_assert_ptr_nonnull(l);
	n = l->n;
	kbp_verification_list_free(l);
	return n;
}

fx_row fx_orphan_row(fx *f, const char *gateway_ref)
{
	kbp_verification_list *l = NULL;
	fx_row row;

	memset(&row, 0, sizeof row);
	CK_OK(kbp_verification_list_get(&l, f->p, NULL));
	ck_assert_ptr_nonnull(l);
	for (size_t i = 0; i < l->n; i++) {
		const kbp_verification *v = &l->items[i];
		if (!v->gateway_ref || strcmp(v->gateway_ref, gateway_ref) != 0)
			continue;
		row.found++;
		row.outcome = v->outcome;
		row.amount_minor = v->amount_minor;
		row.has_intent = v->intent_id != NULL;
		snprintf(row.reason, sizeof row.reason, "%s", v->reason ? v->reason : "");
	}
	kbp_verification_list_free(l);
	return row;
}

char *fx_repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

TCase *fx_tcase(const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 120);
	return tc;
}
