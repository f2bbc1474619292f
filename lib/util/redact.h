/* SPDX-License-Identifier: MIT */
#ifndef KBP_UTIL_REDACT_H
#define KBP_UTIL_REDACT_H

/*
 * A storage URI may carry a password, and libpq quotes back a connection
 * string it cannot parse (or a piece of it, or a value it took from it), so
 * nothing that saw the string reaches an error or a log without this.
 */

#include <stddef.h>

/* What stands for a secret taken out. */
#define KBP_REDACTED "***"

/*
 * message, written by something that was handed conninfo (a URI of any
 * scheme, or libpq's key=value pairs), made fit for an error or a log: on
 * one line (whitespace runs become one space), with *** in place of
 * - each password of conninfo: a URI's userinfo password, a password=
 *   query parameter, a password keyword's value (also inside a URI given
 *   as a value), and the values of libpq's other secrets (sslpassword,
 *   oauth_client_secret, scram_client_key, scram_server_key), as written or
 *   unescaped, wherever they appear, and so are their parts (of 3 bytes
 *   or more) between the bytes where libpq splits a malformed string;
 * - those passwords where the message repeats conninfo, and those of any
 *   other URI in the message;
 * - a quoted piece of the message taken from conninfo with some of one of
 *   them in it, up to a quote (a quote inside a password is not escaped);
 * - password itself, wherever it appears.
 * Malformed strings are read as loosely as any parser might read them:
 * rather too much taken out than too little. conninfo and password may be
 * NULL; kbp_redact_message(out, len, uri, uri, NULL) is the URI fit to
 * print. Writes at most len bytes, NUL included, and returns out.
 */
char *kbp_redact_message(char *out, size_t len, const char *message, const char *conninfo,
                         const char *password);

#endif
