/* SPDX-License-Identifier: MIT */
/*
 * kbp_jobs_enqueue(3) in both languages, included by kbpipeline.i after its
 * converters. A batch crosses as a list of entries
 * [kind, payload_json, unique_key, priority, run_at, max_attempts], one per
 * job (null/None and 0 select the library's defaults, as in C), which the
 * idiomatic layers build from their own dicts or objects; the answer is
 * { ids, created }. The library validates every job before it writes one.
 */

%{
/* kbp_jobs_enqueue's answer: ids[i] is job i's (or its key's holder's), created the new ones. */
typedef struct kbpw_batch {
	char **ids;
	size_t n;
	size_t created;
} kbpw_batch;

/* The fields of an entry, in their order. */
enum { KBPW_SPEC_KIND, KBPW_SPEC_PAYLOAD, KBPW_SPEC_UNIQUE_KEY, KBPW_SPEC_PRIORITY,
       KBPW_SPEC_RUN_AT, KBPW_SPEC_MAX_ATTEMPTS, KBPW_SPEC_FIELDS };

static const kbp_job_spec kbpw_spec_init = KBP_JOB_SPEC_INIT;

static void kbpw_batch_free(kbpw_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		kbp_free(b->ids[i]);
	kbp_free(b->ids);
	free(b);
}

static kbpb_val kbpb_from_batch(const kbpw_batch *b)
{
	kbpb_val o = kbpb_object();

	if (o && (KBPB_LIST(o, "ids", b->ids, b->n, kbpb_id) ||
	          KBPB_I(o, "created", (int64_t)b->created))) {
		kbpb_drop(o);
		return NULL;
	}
	return o;
}

%}

KBP_OUT_OBJECT(kbpw_batch, kbpb_from_batch, kbpw_batch_free)

#ifdef SWIGPYTHON
%{
/* The fields' names, as the layer's dicts spell them. */
static const char *const kbpw_spec_field[KBPW_SPEC_FIELDS] = {
	"kind", "payload", "unique_key", "priority", "run_at", "max_attempts"
};

/* An entry's integer field, within [lo, hi]. */
static int kbpy_spec_int(PyObject *entry, int field, Py_ssize_t i, long long lo, long long hi,
                         long long *out)
{
	PyObject *v = PyTuple_GET_ITEM(entry, field);
	int overflow = 0;

	if (!PyLong_Check(v)) {
		PyErr_Format(PyExc_TypeError, "jobs[%zd].%s must be int, not %.100s", i,
		             kbpw_spec_field[field], Py_TYPE(v)->tp_name);
		return -1;
	}
	*out = PyLong_AsLongLongAndOverflow(v, &overflow);
	if (overflow || *out < lo || *out > hi) {
		PyErr_Format(PyExc_OverflowError, "jobs[%zd].%s is out of range", i, kbpw_spec_field[field]);
		return -1;
	}
	return 0;
}

/* One entry (a tuple of KBPW_SPEC_FIELDS) as a spec whose strings the tuple owns. */
/* An entry's string field; None is NULL where nullable. */
static int kbpy_spec_text(PyObject *entry, int field, Py_ssize_t i, int nullable, const char **out)
{
	char name[64];

	snprintf(name, sizeof(name), "jobs[%zd].%s", i, kbpw_spec_field[field]);
	return kbpy_text_in(PyTuple_GET_ITEM(entry, field), out, name, nullable);
}

static int kbpy_spec_in(PyObject *entry, Py_ssize_t i, kbp_job_spec *spec)
{
	long long priority, run_at, max_attempts;

	if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != KBPW_SPEC_FIELDS) {
		PyErr_Format(PyExc_TypeError, "jobs[%zd] must be a tuple of %d fields", i, KBPW_SPEC_FIELDS);
		return -1;
	}
	*spec = kbpw_spec_init;
	if (kbpy_spec_text(entry, KBPW_SPEC_KIND, i, 0, &spec->kind) < 0 ||
	    kbpy_spec_text(entry, KBPW_SPEC_PAYLOAD, i, 1, &spec->payload_json) < 0 ||
	    kbpy_spec_text(entry, KBPW_SPEC_UNIQUE_KEY, i, 1, &spec->options.unique_key) < 0 ||
	    kbpy_spec_int(entry, KBPW_SPEC_PRIORITY, i, INT_MIN, INT_MAX, &priority) < 0 ||
	    kbpy_spec_int(entry, KBPW_SPEC_RUN_AT, i, INT64_MIN, INT64_MAX, &run_at) < 0 ||
	    kbpy_spec_int(entry, KBPW_SPEC_MAX_ATTEMPTS, i, INT_MIN, INT_MAX, &max_attempts) < 0)
		return -1;
	spec->options.priority = (int)priority;
	spec->options.run_at = run_at;
	spec->options.max_attempts = (int)max_attempts;
	return 0;
}

/* A list of entries as specs (malloc'd; NULL past the limit); the list must outlive the call. */
static int kbpy_specs_in(PyObject *list, kbp_job_spec **out, size_t *n)
{
	Py_ssize_t len;

	*out = NULL;
	*n = 0;
	if (!PyList_Check(list)) {
		PyErr_Format(PyExc_TypeError, "jobs must be a list, not %.100s", Py_TYPE(list)->tp_name);
		return -1;
	}
	len = PyList_GET_SIZE(list);
	*n = (size_t)len;
	if (len == 0 || *n > KBP_JOBS_ENQUEUE_MAX)
		return 0;
	if (!(*out = (kbp_job_spec *)calloc(*n, sizeof(**out)))) {
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < len; i++) {
		if (kbpy_spec_in(PyList_GET_ITEM(list, i), i, &(*out)[i]) < 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}
%}

/* The layer's own list: nothing else holds it, so it stays as it is while the GIL is released. */
%typemap(in, noblock=1) (const kbp_job_spec *jobs, size_t n) (kbp_job_spec *specs = NULL) {
	if (kbpy_specs_in($input, &specs, &$2) < 0)
		SWIG_fail;
	$1 = specs;
}
%typemap(freearg, noblock=1) (const kbp_job_spec *jobs, size_t n) {
	free(specs$argnum);
}
#endif /* SWIGPYTHON */

#ifdef SWIGJAVASCRIPT
%{
#include <deque>
#include <string>
#include <vector>

/* The fields' names, as the layer's objects spell them. */
static const char *const kbpw_spec_field[KBPW_SPEC_FIELDS] = {
	"kind", "payload", "uniqueKey", "priority", "runAt", "maxAttempts"
};

/* A batch copied out of JavaScript: the specs point into text, whose strings never move. */
struct kbpjs_specs {
	std::vector<kbp_job_spec> jobs;
	std::deque<std::string> text;
	size_t n = 0;

	kbpjs_specs() = default;
	kbpjs_specs(const kbpjs_specs &) = delete; /* a copy's specs would point into the original */
	kbp_job_spec *data() { return n > KBP_JOBS_ENQUEUE_MAX ? NULL : jobs.data(); }
};

/* An entry's string field; null/undefined is NULL where nullable. */
static int kbpjs_spec_text(kbpjs_specs *specs, v8::Local<v8::Array> entry, int field, uint32_t i,
                           int nullable, const char **out)
{
	v8::Isolate *iso = kbpjs_isolate();
	v8::Local<v8::Value> v;
	char name[64], *buf;

	snprintf(name, sizeof(name), "jobs[%u].%s", i, kbpw_spec_field[field]);
	if (!entry->Get(iso->GetCurrentContext(), (uint32_t)field).ToLocal(&v) ||
	    kbpjs_text_in(v, &buf, name, nullable) < 0)
		return -1;
	*out = NULL;
	if (buf) {
		specs->text.emplace_back(buf);
		*out = specs->text.back().c_str();
		free(buf);
	}
	return 0;
}

static int kbpjs_spec_int(v8::Local<v8::Array> entry, int field, uint32_t i, int64_t lo, int64_t hi,
                          int64_t *out)
{
	v8::Local<v8::Value> v;
	char name[64];

	snprintf(name, sizeof(name), "jobs[%u].%s", i, kbpw_spec_field[field]);
	if (!entry->Get(kbpjs_isolate()->GetCurrentContext(), (uint32_t)field).ToLocal(&v))
		return -1;
	return kbpjs_int_in(v, out, lo, hi, name);
}

static int kbpjs_spec_in(kbpjs_specs *specs, v8::Local<v8::Value> value, uint32_t i,
                         kbp_job_spec *spec)
{
	v8::Local<v8::Array> entry;
	int64_t priority, run_at, max_attempts;

	if (!value->IsArray() || value.As<v8::Array>()->Length() != KBPW_SPEC_FIELDS) {
		char name[32];
		snprintf(name, sizeof(name), "jobs[%u]", i);
		kbpjs_throw_type("%s must be an array of 6 fields%s", name, "");
		return -1;
	}
	entry = value.As<v8::Array>();
	*spec = kbpw_spec_init;
	if (kbpjs_spec_text(specs, entry, KBPW_SPEC_KIND, i, 0, &spec->kind) < 0 ||
	    kbpjs_spec_text(specs, entry, KBPW_SPEC_PAYLOAD, i, 1, &spec->payload_json) < 0 ||
	    kbpjs_spec_text(specs, entry, KBPW_SPEC_UNIQUE_KEY, i, 1, &spec->options.unique_key) < 0 ||
	    kbpjs_spec_int(entry, KBPW_SPEC_PRIORITY, i, INT_MIN, INT_MAX, &priority) < 0 ||
	    kbpjs_spec_int(entry, KBPW_SPEC_RUN_AT, i, INT64_MIN, INT64_MAX, &run_at) < 0 ||
	    kbpjs_spec_int(entry, KBPW_SPEC_MAX_ATTEMPTS, i, INT_MIN, INT_MAX, &max_attempts) < 0)
		return -1;
	spec->options.priority = (int)priority;
	spec->options.run_at = run_at;
	spec->options.max_attempts = (int)max_attempts;
	return 0;
}

/* An array of entries; a JavaScript exception is pending when it fails. */
static int kbpjs_specs_in(v8::Local<v8::Value> value, kbpjs_specs *specs)
{
	v8::Local<v8::Context> ctx = kbpjs_isolate()->GetCurrentContext();
	v8::Local<v8::Array> list;
	v8::Local<v8::Value> entry;

	if (!value->IsArray()) {
		kbpjs_throw_type("%s must be an array%s", "jobs", "");
		return -1;
	}
	list = value.As<v8::Array>();
	specs->n = list->Length();
	if (specs->n > KBP_JOBS_ENQUEUE_MAX)
		return 0;
	specs->jobs.resize(specs->n);
	for (uint32_t i = 0; i < specs->n; i++)
		if (!list->Get(ctx, i).ToLocal(&entry) || kbpjs_spec_in(specs, entry, i, &specs->jobs[i]) < 0)
			return -1;
	return 0;
}
%}

%typemap(in, noblock=1) (const kbp_job_spec *jobs, size_t n) (kbpjs_specs specs) {
	if (kbpjs_specs_in($input, &specs) < 0)
		SWIG_fail;
	$1 = specs.data();
	$2 = specs.n;
}
#endif /* SWIGJAVASCRIPT */

%inline %{
/*
 * jobs is NULL when n is over the limit: the bindings do not convert a
 * batch the library refuses for its size, and leave the refusal to it.
 */
static int kbpw_jobs_enqueue(kbpw_batch **out, kbp_pipeline *p, const kbp_job_spec *jobs, size_t n)
{
	kbpw_batch *b = (kbpw_batch *)calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	if ((rc = kbp_jobs_enqueue(&b->ids, &b->created, p, jobs, n)) < 0) {
		free(b);
		return rc;
	}
	b->n = n;
	*out = b;
	return 0;
}
%}
