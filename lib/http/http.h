/* SPDX-License-Identifier: MIT */
#ifndef KBP_HTTP_HTTP_H
#define KBP_HTTP_HTTP_H

#include "kbpipeline/sys/http.h"

/*
 * Sends through a transport and checks what came back: a well-formed
 * request in, on success a NUL-terminated body out (empty rather than NULL).
 * The error codes are those of sys/http.h.
 */
int kbp__http_send(const kbp_http_transport *t, const kbp_http_request *req,
                   kbp_http_response *out);

/* The libcurl transport's send function (lib/http/curl.c). */
int kbp__curl_send(void *ctx, const kbp_http_request *req, kbp_http_response *out);

#endif
