/* SPDX-License-Identifier: MIT */
/*
 * The one SWIG interface of libkbpipeline (DESIGN.md §12), shared by the
 * Python module and the Node addon.
 *
 * What it does to the C API:
 *  - every `int` a function returns is a status: a negative KBP_E… code
 *    raises the language's error, built from kbp_error_last();
 *  - out-parameters are return values: a `T **out` object is converted to a
 *    native object (a kbpipeline.Record in Python) and freed at once with its
 *    kbp_…_free, so no C memory is ever owned by the language's objects;
 *    opaque handles (kbp_pipeline, kbp_worker) come back as plain pointers
 *    that the idiomatic layer closes;
 *  - option and request structs are not exposed: small kbpw_… helpers take
 *    their fields as arguments (NULL/None for "default") and fill the struct
 *    from its …_INIT, so no language object ever owns a `const char *` field;
 *  - strings are native strings (UTF-8); a required string rejects None, a
 *    NUL inside a string is refused rather than silently truncated;
 *  - the language-specific parts (object building, errors, job handlers,
 *    the GIL) are in #ifdef SWIGPYTHON blocks here, and for Node in
 *    node/runtime.swg (the same kbpb_… builder over V8) and node/async.swg
 *    (calls off the event loop, JavaScript job handlers); the converters
 *    and helpers between them are shared unchanged.
 */
%module kbpipeline

%{
#include <kbpipeline.h>
#include <stdint.h>
#include <string.h>

#include "core/fields.h"
%}

%include <stdint.i>

/* Out-parameters take no argument, except in Node (see node/runtime.swg). */
#ifdef SWIGJAVASCRIPT
#define KBP_OUT_INPUTS 1
#else
#define KBP_OUT_INPUTS 0
#endif

/* ------------------------------------------------------------------ */
/* What is not wrapped as declared                                      */
/* ------------------------------------------------------------------ */

/* Structs never cross as wrapped classes: results become native objects,
 * requests and options are the helpers' arguments. */
%rename("$ignore", %$isclass) "";
/* Memory is freed by the typemaps below, never by the caller. */
%rename("$ignore", regextarget=1, fullname=1) "^kbp_.*_free$";
%ignore kbp_free;
/* Errors surface as exceptions; a host sets them only from C. */
%ignore kbp_error_last;
%ignore kbp_error_set;
/* Take a struct (or a C callback): replaced by the kbpw_… helpers below. */
%ignore kbp_pipeline_open;
%ignore kbp_product_put;
%ignore kbp_intent_create;
%ignore kbp_verification_list_get;
%ignore kbp_gateway_add_sandbox;
%ignore kbp_gateway_add_esewa;
%ignore kbp_gateway_add_khalti;
%ignore kbp_job_enqueue;
%ignore kbp_jobs_enqueue;
%ignore kbp_job_register;
%ignore kbp_worker_start;
%ignore kbp_order_wait;
%ignore kbp_order_watch_open;
%ignore kbp_jobs_list;
%ignore kbp_health_check;

/* ------------------------------------------------------------------ */
/* Language runtime: native values, errors                              */
/* ------------------------------------------------------------------ */

#ifdef SWIGPYTHON
%header %{
/* SWIG defines the module's init function without a prototype (-Wmissing-prototypes). */
SWIGEXPORT PyObject *SWIG_init(void);
%}

%{
/*
 * The object builder the converters use. Every function returns a new
 * reference, or NULL with a Python exception set; kbpb_put and kbpb_push
 * steal the value (also on failure, and a NULL value is a failure).
 */
typedef PyObject *kbpb_val;

/* The idiomatic layer's record type (fields as attributes); plain dict before it is set. */
static PyObject *kbpy_record_type;
/* The idiomatic layer's factory: (code, message) -> an exception instance. */
static PyObject *kbpy_error_factory;

static kbpb_val kbpb_object(void)
{
	return kbpy_record_type ? PyObject_CallNoArgs(kbpy_record_type) : PyDict_New();
}

static kbpb_val kbpb_array(size_t n)
{
	return PyList_New((Py_ssize_t)n);
}

static int kbpb_put(kbpb_val obj, const char *key, kbpb_val v)
{
	int rc;

	if (!v)
		return -1;
	rc = PyDict_CheckExact(obj) ? PyDict_SetItemString(obj, key, v)
	                            : PyObject_SetAttrString(obj, key, v);
	Py_DECREF(v);
	return rc;
}

static int kbpb_push(kbpb_val arr, size_t i, kbpb_val v)
{
	if (!v)
		return -1;
	PyList_SET_ITEM(arr, (Py_ssize_t)i, v);
	return 0;
}

/* Library strings are UTF-8; a stray byte must not make a result unreadable. */
static kbpb_val kbpb_strn(const char *s, size_t n)
{
	if (!s)
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "replace");
}

static kbpb_val kbpb_str(const char *s)
{
	return kbpb_strn(s, s ? strlen(s) : 0);
}

static kbpb_val kbpb_i64(int64_t v)
{
	return PyLong_FromLongLong((long long)v);
}

static kbpb_val kbpb_bool(int v)
{
	return PyBool_FromLong(v != 0);
}

static void kbpb_drop(kbpb_val v)
{
	Py_XDECREF(v);
}

/* Raises the idiomatic layer's exception for a negative status. */
static void kbpy_raise(int code)
{
	const kbp_error *e = kbp_error_last();
	const char *msg = e->code == code && e->message && e->message[0] ? e->message
	                                                                 : kbp_strerror(code);
	PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
	PyObject *exc;

	if (!text)
		return;
	if (!kbpy_error_factory) {
		PyErr_SetObject(PyExc_RuntimeError, text);
		Py_DECREF(text);
		return;
	}
	exc = PyObject_CallFunction(kbpy_error_factory, "iO", code, text);
	Py_DECREF(text);
	if (!exc)
		return;
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
}

/*
 * A Python str as a NUL-terminated UTF-8 string that lives as long as the
 * str (the argument tuple holds it through the call, GIL released or not).
 */
static int kbpy_text_in(PyObject *o, const char **out, const char *name, int nullable)
{
	Py_ssize_t n;
	const char *s;

	if (o == Py_None && nullable) {
		*out = NULL;
		return 0;
	}
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be str%s, not %.100s", name,
		             nullable ? " or None" : "", Py_TYPE(o)->tp_name);
		return -1;
	}
	if (!(s = PyUnicode_AsUTF8AndSize(o, &n)))
		return -1;
	if (strlen(s) != (size_t)n) {
		PyErr_Format(PyExc_ValueError, "%s must not contain NUL characters", name);
		return -1;
	}
	*out = s;
	return 0;
}

/* str (as UTF-8) or any bytes-like object, with its length; view is released by freearg. */
static int kbpy_bytes_in(PyObject *o, const char **out, size_t *len, Py_buffer *view,
                         const char *name, int nullable)
{
	Py_ssize_t n;

	*out = NULL;
	*len = 0;
	if (o == Py_None && nullable)
		return 0;
	if (PyUnicode_Check(o)) {
		if (!(*out = PyUnicode_AsUTF8AndSize(o, &n)))
			return -1;
		*len = (size_t)n;
		return 0;
	}
	if (!PyObject_CheckBuffer(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be bytes or str%s, not %.100s", name,
		             nullable ? " or None" : "", Py_TYPE(o)->tp_name);
		return -1;
	}
	if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) < 0)
		return -1;
	*out = view->buf;
	*len = (size_t)view->len;
	return 0;
}
%}

%nothread kbpw_python_setup;
%inline %{
/* Called once by the idiomatic layer when it is imported. */
static void kbpw_python_setup(PyObject *record_type, PyObject *error_factory)
{
	PyObject *old_record = kbpy_record_type, *old_factory = kbpy_error_factory;

	Py_XINCREF(record_type);
	Py_XINCREF(error_factory);
	kbpy_record_type = record_type;
	kbpy_error_factory = error_factory;
	Py_XDECREF(old_record);
	Py_XDECREF(old_factory);
}
%}

/* Status: negative raises; otherwise the function's value is its out-parameters (or None). */
%typemap(out, noblock=1) int {
	if ($1 < 0) {
		kbpy_raise($1);
		SWIG_fail;
	}
	$result = SWIG_Py_Void();
}

%typemap(in, noblock=1) const char * {
	if (kbpy_text_in($input, (const char **)&$1, "$1_name", 0) < 0)
		SWIG_fail;
}
/* The UTF-8 belongs to the str: nothing to free. */
%typemap(freearg) const char * ""
%typemap(in, noblock=1) const char *NULLABLE {
	if (kbpy_text_in($input, (const char **)&$1, "$1_name", 1) < 0)
		SWIG_fail;
}
%typemap(in, noblock=1) (const char *BYTES, size_t LEN) (Py_buffer view = {0}) {
	if (kbpy_bytes_in($input, (const char **)&$1, &$2, &view, "$1_name", 0) < 0)
		SWIG_fail;
}
%typemap(in, noblock=1) (const char *BYTES_NULLABLE, size_t LEN) (Py_buffer view = {0}) {
	if (kbpy_bytes_in($input, (const char **)&$1, &$2, &view, "$1_name", 1) < 0)
		SWIG_fail;
}
%typemap(freearg, noblock=1) (const char *BYTES, size_t LEN),
                             (const char *BYTES_NULLABLE, size_t LEN) {
	if (view$argnum.obj)
		PyBuffer_Release(&view$argnum);
}

#define KBPB_APPEND(value) do { \
		PyObject *kbpb_v_ = (value); \
		if (!kbpb_v_) { \
			Py_XDECREF($result); \
			$result = NULL; \
			SWIG_fail; \
		} \
		$result = SWIG_AppendOutput($result, kbpb_v_); \
	} while (0)
#endif /* SWIGPYTHON */

#ifdef SWIGJAVASCRIPT
%include "node/runtime.swg"
#endif

/* ------------------------------------------------------------------ */
/* Converters: C results -> native objects (language-neutral)           */
/* ------------------------------------------------------------------ */

%{
#define KBPB_S(o, k, v) kbpb_put((o), (k), kbpb_str(v))
#define KBPB_I(o, k, v) kbpb_put((o), (k), kbpb_i64(v))
#define KBPB_B(o, k, v) kbpb_put((o), (k), kbpb_bool(v))
#define KBPB_C(o, k, v) kbpb_put((o), (k), kbpb_strn((v), strnlen((v), sizeof(v))))

/* An array of n elements of size bytes each, converted by fn, put into obj under key. */
typedef kbpb_val (*kbpb_elem_fn)(const void *elem);

static int kbpb_put_list(kbpb_val obj, const char *key, const void *base, size_t n, size_t size,
                         kbpb_elem_fn fn)
{
	kbpb_val a = kbpb_array(n);

	if (kbpb_put(obj, key, a))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kbpb_push(a, i, fn((const char *)base + i * size)))
			return -1;
	return 0;
}

#define KBPB_LIST(o, k, arr, n, fn) kbpb_put_list((o), (k), (arr), (n), sizeof(*(arr)), (fn))

static kbpb_val kbpb_id(const void *e)
{
	return kbpb_str(*(char *const *)e);
}

/*
 * A struct becomes a native object with one attribute per member, named as
 * the member, from its field list (core/fields.h): strings (None/null when
 * NULL), numbers, booleans, an enum as its name, a currency as its code, an
 * array as a list of objects, counts by enum as an object keyed by the enum's
 * names. kbpb_from_name converts a kbp_name, kbpb_elem_name an array's element.
 */
#define KBPB_FIELD(kind, ...) KBPB_PUT_##kind(__VA_ARGS__)
#define KBPB_PUT_STR(f) if (!rc) rc = KBPB_S(o, #f, v->f);
#define KBPB_PUT_JSON(f) KBPB_PUT_STR(f)
#define KBPB_PUT_I64(f) if (!rc) rc = KBPB_I(o, #f, v->f);
#define KBPB_PUT_INT(f) KBPB_PUT_I64(f)
#define KBPB_PUT_BOOL(f) if (!rc) rc = KBPB_B(o, #f, v->f);
#define KBPB_PUT_ENUM(f, name_fn) if (!rc) rc = KBPB_S(o, #f, name_fn(v->f));
#define KBPB_PUT_CUR(f) if (!rc) rc = KBPB_C(o, #f, v->f);
#define KBPB_PUT_COUNTS(f, n, name_fn, etype)                                   \
	if (!rc) {                                                              \
		kbpb_val counts = kbpb_object();                                \
		rc = kbpb_put(o, #f, counts);                                   \
		for (int i = 0; !rc && i < (n); i++)                            \
			rc = KBPB_I(counts, name_fn((etype)i), v->f[i]);        \
	}
#define KBPB_PUT_ARRAY(f, n, name) if (!rc) rc = KBPB_LIST(o, #f, v->f, v->n, kbpb_elem_##name);
#define KBPB_PUT_STRS(f, n) if (!rc) rc = KBPB_LIST(o, #f, v->f, v->n, kbpb_id);
#define KBPB_PUT_STRUCT(f, name) if (!rc) rc = kbpb_put(o, #f, kbpb_from_##name(&v->f));

#define KBPB_DEFINE_FROM(name)                                        \
	static kbpb_val kbpb_from_##name(const kbp_##name *v)         \
	{                                                             \
		kbpb_val o = kbpb_object();                           \
		int rc = 0;                                           \
                                                                      \
		if (!o)                                               \
			return NULL;                                  \
		KBP_FIELDS_##name(KBPB_FIELD)                         \
		if (rc) {                                             \
			kbpb_drop(o);                                 \
			return NULL;                                  \
		}                                                     \
		return o;                                             \
	}

#define KBPB_DEFINE_ELEM(name)                                        \
	static kbpb_val kbpb_elem_##name(const void *e)               \
	{                                                             \
		return kbpb_from_##name((const kbp_##name *)e);       \
	}

/* Elements before the structs that hold them; an order's lines are intent items. */
KBPB_DEFINE_FROM(vendor)
KBPB_DEFINE_FROM(product)
KBPB_DEFINE_FROM(cart_item)
KBPB_DEFINE_ELEM(cart_item)
KBPB_DEFINE_FROM(cart)
KBPB_DEFINE_FROM(intent_item)
KBPB_DEFINE_ELEM(intent_item)
KBPB_DEFINE_FROM(intent)
KBPB_DEFINE_FROM(verification)
KBPB_DEFINE_FROM(job_error)
KBPB_DEFINE_ELEM(job_error)
KBPB_DEFINE_FROM(job)
KBPB_DEFINE_ELEM(job)
KBPB_DEFINE_FROM(order)
KBPB_DEFINE_FROM(order_status)
KBPB_DEFINE_FROM(maintenance_result)
KBPB_DEFINE_FROM(metrics)
KBPB_DEFINE_FROM(doctor_check)
KBPB_DEFINE_ELEM(doctor_check)
KBPB_DEFINE_FROM(doctor_report)
KBPB_DEFINE_FROM(health_finding)
KBPB_DEFINE_ELEM(health_finding)
KBPB_DEFINE_FROM(health)

static kbpb_val kbpb_from_verification_list(const kbp_verification_list *l)
{
	kbpb_val a = kbpb_array(l->n);

	for (size_t i = 0; a && i < l->n; i++)
		if (kbpb_push(a, i, kbpb_from_verification(&l->items[i]))) {
			kbpb_drop(a);
			return NULL;
		}
	return a;
}

static kbpb_val kbpb_from_job_list(const kbp_job_list *l)
{
	kbpb_val o = kbpb_object();

	if (o && (KBPB_LIST(o, "jobs", l->jobs, l->n, kbpb_elem_job) ||
	          KBPB_S(o, "next_after", l->next_after))) {
		kbpb_drop(o);
		return NULL;
	}
	return o;
}
%}

/* ------------------------------------------------------------------ */
/* Out-parameters -> return values                                      */
/* ------------------------------------------------------------------ */

/* An owned result: converted, then freed with its kbp_…_free, on every path. */
%define KBP_OUT_OBJECT(TYPE, CONVERT, FREE)
%typemap(in, numinputs=KBP_OUT_INPUTS, noblock=1) TYPE **out (TYPE *temp = NULL) {
	$1 = &temp;
}
%typemap(argout, noblock=1) TYPE **out {
	{
		kbpb_val kbpb_o_ = CONVERT(*$1);
		FREE(*$1);
		*$1 = NULL;
		KBPB_APPEND(kbpb_o_);
	}
}
%typemap(freearg, noblock=1) TYPE **out {
	if ($1)
		FREE(*$1);
}
%enddef

KBP_OUT_OBJECT(kbp_vendor, kbpb_from_vendor, kbp_vendor_free)
KBP_OUT_OBJECT(kbp_product, kbpb_from_product, kbp_product_free)
KBP_OUT_OBJECT(kbp_cart, kbpb_from_cart, kbp_cart_free)
KBP_OUT_OBJECT(kbp_intent, kbpb_from_intent, kbp_intent_free)
KBP_OUT_OBJECT(kbp_verification, kbpb_from_verification, kbp_verification_free)
KBP_OUT_OBJECT(kbp_verification_list, kbpb_from_verification_list, kbp_verification_list_free)
KBP_OUT_OBJECT(kbp_job, kbpb_from_job, kbp_job_free)
KBP_OUT_OBJECT(kbp_job_list, kbpb_from_job_list, kbp_job_list_free)
KBP_OUT_OBJECT(kbp_order_status, kbpb_from_order_status, kbp_order_status_free)
KBP_OUT_OBJECT(kbp_order, kbpb_from_order, kbp_order_free)
KBP_OUT_OBJECT(kbp_doctor_report, kbpb_from_doctor_report, kbp_doctor_report_free)
KBP_OUT_OBJECT(kbp_health, kbpb_from_health, kbp_health_free)

/* Strings the library allocates (kbp_free). */
%typemap(in, numinputs=KBP_OUT_INPUTS, noblock=1) char **out (char *temp = NULL),
                                     char **out_id (char *temp = NULL),
                                     char **out_callback (char *temp = NULL) {
	$1 = &temp;
}
%typemap(argout, noblock=1) char **out, char **out_id, char **out_callback {
	{
		kbpb_val kbpb_o_ = kbpb_str(*$1);
		kbp_free(*$1);
		*$1 = NULL;
		KBPB_APPEND(kbpb_o_);
	}
}
%typemap(freearg, noblock=1) char **out, char **out_id, char **out_callback {
	if ($1)
		kbp_free(*$1);
}

/* Structs filled in place. */
%define KBP_OUT_VALUE(TYPE, CONVERT)
%typemap(in, numinputs=KBP_OUT_INPUTS, noblock=1) TYPE *out (TYPE temp) {
	memset(&temp, 0, sizeof(temp));
	$1 = &temp;
}
%typemap(argout, noblock=1) TYPE *out {
	KBPB_APPEND(CONVERT($1));
}
%enddef

KBP_OUT_VALUE(kbp_maintenance_result, kbpb_from_maintenance_result)
KBP_OUT_VALUE(kbp_metrics, kbpb_from_metrics)

/* Numbers. */
%typemap(in, numinputs=KBP_OUT_INPUTS, noblock=1) int *out_ran (int temp = 0), int *out_version (int temp = 0),
                                     int *out_exists (int temp = 0) {
	$1 = &temp;
}
%typemap(argout, noblock=1) int *out_ran, int *out_version {
	KBPB_APPEND(kbpb_i64(*$1));
}
%typemap(argout, noblock=1) int *out_exists {
	KBPB_APPEND(kbpb_bool(*$1));
}
%typemap(in, numinputs=KBP_OUT_INPUTS, noblock=1) int64_t *out_version (int64_t temp = 0),
                                     int64_t *out_count (int64_t temp = 0) {
	$1 = &temp;
}
%typemap(argout, noblock=1) int64_t *out_version, int64_t *out_count {
	KBPB_APPEND(kbpb_i64(*$1));
}

/* Opaque handles: plain pointers, closed by the idiomatic layer. */
%typemap(in, numinputs=KBP_OUT_INPUTS, noblock=1) kbp_pipeline **out (kbp_pipeline *temp = NULL),
                                     kbp_worker **out (kbp_worker *temp = NULL) {
	$1 = &temp;
}
%typemap(argout, noblock=1) kbp_pipeline **out, kbp_worker **out {
	KBPB_APPEND(SWIG_NewPointerObj(*$1, $*1_descriptor, 0));
}
%typemap(check, noblock=1) kbp_pipeline *p {
	if (!$1)
		SWIG_exception_fail(SWIG_ValueError, "the pipeline is closed");
}
%typemap(check, noblock=1) kbp_worker *worker {
	if (!$1)
		SWIG_exception_fail(SWIG_ValueError, "the worker is stopped");
}

/* Strings that may be None/NULL ("the default"); every other string is required. */
%apply const char *NULLABLE {
	const char *storage, const char *storage_schema, const char *schema,
	const char *currency, const char *idempotency_key, const char *success_url,
	const char *failure_url, const char *intent_filter, const char *gateway_name,
	const char *base_url, const char *product_code, const char *secret_env,
	const char *secret_file, const char *form_url, const char *status_url,
	const char *return_url, const char *website_url, const char *purchase_order_name,
	const char *unique_key, const char *worker_name, const char *kind_filter,
	const char *after
};
%apply (const char *BYTES, size_t LEN) { (const char *callback, size_t len) };
%apply (const char *BYTES_NULLABLE, size_t LEN) { (const char *secret, size_t secret_len) };

/* ------------------------------------------------------------------ */
/* The C API                                                            */
/* ------------------------------------------------------------------ */

%include "kbpipeline/errors.h"
%include "kbpipeline/pipeline.h"
%include "kbpipeline/catalog.h"
%include "kbpipeline/cart.h"
%include "kbpipeline/intent.h"
%include "kbpipeline/verify.h"
%include "kbpipeline/gateways.h"
%include "kbpipeline/jobs.h"
%include "kbpipeline/orders.h"
%include "kbpipeline/ops.h"

/*
 * Flat replacements for the functions that take a request or options
 * struct: each fills the struct from its …_INIT and calls the library,
 * which validates every field. NULL strings and 0 numbers select the
 * library's defaults, as in C.
 */
%{
/*
 * hooks: the options only C code can fill (the clock and log callbacks,
 * which a language binding supplies), or NULL for none.
 */
static int kbpw_pipeline_open_with(kbp_pipeline **out, const kbp_options *hooks,
                                   const char *storage, int64_t intent_ttl_ms,
                                   int64_t job_lease_ms, int max_attempts,
                                   int64_t backoff_unit_ms, int64_t backoff_max_ms,
                                   int backoff_jitter_pct, int64_t job_retention_ms,
                                   const char *storage_schema, int storage_pool_size,
                                   int64_t reconcile_after_ms)
{
	kbp_options o = KBP_OPTIONS_INIT;

	if (hooks)
		o = *hooks;
	o.storage = storage;
	o.intent_ttl_ms = intent_ttl_ms;
	o.job_lease_ms = job_lease_ms;
	o.max_attempts = max_attempts;
	o.backoff_unit_ms = backoff_unit_ms;
	o.backoff_max_ms = backoff_max_ms;
	o.backoff_jitter_pct = backoff_jitter_pct;
	o.job_retention_ms = job_retention_ms;
	o.storage_schema = storage_schema;
	o.storage_pool_size = storage_pool_size;
	o.reconcile_after_ms = reconcile_after_ms;
	return kbp_pipeline_open(out, &o);
}
%}

%inline %{
static int kbpw_pipeline_open(kbp_pipeline **out, const char *storage, int64_t intent_ttl_ms,
                              int64_t job_lease_ms, int max_attempts, int64_t backoff_unit_ms,
                              int64_t backoff_max_ms, int backoff_jitter_pct,
                              int64_t job_retention_ms, const char *storage_schema,
                              int storage_pool_size, int64_t reconcile_after_ms)
{
	return kbpw_pipeline_open_with(out, NULL, storage, intent_ttl_ms, job_lease_ms,
	                               max_attempts, backoff_unit_ms, backoff_max_ms,
	                               backoff_jitter_pct, job_retention_ms, storage_schema,
	                               storage_pool_size, reconcile_after_ms);
}

static int kbpw_product_put(kbp_pipeline *p, const char *id, const char *vendor_id,
                            const char *name, int64_t price_minor, const char *currency,
                            int64_t on_hand, int active)
{
	kbp_product_spec s = KBP_PRODUCT_SPEC_INIT;

	s.id = id;
	s.vendor_id = vendor_id;
	s.name = name;
	s.price_minor = price_minor;
	s.currency = currency;
	s.on_hand = on_hand;
	s.active = active;
	return kbp_product_put(p, &s);
}

static int kbpw_intent_create(kbp_intent **out, kbp_pipeline *p, const char *cart_id,
                              const char *gateway, const char *idempotency_key,
                              const char *success_url, const char *failure_url)
{
	kbp_intent_request r = KBP_INTENT_REQUEST_INIT;

	r.cart_id = cart_id;
	r.gateway = gateway;
	r.idempotency_key = idempotency_key;
	r.success_url = success_url;
	r.failure_url = failure_url;
	return kbp_intent_create(out, p, &r);
}

/* intent_filter NULL: the rows that matched no intent. */
static int kbpw_verification_list_get(kbp_verification_list **out, kbp_pipeline *p,
                                      const char *intent_filter)
{
	return kbp_verification_list_get(out, p, intent_filter);
}

/* The secret comes last: SWIG 4.1's Node wrappers misnumber arguments after a (data, length) pair. */
static int kbpw_gateway_add_sandbox(kbp_pipeline *p, const char *gateway_name,
                                    const char *base_url, int64_t lookup_delay_ms,
                                    const char *secret, size_t secret_len)
{
	kbp_sandbox_options o = KBP_SANDBOX_OPTIONS_INIT;

	o.name = gateway_name;
	o.base_url = base_url;
	o.secret = secret;
	o.secret_len = secret_len;
	o.lookup_delay_ms = lookup_delay_ms;
	return kbp_gateway_add_sandbox(p, &o);
}

%}

/* transport NULL: the library's own (libcurl); a binding passes its language's. */
%{
static int kbpw_gateway_add_esewa_with(kbp_pipeline *p, const struct kbp_http_transport *transport,
                                       const char *gateway_name, const char *product_code,
                                       const char *secret_env, const char *secret_file,
                                       int production, const char *form_url,
                                       const char *status_url, const char *success_url,
                                       const char *failure_url, int64_t timeout_ms)
{
	kbp_esewa_options o = KBP_ESEWA_OPTIONS_INIT;

	o.name = gateway_name;
	o.product_code = product_code;
	o.secret_env = secret_env;
	o.secret_file = secret_file;
	o.production = production;
	o.form_url = form_url;
	o.status_url = status_url;
	o.success_url = success_url;
	o.failure_url = failure_url;
	o.timeout_ms = timeout_ms;
	o.transport = transport;
	return kbp_gateway_add_esewa(p, &o);
}

static int kbpw_gateway_add_khalti_with(kbp_pipeline *p, const struct kbp_http_transport *transport,
                                        const char *gateway_name, const char *secret_env,
                                        const char *secret_file, int production,
                                        const char *base_url, const char *return_url,
                                        const char *website_url,
                                        const char *purchase_order_name, int64_t timeout_ms)
{
	kbp_khalti_options o = KBP_KHALTI_OPTIONS_INIT;

	o.name = gateway_name;
	o.secret_env = secret_env;
	o.secret_file = secret_file;
	o.production = production;
	o.base_url = base_url;
	o.return_url = return_url;
	o.website_url = website_url;
	o.purchase_order_name = purchase_order_name;
	o.timeout_ms = timeout_ms;
	o.transport = transport;
	return kbp_gateway_add_khalti(p, &o);
}
%}

%inline %{
static int kbpw_gateway_add_esewa(kbp_pipeline *p, const char *gateway_name,
                                  const char *product_code, const char *secret_env,
                                  const char *secret_file, int production, const char *form_url,
                                  const char *status_url, const char *success_url,
                                  const char *failure_url, int64_t timeout_ms)
{
	return kbpw_gateway_add_esewa_with(p, NULL, gateway_name, product_code, secret_env,
	                                   secret_file, production, form_url, status_url,
	                                   success_url, failure_url, timeout_ms);
}

static int kbpw_gateway_add_khalti(kbp_pipeline *p, const char *gateway_name,
                                   const char *secret_env, const char *secret_file,
                                   int production, const char *base_url, const char *return_url,
                                   const char *website_url, const char *purchase_order_name,
                                   int64_t timeout_ms)
{
	return kbpw_gateway_add_khalti_with(p, NULL, gateway_name, secret_env, secret_file,
	                                    production, base_url, return_url, website_url,
	                                    purchase_order_name, timeout_ms);
}

/*
 * A unique key held by a live job is not an error to the caller's code
 * path in C either: it returns that job's id, so out_exists says which.
 */
static int kbpw_job_enqueue(char **out_id, int *out_exists, kbp_pipeline *p, const char *kind,
                            const char *payload_json, const char *unique_key, int priority,
                            int64_t run_at, int max_attempts)
{
	kbp_enqueue_options o = KBP_ENQUEUE_OPTIONS_INIT;
	int rc;

	o.unique_key = unique_key;
	o.priority = priority;
	o.run_at = run_at;
	o.max_attempts = max_attempts;
	rc = kbp_job_enqueue(out_id, p, kind, payload_json, &o);
	*out_exists = rc == KBP_EEXISTS && *out_id;
	return *out_exists ? 0 : rc;
}

static int kbpw_worker_start(kbp_worker **out, kbp_pipeline *p, int threads,
                             const char *worker_name, int batch, int64_t poll_ms)
{
	kbp_worker_options o = KBP_WORKER_OPTIONS_INIT;

	o.threads = threads;
	o.name = worker_name;
	o.batch = batch;
	o.poll_ms = poll_ms;
	return kbp_worker_start(out, p, &o);
}

/* A timeout still delivers the latest status: the caller sees a stage that is not final. */
static int kbpw_order_wait(kbp_order_status **out, kbp_pipeline *p, const char *intent_id,
                           int64_t timeout_ms)
{
	int rc = kbp_order_wait(out, p, intent_id, timeout_ms);

	return rc == KBP_ETIMEOUT && *out ? 0 : rc;
}

static int kbpw_jobs_list(kbp_job_list **out, kbp_pipeline *p, int state,
                          const char *kind_filter, int64_t since, int64_t limit,
                          const char *after)
{
	kbp_job_filter f = KBP_JOB_FILTER_INIT;

	if (limit < 0)
		return kbp_error_set(KBP_EINVAL, "limit must be 0 ..= %d", KBP_JOB_LIST_MAX);
	f.state = state;
	f.kind = kind_filter;
	f.since = since;
	f.limit = (size_t)limit;
	f.after = after;
	return kbp_jobs_list(out, p, &f);
}

/* A negative threshold keeps that threshold's default. */
static int kbpw_health_check(kbp_health **out, kbp_pipeline *p, int64_t stuck_critical,
                             int64_t failed_hour_warning, int64_t finalize_p95_warning_ms,
                             int64_t paid_without_order_critical_ms)
{
	kbp_health_thresholds t = KBP_HEALTH_THRESHOLDS_INIT;

	if (stuck_critical >= 0)
		t.stuck_critical = stuck_critical;
	if (failed_hour_warning >= 0)
		t.failed_hour_warning = failed_hour_warning;
	if (finalize_p95_warning_ms >= 0)
		t.finalize_p95_warning_ms = finalize_p95_warning_ms;
	if (paid_without_order_critical_ms >= 0)
		t.paid_without_order_critical_ms = paid_without_order_critical_ms;
	return kbp_health_check(out, p, &t);
}
%}

%include "jobs_batch.i"

/* ------------------------------------------------------------------ */
/* Job handlers written in the host language                            */
/* ------------------------------------------------------------------ */

#ifdef SWIGPYTHON
%{
/*
 * A callback's exception as the library's error: its code if it is a
 * kbpipeline.Error, else fallback, with "Type: message" as the message (a
 * job handler's is recorded in the job's history), or what when that cannot
 * be formatted. Called with the GIL held and an exception set; clears it.
 */
static int kbpy_raised(int fallback, const char *what)
{
	PyObject *value, *text = NULL, *code_obj;
	const char *msg = NULL;
	long code = fallback;
	int rc;

#if PY_VERSION_HEX >= 0x030C0000
	value = PyErr_GetRaisedException();
#else
	{
		PyObject *type, *tb;

		PyErr_Fetch(&type, &value, &tb);
		PyErr_NormalizeException(&type, &value, &tb);
		Py_XDECREF(type);
		Py_XDECREF(tb);
	}
#endif
	if (value && (code_obj = PyObject_GetAttrString(value, "code"))) {
		if (PyLong_Check(code_obj)) {
			long c = PyLong_AsLong(code_obj);
			if (c < 0 && c >= KBP_ENOHANDLER)
				code = c;
		}
		Py_DECREF(code_obj);
	}
	PyErr_Clear();
	if (value)
		text = PyUnicode_FromFormat("%s: %S", Py_TYPE(value)->tp_name, value);
	if (text)
		msg = PyUnicode_AsUTF8(text);
	PyErr_Clear();
	rc = kbp_error_set((int)code, "%s", msg ? msg : what);
	Py_XDECREF(text);
	Py_XDECREF(value);
	return rc;
}

/* Runs on any thread the library runs jobs on: the worker's, or run_once's caller's. */
static int kbpy_job_trampoline(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *arg = kbpb_from_job(job), *res = NULL;
	int rc = 0;

	(void)p;
	if (arg)
		res = PyObject_CallOneArg((PyObject *)ctx, arg);
	Py_XDECREF(arg);
	if (res)
		Py_DECREF(res);
	else
		rc = kbpy_raised(KBP_ESTATE, "the Python job handler raised");
	PyGILState_Release(gil);
	return rc;
}
%}

%typemap(check, noblock=1) PyObject *handler {
	if (!PyCallable_Check($1))
		SWIG_exception_fail(SWIG_TypeError, "handler must be callable");
}

%inline %{
/*
 * The handler is borrowed: the caller keeps it alive as long as the
 * pipeline (the idiomatic Pipeline holds it until it has closed).
 */
static int kbpw_job_register(kbp_pipeline *p, const char *kind, PyObject *handler)
{
	return kbp_job_register(p, kind, kbpy_job_trampoline, handler);
}
%}

/* ------------------------------------------------------------------ */
/* Clocks, logs and HTTP transports written in the host language        */
/* ------------------------------------------------------------------ */

/*
 * The library calls these on any of its threads (the caller's, workers',
 * the lease renewer's): each takes the GIL for the Python call only, and
 * every wrapped call releases it, so no thread holds the GIL while it waits
 * for the library.
 */
%{
#include <kbpipeline/sys/http.h>
#include <time.h>

#define KBPY_HOOKS_CAPSULE "kbpipeline.hooks"

/* A pipeline's clock and log callables, in a capsule the Pipeline keeps until it has closed. */
typedef struct kbpy_hooks {
	PyObject *clock;            /* may be NULL */
	PyObject *log;              /* may be NULL */
	int log_level;
	int64_t last;               /* the clock's last good answer, 0: none; read under the GIL */
} kbpy_hooks;

/*
 * The hooks whose clock (log) callback this thread runs, if any: a library
 * call made from inside one must not run one again, of any pipeline, so that
 * no chain of callbacks can recurse; and the Pipeline refuses to close from
 * inside its own (kbpw_python_hooks_running).
 */
static _Thread_local const kbpy_hooks *kbpy_clock_running, *kbpy_log_running;

/* The thread's last error, kept across a callback that may call the library or fail itself. */
typedef struct kbpy_saved_error {
	int code;
	char message[512];
} kbpy_saved_error;

static void kbpy_error_save(kbpy_saved_error *s)
{
	const kbp_error *e = kbp_error_last();

	s->code = e->code;
	snprintf(s->message, sizeof(s->message), "%s", e->message ? e->message : "");
}

static void kbpy_error_restore(const kbpy_saved_error *s)
{
	if (s->code)
		kbp_error_set(s->code, "%s", s->message);
	else
		kbp_error_clear();
}

/* A raising log callback is ignored: logging must never change what the library does. */
static void kbpy_log(void *ctx, kbp_log_level level, const char *message)
{
	kbpy_hooks *h = (kbpy_hooks *)ctx;
	PyGILState_STATE gil = PyGILState_Ensure();
	kbpy_saved_error saved;

	/* What the callback itself causes to be logged is dropped, never delivered recursively. */
	if (!kbpy_log_running) {
		kbpy_log_running = h;
		kbpy_error_save(&saved);
		Py_XDECREF(PyObject_CallFunction(h->log, "iN", (int)level, kbpb_str(message)));
		PyErr_Clear();
		kbpy_error_restore(&saved);
		kbpy_log_running = NULL;
	}
	PyGILState_Release(gil);
}

static int64_t kbpy_system_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* An answer of the clock: int milliseconds, not before the epoch; else an exception is set. */
static int kbpy_clock_value(PyObject *res, int64_t *out)
{
	long long v;

	if (!PyLong_Check(res) || PyBool_Check(res)) {
		PyErr_Format(PyExc_TypeError, "the clock must return int milliseconds, not %.100s",
		             Py_TYPE(res)->tp_name);
		return -1;
	}
	v = PyLong_AsLongLong(res);
	if (v == -1 && PyErr_Occurred())
		return -1;
	if (v < 0) {
		PyErr_Format(PyExc_ValueError, "the clock returned %lld, a time before the epoch", v);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * The clock raised, answered badly or called back into its pipeline: the
 * pipeline keeps the clock's last answer (the system clock's time until
 * there is one), so that time never jumps to another clock's and no expiry,
 * backoff or lease passes by mistake. Reported to the log callback, or else
 * to sys.unraisablehook. Called with an exception set; clears it.
 */
static int64_t kbpy_clock_failed(kbpy_hooks *h)
{
	char text[sizeof(((kbpy_saved_error *)0)->message) + 64];

	if (!h->log) {
		PyErr_WriteUnraisable(h->clock);
	} else {
		kbpy_raised(KBP_ESTATE, "the clock failed");
		snprintf(text, sizeof(text), "the Python clock failed, the pipeline keeps its last "
		         "time: %s", kbp_error_last()->message);
		kbpy_log(h, KBP_LOG_ERROR, text);
	}
	return h->last ? h->last : kbpy_system_ms();
}

static int64_t kbpy_clock(void *ctx)
{
	kbpy_hooks *h = (kbpy_hooks *)ctx;
	PyGILState_STATE gil = PyGILState_Ensure();
	kbpy_saved_error saved;
	PyObject *res = NULL;
	int64_t now;

	kbpy_error_save(&saved);
	if (kbpy_clock_running) {
		PyErr_SetString(PyExc_RuntimeError, "the clock was called from inside a clock callback");
	} else {
		kbpy_clock_running = h;
		res = PyObject_CallNoArgs(h->clock);
		kbpy_clock_running = NULL;
	}
	if (res && kbpy_clock_value(res, &now) == 0)
		h->last = now;
	else
		now = kbpy_clock_failed(h);
	Py_XDECREF(res);
	kbpy_error_restore(&saved);
	PyGILState_Release(gil);
	return now;
}

static void kbpy_hooks_free(PyObject *capsule)
{
	kbpy_hooks *h = (kbpy_hooks *)PyCapsule_GetPointer(capsule, KBPY_HOOKS_CAPSULE);

	if (!h) {
		PyErr_Clear();
		return;
	}
	Py_XDECREF(h->clock);
	Py_XDECREF(h->log);
	PyMem_Free(h);
}

/* None, or a capsule of kbpw_python_hooks: the options' callbacks, in temp. */
static int kbpy_hooks_in(PyObject *o, kbp_options *temp, const kbp_options **out)
{
	const kbp_options init = KBP_OPTIONS_INIT;
	kbpy_hooks *h;

	*out = NULL;
	if (o == Py_None)
		return 0;
	if (!(h = (kbpy_hooks *)PyCapsule_GetPointer(o, KBPY_HOOKS_CAPSULE)))
		return -1;
	*temp = init;
	temp->clock = h->clock ? kbpy_clock : NULL;
	temp->clock_ctx = h;
	temp->log = h->log ? kbpy_log : NULL;
	temp->log_ctx = h;
	temp->log_level = (kbp_log_level)h->log_level;
	*out = temp;
	return 0;
}

/* The request as the idiomatic layer's transport adapter takes it. */
static PyObject *kbpy_http_args(const kbp_http_request *req)
{
	PyObject *headers = PyList_New((Py_ssize_t)req->n_headers);

	for (size_t i = 0; headers && i < req->n_headers; i++) {
		PyObject *h = Py_BuildValue("(NN)", kbpb_str(req->headers[i].name),
		                            kbpb_str(req->headers[i].value));
		if (!h) {
			Py_CLEAR(headers);
			break;
		}
		PyList_SET_ITEM(headers, (Py_ssize_t)i, h);
	}
	if (!headers)
		return NULL;
	return Py_BuildValue("(NNNy#LLn)", kbpb_str(req->method), kbpb_str(req->url), headers,
	                     req->body ? req->body : "", (Py_ssize_t)req->body_len,
	                     (long long)req->connect_timeout_ms, (long long)req->timeout_ms,
	                     (Py_ssize_t)req->max_response_bytes);
}

/* The adapter's answer, (status, body bytes), as the library's response. */
static int kbpy_http_response(PyObject *res, const kbp_http_request *req, kbp_http_response *out)
{
	PyObject *status, *body;
	char *bytes;
	Py_ssize_t len;
	long code;

	if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2 ||
	    !PyLong_Check(status = PyTuple_GET_ITEM(res, 0)) ||
	    !PyBytes_Check(body = PyTuple_GET_ITEM(res, 1)))
		return kbp_error_set(KBP_EGATEWAY, "the Python HTTP transport answered no (status, body)");
	code = PyLong_AsLong(status);
	PyErr_Clear();
	PyBytes_AsStringAndSize(body, &bytes, &len);
	if ((size_t)len > req->max_response_bytes)
		return kbp_error_set(KBP_ETOOBIG, "HTTP response exceeds %zu bytes",
		                     req->max_response_bytes);
	if (!(out->body = malloc((size_t)len + 1)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	memcpy(out->body, bytes, (size_t)len);
	out->body[len] = '\0';
	out->body_len = (size_t)len;
	/* Out of range becomes 0, which the library refuses as no valid status. */
	out->status = code >= 100 && code <= 599 ? (int)code : 0;
	return 0;
}

/* An exception is a response that never arrived: KBP_EGATEWAY, unless it is a kbpipeline.Error. */
static int kbpy_http_send(void *ctx, const kbp_http_request *req, kbp_http_response *out)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *args = kbpy_http_args(req), *res = NULL;
	int rc;

	if (args)
		res = PyObject_Call((PyObject *)ctx, args, NULL);
	Py_XDECREF(args);
	rc = res ? kbpy_http_response(res, req, out)
	         : kbpy_raised(KBP_EGATEWAY, "the Python HTTP transport raised");
	Py_XDECREF(res);
	PyGILState_Release(gil);
	return rc;
}

/* None (libcurl's), or the adapter as a transport in temp; the caller keeps the adapter alive. */
static int kbpy_transport_in(PyObject *o, kbp_http_transport *temp, const kbp_http_transport **out)
{
	*out = NULL;
	if (o == Py_None)
		return 0;
	if (!PyCallable_Check(o)) {
		PyErr_Format(PyExc_TypeError, "transport must be callable or None, not %.100s",
		             Py_TYPE(o)->tp_name);
		return -1;
	}
	temp->version = KBP_HTTP_VERSION;
	temp->ctx = o;
	temp->send = kbpy_http_send;
	*out = temp;
	return 0;
}
%}

%typemap(in, noblock=1) const kbp_options *hooks (kbp_options temp) {
	if (kbpy_hooks_in($input, &temp, (const kbp_options **)&$1) < 0)
		SWIG_fail;
}
%typemap(in, noblock=1) const kbp_http_transport *transport (kbp_http_transport temp) {
	if (kbpy_transport_in($input, &temp, (const kbp_http_transport **)&$1) < 0)
		SWIG_fail;
}

%nothread kbpw_python_hooks;
%nothread kbpw_python_hooks_running;
%inline %{
/*
 * clock and log: callables or None. first: the clock's first answer, which
 * the caller has checked. The capsule owns both callables.
 */
static PyObject *kbpw_python_hooks(PyObject *clock, int64_t first, PyObject *log, int log_level)
{
	kbpy_hooks *h;
	PyObject *capsule;

	if (!(h = (kbpy_hooks *)PyMem_Calloc(1, sizeof(*h))))
		return PyErr_NoMemory();
	h->clock = clock == Py_None ? NULL : clock;
	h->log = log == Py_None ? NULL : log;
	h->log_level = log_level;
	h->last = first;
	Py_XINCREF(h->clock);
	Py_XINCREF(h->log);
	if (!(capsule = PyCapsule_New(h, KBPY_HOOKS_CAPSULE, kbpy_hooks_free))) {
		Py_XDECREF(h->clock);
		Py_XDECREF(h->log);
		PyMem_Free(h);
	}
	return capsule;
}

/* Whether this thread is inside the clock or log callback of these hooks. */
static PyObject *kbpw_python_hooks_running(PyObject *capsule)
{
	const kbpy_hooks *h = (const kbpy_hooks *)PyCapsule_GetPointer(capsule, KBPY_HOOKS_CAPSULE);

	if (!h)
		return NULL;
	return PyBool_FromLong(kbpy_clock_running == h || kbpy_log_running == h);
}
%}

/* The shared helpers with what only C fills: kbpw_python_hooks' capsule, a transport callable. */
int kbpw_pipeline_open_with(kbp_pipeline **out, const kbp_options *hooks, const char *storage,
                            int64_t intent_ttl_ms, int64_t job_lease_ms, int max_attempts,
                            int64_t backoff_unit_ms, int64_t backoff_max_ms,
                            int backoff_jitter_pct, int64_t job_retention_ms,
                            const char *storage_schema, int storage_pool_size,
                            int64_t reconcile_after_ms);
int kbpw_gateway_add_esewa_with(kbp_pipeline *p, const kbp_http_transport *transport,
                                const char *gateway_name, const char *product_code,
                                const char *secret_env, const char *secret_file, int production,
                                const char *form_url, const char *status_url,
                                const char *success_url, const char *failure_url,
                                int64_t timeout_ms);
int kbpw_gateway_add_khalti_with(kbp_pipeline *p, const kbp_http_transport *transport,
                                 const char *gateway_name, const char *secret_env,
                                 const char *secret_file, int production, const char *base_url,
                                 const char *return_url, const char *website_url,
                                 const char *purchase_order_name, int64_t timeout_ms);
#endif /* SWIGPYTHON */

#ifdef SWIGJAVASCRIPT
%include "node/async.swg"
#endif
