/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_VALIDATE_H
#define KBP_CORE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Validation at the edge: each returns 0 or sets the thread's error naming
 * `what` and returns its code, so callers write `if ((rc = …)) return rc;`.
 */
int kbp__check_id(const char *id, const char *what);
int kbp__check_optional_id(const char *id, const char *what);
int kbp__check_name(const char *name, const char *what);
int kbp__check_currency(const char *currency);
int kbp__check_qty(int64_t qty);
int kbp__check_url(const char *url, const char *what);
int kbp__check_job_kind(const char *kind);
/*
 * A JSON object that every backend stores alike: no \u0000 in a string, no
 * key twice in one object, no number beyond a double's range. NULL is
 * accepted (it means "{}").
 */
int kbp__check_json_object(const char *json, size_t max, const char *what);
int kbp__check_version(unsigned int version, unsigned int expected, const char *what);
/* For a struct whose older versions are prefixes of the newest one. */
int kbp__check_versions(unsigned int version, unsigned int oldest, unsigned int newest,
                        const char *what);
int kbp__check_range(int64_t v, int64_t lo, int64_t hi, const char *what);

#endif
