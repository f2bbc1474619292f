/* SPDX-License-Identifier: MIT */
#include "gw.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_saw(gw *g, const char *text)
{
	size_t n = strlen(text);

	pthread_mutex_lock(&g->lock);
	g->seen = realloc(g->seen, g->seen_len + n + 2);
	ck_assert_ptr_nonnull(g->seen);
	memcpy(g->seen + g->seen_len, text, n);
	g->seen_len += n;
	g->seen[g->seen_len++] = '\n';
	g->seen[g->seen_len] = '\0';
	pthread_mutex_unlock(&g->lock);
}

static void on_log(void *ctx, kbp_log_level level, const char *message)
{
	(void)level;
	gw_saw(ctx, message);
}

void gw_open(gw *g)
{
	kbp_options o = KBP_OPTIONS_INIT;
	kbp_esewa_options eo = KBP_ESEWA_OPTIONS_INIT;
	kbp_khalti_options ko = KBP_KHALTI_OPTIONS_INIT;
	char url[128], base[128];
	unsigned char rnd[4];

	memset(g, 0, sizeof(*g));
	ck_assert_int_ge(sodium_init(), 0);
	pthread_mutex_init(&g->lock, NULL);
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(g->vendor, sizeof(g->vendor), "v%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	ck_assert_int_eq(setenv(ESEWA_ENV, ESEWA_SECRET, 1), 0);
	ck_assert_int_eq(setenv(KHALTI_ENV, KHALTI_SECRET, 1), 0);
	g->fake = fake_start(KHALTI_SECRET);
	ck_assert_ptr_nonnull(g->fake);

	/* memory: unless tests/pg/with-pg.sh names a PostgreSQL database. */
	o.storage = getenv("KBP_TEST_STORAGE");
	o.storage_schema = getenv(GW_SCHEMA_ENV);
	o.log = on_log;
	o.log_ctx = g;
	o.log_level = KBP_LOG_DEBUG;
	CK_OK(kbp_pipeline_open(&g->p, &o));

	snprintf(url, sizeof(url), "%s/esewa/status/", fake_url(g->fake));
	eo.secret_env = ESEWA_ENV;
	eo.status_url = url;
	eo.success_url = "https://shop.example/esewa/success";
	eo.failure_url = "https://shop.example/esewa/failure";
	eo.timeout_ms = GW_TIMEOUT_MS;
	CK_OK(kbp_gateway_add_esewa(g->p, &eo));

	snprintf(base, sizeof(base), "%s/khalti/api/v2/", fake_url(g->fake));
	ko.secret_env = KHALTI_ENV;
	ko.base_url = base;
	ko.return_url = "https://shop.example/khalti/return";
	ko.timeout_ms = GW_TIMEOUT_MS;
	CK_OK(kbp_gateway_add_khalti(g->p, &ko));
	CK_OK(kbp_vendor_put(g->p, g->vendor, "Gateway Test Vendor"));
}

void gw_close(gw *g)
{
	kbp_pipeline_close(g->p);
	fake_stop(g->fake);
	free(g->seen);
	pthread_mutex_destroy(&g->lock);
}

int gw_create(kbp_intent **out, gw *g, const char *gateway, int64_t price, int64_t qty)
{
	kbp_product_spec spec = KBP_PRODUCT_SPEC_INIT;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	char cart[64], cust[64];
	int64_t version = 0;
	int n = ++g->seq, rc;

	ck_assert_int_lt(g->n_skus, 64);
	snprintf(g->skus[g->n_skus], sizeof(g->skus[0]), "%s-sku%d", g->vendor, n);
	spec.id = g->skus[g->n_skus++];
	spec.vendor_id = g->vendor;
	spec.name = "Tea";
	spec.price_minor = price;
	spec.on_hand = qty + 3;
	CK_OK(kbp_product_put(g->p, &spec));
	snprintf(cart, sizeof(cart), "%s-cart%d", g->vendor, n);
	snprintf(cust, sizeof(cust), "%s-cust%d", g->vendor, n);
	CK_OK(kbp_cart_set_item(&version, g->p, cart, cust, spec.id, qty));
	req.cart_id = cart;
	req.gateway = gateway;
	rc = kbp_intent_create(out, g->p, &req);
	if (rc != 0)
		gw_saw(g, kbp_error_last()->message);
	return rc;
}

kbp_intent *gw_intent(gw *g, const char *gateway, int64_t price, int64_t qty)
{
	kbp_intent *in = NULL;

	CK_OK(gw_create(&in, g, gateway, price, qty));
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(in->gateway_ref);
	ck_assert_ptr_nonnull(in->redirect);
	return in;
}

const char *gw_last_sku(gw *g)
{
	return g->skus[g->n_skus - 1];
}

kbp_intent_status gw_status(gw *g, const char *intent_id)
{
	kbp_intent *in = NULL;
	kbp_intent_status s;

	CK_OK(kbp_intent_get(&in, g->p, intent_id));
	s = in->status;
	kbp_intent_free(in);
	return s;
}

int64_t gw_reserved(gw *g, const char *sku)
{
	kbp_product *pr = NULL;
	int64_t r;

	CK_OK(kbp_product_get(&pr, g->p, sku));
	r = pr->reserved;
	kbp_product_free(pr);
	return r;
}

int gw_has_order(gw *g, const char *intent_id)
{
	kbp_order *o = NULL;
	int ran = 0, rc;

	CK_OK(kbp_worker_run_once(&ran, g->p, "gw-worker", 16));
	rc = kbp_order_get_by_intent(&o, g->p, intent_id);
	kbp_order_free(o);
	if (rc == 0)
		return 1;
	ck_assert_int_eq(rc, KBP_ENOTFOUND);
	return 0;
}

size_t gw_rows(gw *g, const char *intent_id)
{
	kbp_verification_list *l = NULL;
	size_t n;

	CK_OK(kbp_verification_list_get(&l, g->p, intent_id));
	n = l->n;
	kbp_verification_list_free(l);
	return n;
}

const char *gw_last_reason(gw *g, const char *intent_id)
{
	static char reason[512];
	kbp_verification_list *l = NULL;

	reason[0] = '\0';
	CK_OK(kbp_verification_list_get(&l, g->p, intent_id));
	if (l->n && l->items[l->n - 1].reason)
		snprintf(reason, sizeof(reason), "%s", l->items[l->n - 1].reason);
	kbp_verification_list_free(l);
	gw_saw(g, reason);
	return reason;
}

int gw_verify(gw *g, const char *gateway, const char *callback, size_t len, int *outcome)
{
	kbp_verification *v = NULL;
	int rc = kbp_payment_verify(&v, g->p, gateway, callback, len);

	if (rc != 0)
		gw_saw(g, kbp_error_last()->message);
	if (outcome)
		*outcome = v ? (int)v->outcome : -1;
	if (v && v->reason)
		gw_saw(g, v->reason);
	kbp_verification_free(v);
	return rc;
}

const char *gw_uuid(const kbp_intent *in)
{
	return in->gateway_ref;
}

/* A literal's signed text: a quoted string without its quotes, a number as written. */
static void literal_text(char *out, size_t size, const char *literal)
{
	size_t n = strlen(literal);

	if (n >= 2 && literal[0] == '"')
		snprintf(out, size, "%.*s", (int)(n - 2), literal + 1);
	else
		snprintf(out, size, "%s", literal);
}

char *esewa_wrap(const char *json)
{
	size_t n = strlen(json), b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(b64 + 5);

	ck_assert_ptr_nonnull(out);
	memcpy(out, "data=", 5);
	sodium_bin2base64(out + 5, b64, (const unsigned char *)json, n,
	                  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

char *esewa_callback(const cb_fields *f)
{
	const char *names = f->signed_field_names
	                            ? f->signed_field_names
	                            : "transaction_code,status,total_amount,transaction_uuid,"
	                              "product_code,signed_field_names";
	const char *secret = f->secret ? f->secret : ESEWA_SECRET;
	char message[2048] = "", amount[64], sig[64], json[4096], *p, *list, *save = NULL;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	literal_text(amount, sizeof(amount), f->total_amount);
	list = strdup(names);
	for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		const char *v = strcmp(p, "transaction_code") == 0   ? f->transaction_code
		                : strcmp(p, "status") == 0           ? f->status
		                : strcmp(p, "total_amount") == 0     ? amount
		                : strcmp(p, "transaction_uuid") == 0 ? f->transaction_uuid
		                : strcmp(p, "product_code") == 0     ? f->product_code
		                                                     : names;
		size_t used = strlen(message);
		snprintf(message + used, sizeof(message) - used, "%s%s=%s", used ? "," : "", p, v);
	}
	free(list);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)message, strlen(message));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(sig, sizeof(sig), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	snprintf(json, sizeof(json),
	         "{\"transaction_code\":\"%s\",\"status\":\"%s\",\"total_amount\":%s,"
	         "\"transaction_uuid\":\"%s\",\"product_code\":\"%s\",\"signed_field_names\":\"%s\","
	         "\"signature\":\"%s\"}",
	         f->transaction_code, f->status, f->total_amount, f->transaction_uuid,
	         f->product_code, names, sig);
	return esewa_wrap(json);
}
