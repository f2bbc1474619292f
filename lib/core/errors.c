/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/pipeline_internal.h"
#include "util/strings.h"

static _Thread_local char last_message[512];
static _Thread_local kbp_error last_error = { 0, "" };

const kbp_error *kbp_error_last(void)
{
	if (!last_error.message)
		last_error.message = "";
	return &last_error;
}

void kbp_error_clear(void)
{
	last_message[0] = '\0';
	last_error.code = 0;
	last_error.message = last_message;
}

int kbp_error_set(int code, const char *fmt, ...)
{
	char message[sizeof(last_message)];
	va_list ap;
	int n;

	/* Format first: an argument may point into the previous message. */
	va_start(ap, fmt);
	n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	/* A long message is cut between characters: half of one is not UTF-8 text. */
	if (n >= (int)sizeof(message))
		message[kbp_utf8_boundary(message, sizeof(message) - 1)] = '\0';
	snprintf(last_message, sizeof(last_message), "%s", message);
	last_error.code = code;
	last_error.message = last_message;
	return code;
}

int kbp__oom(void)
{
	return kbp_error_set(KBP_ENOMEM, "out of memory");
}

const char *kbp_strerror(int code)
{
	switch (code) {
	case KBP_OK: return "success";
	case KBP_EINVAL: return "invalid argument";
	case KBP_ENOMEM: return "out of memory";
	case KBP_ENOTFOUND: return "not found";
	case KBP_ECONFLICT: return "conflicting request";
	case KBP_EOUTOFSTOCK: return "out of stock";
	case KBP_EINACTIVE: return "product is not active";
	case KBP_EEMPTY: return "cart is empty";
	case KBP_ESTATE: return "operation not allowed in the current state";
	case KBP_ESIGNATURE: return "callback authentication failed";
	case KBP_EAMOUNT: return "amount or currency mismatch";
	case KBP_ETOOBIG: return "input too large";
	case KBP_EPARSE: return "malformed input";
	case KBP_EOVERFLOW: return "arithmetic overflow";
	case KBP_ETIMEOUT: return "timed out";
	case KBP_ESTORAGE: return "storage failure";
	case KBP_EGATEWAY: return "payment gateway failure";
	case KBP_EVERSION: return "unsupported version";
	case KBP_EEXISTS: return "already exists";
	case KBP_EPENDING: return "payment not completed yet";
	case KBP_EDECLINED: return "payment declined";
	case KBP_ENOHANDLER: return "no handler for job kind";
	default: return "unknown error";
	}
}

void kbp_free(void *ptr)
{
	free(ptr);
}
