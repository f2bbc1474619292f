/* SPDX-License-Identifier: MIT */
#include "util/redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* More secrets than this in one string or message, and none of the message is shown. */
#define SPANS_MAX 16

/* How a secret is escaped where it is written: as a URI does, or as key=value pairs do. */
typedef enum escape { ESC_NONE, ESC_PERCENT, ESC_BACKSLASH } escape;

/* Byte ranges [start, end) of a text that hold a secret. */
typedef struct spans {
	size_t start[SPANS_MAX], end[SPANS_MAX];
	escape esc[SPANS_MAX];
	size_t n;
	bool overflow;
} spans;

/* The message being redacted, and what it is redacted of. */
typedef struct view {
	const char *msg;
	size_t n;
	const char *conninfo;
	const char *password;
	spans secrets;              /* of conninfo */
	spans repeated;             /* of msg: its URIs' passwords, conninfo's where msg repeats it */
} view;

/* The output, cut at len - 1 bytes, on one line. */
typedef struct sink {
	char *out;
	size_t len, n;
} sink;

static bool is_space(char c)
{
	return isspace((unsigned char)c);
}

static bool is_scheme_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

static size_t skip_space(const char *t, size_t i, size_t n)
{
	while (i < n && is_space(t[i]))
		i++;
	return i;
}

static void add(spans *s, size_t start, size_t end, escape esc)
{
	if (start >= end)
		return;
	for (size_t k = 0; k < s->n; k++)
		if (s->start[k] == start && s->end[k] == end)
			return;
	if (s->n == SPANS_MAX) {
		s->overflow = true;
		return;
	}
	s->start[s->n] = start;
	s->end[s->n] = end;
	s->esc[s->n] = esc;
	s->n++;
}

/* The end of the secrets that cover i, overlapping ones taken together; i when none does. */
static size_t covered_until(const spans *s, size_t i)
{
	size_t end = i;
	bool grew = true;

	while (grew) {
		grew = false;
		for (size_t k = 0; k < s->n; k++)
			if (s->start[k] <= end && end < s->end[k]) {
				end = s->end[k];
				grew = true;
			}
	}
	return end;
}

static int hex(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* The byte t[*i] stands for, moving *i to the last byte of its escape. */
static char unescape_at(const char *t, size_t to, size_t *i, escape esc)
{
	size_t at = *i;

	if (esc == ESC_PERCENT && t[at] == '%' && at + 2 < to && isxdigit((unsigned char)t[at + 1]) &&
	    isxdigit((unsigned char)t[at + 2])) {
		*i += 2;
		return (char)(hex(t[at + 1]) * 16 + hex(t[at + 2]));
	}
	if (esc == ESC_BACKSLASH && t[at] == '\\' && at + 1 < to)
		return t[++*i];
	return t[at];
}

/*
 * 1 when t[0, n), unescaped and in any case (libpq's are lower case), names
 * a secret: a password, or something as good as one.
 */
static bool is_secret_key(const char *t, size_t n, escape esc)
{
	static const char *const secret[] = {
		"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key",
	};
	char key[24];
	size_t len = 0;

	for (size_t i = 0; i < n; i++, len++) {
		if (len == sizeof(key))
			return false;
		key[len] = (char)tolower((unsigned char)unescape_at(t, n, &i, esc));
	}
	for (size_t k = 0; k < sizeof(secret) / sizeof(secret[0]); k++)
		if (strlen(secret[k]) == len && memcmp(secret[k], key, len) == 0)
			return true;
	return false;
}

/*
 * libpq's connection keywords. A password that is not escaped as it should
 * be runs on to the next of these: what follows it up to there may be a
 * piece of it, which libpq would take for a keyword and quote back. A
 * keyword of a later libpq is not known here, so a password before it hides
 * a little more than itself.
 */
static const char *const keywords[] = {
	"application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
	"fallback_application_name", "gssdelegation", "gssencmode", "gsslib", "host", "hostaddr",
	"keepalives", "keepalives_count", "keepalives_idle", "keepalives_interval", "krbsrvname",
	"load_balance_hosts", "max_protocol_version", "min_protocol_version", "oauth_client_id",
	"oauth_client_secret", "oauth_issuer", "oauth_scope", "options", "passfile", "password",
	"port", "replication", "require_auth", "requirepeer", "scram_client_key",
	"scram_server_key", "service", "ssl_max_protocol_version", "ssl_min_protocol_version",
	"sslcert", "sslcertmode", "sslcompression", "sslcrl", "sslcrldir", "sslkey",
	"sslkeylogfile", "sslmode", "sslnegotiation", "sslpassword", "sslrootcert", "sslsni",
	"target_session_attrs", "tcp_user_timeout", "user",
};

static bool is_keyword(const char *t, size_t n)
{
	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++)
		if (strlen(keywords[k]) == n && memcmp(keywords[k], t, n) == 0)
			return true;
	return false;
}

/* The length of "scheme://" at t, 0 when t does not start with one. */
static size_t scheme_len(const char *t, size_t n)
{
	size_t i = 0;

	while (i < n && is_scheme_char(t[i]))
		i++;
	if (i == 0 || !isalpha((unsigned char)t[0]) || n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return 0;
	return i + 3;
}

/* A query parameter runs to the next "&keyword=": a password may hold a bare '&'. */
static size_t param_end(const char *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		size_t k = i + 1;

		if (t[i] != '&')
			continue;
		while (k < to && t[k] != '=' && t[k] != '&')
			k++;
		if (k < to && t[k] == '=' && is_keyword(t + i + 1, k - i - 1))
			return i;
	}
	return to;
}

/* The password= (and other secret) values of the query after the first '?' of t[from, to). */
static void query_spans(spans *s, const char *t, size_t from, size_t to)
{
	const char *q = memchr(t + from, '?', to - from);

	for (size_t i = q ? (size_t)(q - t) + 1 : to; i < to;) {
		size_t key = i, end;

		while (i < to && t[i] != '=' && t[i] != '&')
			i++;
		if (i == to || t[i] == '&') {
			i++;
			continue;
		}
		end = param_end(t, i + 1, to);
		if (is_secret_key(t + key, i - key, ESC_PERCENT))
			add(s, i + 1, end, ESC_PERCENT);
		i = end + 1;
	}
}

/*
 * A URI's userinfo ends at its last '@', not at the first as libpq reads
 * it: an unencoded '@', '/' or '?' in a password makes libpq take the rest
 * for the host, port or database, and quote those back.
 */
static void uri_spans(spans *s, const char *t, size_t from, size_t to)
{
	size_t host = from + scheme_len(t + from, to - from), at = to;
	const char *colon = NULL;

	for (size_t i = host; i < to; i++)
		if (t[i] == '@')
			at = i;
	if (at < to && (colon = memchr(t + host, ':', at - host)) != NULL) {
		add(s, (size_t)(colon - t) + 1, at, ESC_PERCENT);
		query_spans(s, t, at, to);
	}
	query_spans(s, t, host, to);
}

/* The end of a key (at '=' or a space) or of an unquoted value (at a space; '\' escapes). */
static size_t word_end(const char *t, size_t i, size_t n, bool key)
{
	while (i < n && !is_space(t[i]) && !(key && t[i] == '=')) {
		if (!key && t[i] == '\\' && i + 1 < n)
			i++;
		i++;
	}
	return i;
}

static bool keyword_at(const char *t, size_t i, size_t n)
{
	size_t k = word_end(t, i, n, true), eq = skip_space(t, k, n);

	return eq < n && t[eq] == '=' && is_keyword(t + i, k - i);
}

/* An unquoted password runs on to the next "keyword=": a space in it is a mistake, not its end. */
static size_t loose_end(const char *t, size_t end, size_t n)
{
	for (size_t i = skip_space(t, end, n); i < n && !keyword_at(t, i, n); i = skip_space(t, end, n))
		end = word_end(t, i, n, false);
	return end;
}

/* A quoted value ends at its closing quote, or with the text when there is none. */
static size_t quoted_end(const char *t, size_t i, size_t n)
{
	while (i < n && t[i] != '\'') {
		if (t[i] == '\\' && i + 1 < n)
			i++;
		i++;
	}
	return i;
}

/* One "key = value" pair of key=value conninfo from i; returns where the next starts. */
static size_t kv_pair(spans *s, const char *t, size_t i, size_t n)
{
	size_t key = i, key_end = word_end(t, i, n, true), v, end;
	bool password = is_secret_key(t + key, key_end - key, ESC_NONE), quoted;

	i = skip_space(t, key_end, n);
	if (i == n || t[i] != '=') {
		/* libpq stops here; the words after a "password" without '=' are its value. */
		if (password)
			add(s, i, loose_end(t, i, n), ESC_BACKSLASH);
		return i;
	}
	v = skip_space(t, i + 1, n);
	quoted = v < n && t[v] == '\'';
	end = quoted ? quoted_end(t, v + 1, n) : word_end(t, v, n, false);
	v += quoted;
	if (password) {
		/* Up to the next keyword, what follows a closing quote may be the password's too. */
		size_t more = loose_end(t, end + (quoted && end < n), n);
		add(s, v, quoted && more == end + 1 ? end : more, ESC_BACKSLASH);
	}
	if (scheme_len(t + v, end - v))
		uri_spans(s, t, v, end);
	return skip_space(t, end + (quoted && end < n), n);
}

static void find_secrets(spans *s, const char *t, size_t n)
{
	if (scheme_len(t, n)) {
		uri_spans(s, t, 0, n);
		return;
	}
	for (size_t i = skip_space(t, 0, n); i < n;)
		i = kv_pair(s, t, i, n);
}

/* Where the message repeats conninfo or holds a URI, the passwords in them. */
static void find_repeated(view *v)
{
	size_t clen = v->conninfo ? strlen(v->conninfo) : 0;
	const char *p;

	for (p = clen ? strstr(v->msg, v->conninfo) : NULL; p; p = strstr(p + 1, v->conninfo))
		for (size_t k = 0; k < v->secrets.n; k++)
			add(&v->repeated, (size_t)(p - v->msg) + v->secrets.start[k],
			    (size_t)(p - v->msg) + v->secrets.end[k], v->secrets.esc[k]);
	for (p = strstr(v->msg, "://"); p; p = strstr(p + 3, "://")) {
		size_t start = (size_t)(p - v->msg), end = start + 3;

		while (start > 0 && is_scheme_char(v->msg[start - 1]))
			start--;
		while (end < v->n && !is_space(v->msg[end]) && v->msg[end] != '"' && v->msg[end] != '\'')
			end++;
		uri_spans(&v->repeated, v->msg, start, end);
	}
}

/* The length of the text at m that spells t[from, to), unescaped by esc; 0 when it does not. */
static size_t spelled(const char *m, const char *t, size_t from, size_t to, escape esc)
{
	size_t k = 0;

	for (size_t i = from; i < to; i++, k++) {
		char c = unescape_at(t, to, &i, esc);
		if (!m[k] || m[k] != c)
			return 0;
	}
	return k;
}

/*
 * libpq splits a malformed string at these bytes and may quote any part of
 * a password it split (a host list of "user" and the part after a comma, a
 * port up to a '/'). Parts shorter than PART_MIN are not looked for alone:
 * they would take letters out of words.
 */
#define PART_DELIMITERS ",:/@?&= \t\n'\""
#define PART_MIN 3

static size_t spelled_either(const char *m, const char *t, size_t from, size_t to, escape esc)
{
	size_t as_written = spelled(m, t, from, to, ESC_NONE), unescaped = spelled(m, t, from, to, esc);

	return as_written > unescaped ? as_written : unescaped;
}

/* The longest of t[from, to), and of its parts, spelled at m as written or unescaped by esc. */
static size_t secret_spelled(const char *m, const char *t, size_t from, size_t to, escape esc)
{
	size_t best = spelled_either(m, t, from, to, esc);

	for (size_t a = from, b; a < to; a = b + 1) {
		size_t len;

		for (b = a; b < to && !strchr(PART_DELIMITERS, t[b]);)
			b++;
		if (b - a >= PART_MIN && (len = spelled_either(m, t, a, b, esc)) > best)
			best = len;
	}
	return best;
}

/* The length of the longest secret spelled at msg[i], 0 when none is. */
static size_t secret_at(const view *v, size_t i)
{
	const char *m = v->msg + i;
	size_t best = v->password ? spelled(m, v->password, 0, strlen(v->password), ESC_NONE) : 0;

	for (size_t k = 0; k < v->secrets.n; k++) {
		size_t len = secret_spelled(m, v->conninfo, v->secrets.start[k], v->secrets.end[k],
		                            v->secrets.esc[k]);

		if (len > best)
			best = len;
	}
	return best;
}

static bool overlaps(const spans *s, size_t start, size_t end)
{
	for (size_t k = 0; k < s->n; k++)
		if (start < s->end[k] && s->start[k] < end)
			return true;
	return false;
}

/* How much of m spells t from p on, unescaped by esc; *used is where that ends in t. */
static size_t spelled_from(const char *m, const char *t, size_t p, size_t n, escape esc,
                           size_t *used)
{
	size_t len = 0;

	for (*used = p; *used < n && m[len]; len++) {
		size_t j = *used;

		if (m[len] != unescape_at(t, n, &j, esc))
			break;
		*used = j + 1;
	}
	return len;
}

/*
 * libpq quotes what it repeats, as written or unescaped, and leaves a quote
 * inside it as it is: the piece after the quote at msg[i] is the longest
 * text there, up to a quote, that is a piece of conninfo with some of a
 * secret in it. Returns where the piece ends, after its closing quote; 0
 * when no such piece follows.
 */
static size_t quoted_secret_end(const view *v, size_t i)
{
	const char *m = v->msg + i + 1;
	size_t clen = v->conninfo ? strlen(v->conninfo) : 0, best = 0;

	for (size_t p = 0; p < clen; p++)
		for (escape esc = ESC_NONE; esc <= ESC_BACKSLASH; esc++) {
			size_t used, len = spelled_from(m, v->conninfo, p, clen, esc, &used);

			while (len > best && m[len] != '"')
				len--;
			if (len > best && overlaps(&v->secrets, p, used))
				best = len;
		}
	/* A repeated URI or conninfo keeps what is not secret: its passwords are covered anyway. */
	if (best == 0 || overlaps(&v->repeated, i + 1, i + 1 + best))
		return 0;
	return i + 1 + best + 1;
}

static void put(sink *k, char c)
{
	if (is_space(c)) {
		if (k->n == 0 || k->out[k->n - 1] == ' ')
			return;
		c = ' ';
	}
	if (k->n + 1 < k->len)
		k->out[k->n++] = c;
}

static void put_str(sink *k, const char *s)
{
	while (*s)
		put(k, *s++);
}

/* Writes what stands at msg[i]; returns where the next thing starts. */
static size_t put_next(sink *k, const view *v, size_t i)
{
	size_t end = covered_until(&v->repeated, i);

	if (end == i)
		end = i + secret_at(v, i);
	if (end > i) {
		put_str(k, KBP_REDACTED);
		return end;
	}
	if (v->msg[i] == '"' && (end = quoted_secret_end(v, i)) != 0) {
		put_str(k, "\"" KBP_REDACTED "\"");
		return end;
	}
	put(k, v->msg[i]);
	return i + 1;
}

char *kbp_redact_message(char *out, size_t len, const char *message, const char *conninfo,
                         const char *password)
{
	sink k = { out, len, 0 };
	view v = { .msg = message ? message : "", .conninfo = conninfo, .password = password };

	if (len == 0)
		return out;
	v.n = strlen(v.msg);
	if (password && !*password)
		v.password = NULL;
	if (conninfo)
		find_secrets(&v.secrets, conninfo, strlen(conninfo));
	find_repeated(&v);
	if (v.secrets.overflow || v.repeated.overflow)
		put_str(&k, "(withheld: it may hold a password)");
	for (size_t i = 0; i < v.n && !v.secrets.overflow && !v.repeated.overflow;)
		i = put_next(&k, &v, i);
	while (k.n > 0 && out[k.n - 1] == ' ')
		k.n--;
	out[k.n] = '\0';
	return out;
}
