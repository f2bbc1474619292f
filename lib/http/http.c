/* SPDX-License-Identifier: MIT */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

#include "kbpipeline/errors.h"

void kbp_http_response_clear(kbp_http_response *response)
{
	if (!response)
		return;
	free(response->body);
	response->body = NULL;
	response->body_len = 0;
}

#ifndef KBP_HAVE_CURL
const kbp_http_transport *kbp_http_default(void)
{
	return NULL;
}
#endif

static int check_request(const kbp_http_request *req)
{
	if (req->version != KBP_HTTP_VERSION)
		return kbp_error_set(KBP_EVERSION, "kbp_http_request version %u is not supported",
		                     req->version);
	if (!req->method || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0))
		return kbp_error_set(KBP_EINVAL, "HTTP method must be GET or POST");
	if (!req->url || (strncmp(req->url, "https://", 8) != 0 && strncmp(req->url, "http://", 7) != 0))
		return kbp_error_set(KBP_EINVAL, "HTTP URL must be http:// or https://");
	if (req->n_headers && !req->headers)
		return kbp_error_set(KBP_EINVAL, "HTTP headers are missing");
	for (size_t i = 0; i < req->n_headers; i++) {
		const kbp_http_header *h = &req->headers[i];
		/* A line break in a header would let a value inject headers of its own. */
		if (!h->name || !*h->name || !h->value || strpbrk(h->name, "\r\n: ") ||
		    strpbrk(h->value, "\r\n"))
			return kbp_error_set(KBP_EINVAL, "HTTP header %zu is malformed", i);
	}
	if (req->body_len && !req->body)
		return kbp_error_set(KBP_EINVAL, "HTTP body is missing");
	if (req->connect_timeout_ms <= 0 || req->timeout_ms <= 0 || req->max_response_bytes == 0)
		return kbp_error_set(KBP_EINVAL, "HTTP timeouts and response limit must be positive");
	return 0;
}

int kbp__http_send(const kbp_http_transport *t, const kbp_http_request *req,
                   kbp_http_response *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!t || t->version != KBP_HTTP_VERSION || !t->send)
		return kbp_error_set(KBP_EVERSION, "HTTP transport is missing or of an unknown version");
	if ((rc = check_request(req)))
		return rc;
	rc = t->send(t->ctx, req, out);
	if (rc != 0) {
		kbp_http_response_clear(out);
		if (rc != KBP_ETIMEOUT && rc != KBP_ETOOBIG && rc != KBP_EGATEWAY)
			rc = kbp_error_set(KBP_EGATEWAY, "HTTP transport failed: %s",
			                   kbp_error_last()->message);
		return rc;
	}
	if (out->body_len > req->max_response_bytes) {
		kbp_http_response_clear(out);
		return kbp_error_set(KBP_ETOOBIG, "HTTP response exceeds %zu bytes",
		                     req->max_response_bytes);
	}
	if (out->status < 100 || out->status > 599) {
		kbp_http_response_clear(out);
		return kbp_error_set(KBP_EGATEWAY, "HTTP transport returned no valid status");
	}
	if (!out->body) {
		if (out->body_len || !(out->body = calloc(1, 1)))
			return out->body_len ? kbp_error_set(KBP_EGATEWAY, "HTTP transport returned no body")
			                     : kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	return 0;
}
