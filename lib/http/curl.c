/* SPDX-License-Identifier: MIT */
/*
 * The default transport, on libcurl. One easy handle per request: gateways
 * call from many threads, requests are rare, and a fresh handle carries no
 * state (cookies, credentials) from one merchant call to the next.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

typedef struct sink {
	char *data;
	size_t len, cap, max;
	int too_big;
} sink;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const kbp_http_transport curl_transport = { KBP_HTTP_VERSION, NULL, kbp__curl_send };

const kbp_http_transport *kbp_http_default(void)
{
	return &curl_transport;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	sink *s = userdata;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
		s->too_big = 1;
		return 0;   /* curl aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		char *grown;
		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		if (!(grown = realloc(s->data, cap)))
			return 0;
		s->data = grown;
		s->cap = cap;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

/* Header lines may hold a merchant key: they are zeroed before curl's copies are freed. */
static void headers_free(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h; h = h->next)
		if (h->data)
			sodium_memzero(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

static int headers_build(struct curl_slist **out, const kbp_http_request *req)
{
	struct curl_slist *list = NULL, *next;

	/* Small JSON bodies: waiting for "100 Continue" would only add a round trip. */
	if (!(list = curl_slist_append(NULL, "Expect:")))
		return -1;
	for (size_t i = 0; i < req->n_headers; i++) {
		const kbp_http_header *h = &req->headers[i];
		size_t n;
		char *line;
		if (!h->name || !h->value || strpbrk(h->name, "\r\n:") || strpbrk(h->value, "\r\n")) {
			headers_free(list);
			return -2;
		}
		n = strlen(h->name) + strlen(h->value) + 3;
		if (!(line = malloc(n))) {
			headers_free(list);
			return -1;
		}
		snprintf(line, n, "%s: %s", h->name, h->value);
		next = curl_slist_append(list, line);
		sodium_memzero(line, n);
		free(line);
		if (!next) {
			headers_free(list);
			return -1;
		}
		list = next;
	}
	*out = list;
	return 0;
}

static int configure(CURL *c, const kbp_http_request *req, struct curl_slist *headers, sink *s,
                     char *errbuf)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                     \
	do {                                              \
		if (rc == CURLE_OK)                       \
			rc = curl_easy_setopt(c, opt, val);\
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* A redirect would carry the Authorization header to wherever it points. */
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response_bytes);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, "libkbpipeline");
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(req->method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

static int transfer_error(CURLcode rc, const sink *s, const kbp_http_request *req,
                          const char *errbuf)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return kbp_error_set(KBP_ETIMEOUT, "HTTP %s timed out", req->method);
	if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return kbp_error_set(KBP_ETOOBIG, "HTTP response exceeds %zu bytes",
		                     req->max_response_bytes);
	return kbp_error_set(KBP_EGATEWAY, "HTTP %s failed: %s", req->method,
	                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

int kbp__curl_send(void *ctx, const kbp_http_request *req, kbp_http_response *out)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	sink s = { NULL, 0, 0, req->max_response_bytes, 0 };
	long status = 0;
	CURLcode rc;
	CURL *c;
	int hrc;

	(void)ctx;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return kbp_error_set(KBP_EGATEWAY, "libcurl could not be initialised");
	if ((hrc = headers_build(&headers, req)) != 0)
		return hrc == -2 ? kbp_error_set(KBP_EINVAL, "HTTP header is malformed")
		                 : kbp_error_set(KBP_ENOMEM, "out of memory");
	if (!(c = curl_easy_init())) {
		headers_free(headers);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	if (configure(c, req, headers, &s, errbuf) != 0) {
		curl_easy_cleanup(c);
		headers_free(headers);
		return kbp_error_set(KBP_EGATEWAY, "libcurl lacks a required option");
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	headers_free(headers);
	if (rc != CURLE_OK) {
		free(s.data);
		return transfer_error(rc, &s, req, errbuf);
	}
	if (!s.data && !(s.data = calloc(1, 1)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	out->status = (int)status;
	out->body = s.data;
	out->body_len = s.len;
	return 0;
}
