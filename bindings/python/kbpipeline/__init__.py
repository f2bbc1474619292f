# SPDX-License-Identifier: MIT
"""libkbpipeline for Python: a cart to a confirmed order, safely.

A thin layer over the SWIG module generated from bindings/kbpipeline.i::

    import kbpipeline

    with kbpipeline.Pipeline(storage="memory:") as p:
        p.add_sandbox_gateway()
        p.vendor_put("ilam-tea", "Ilam Tea House")
        p.product_put("tea-250g", "ilam-tea", "Ilam tea, 250 g", price_minor=45000, on_hand=10)
        p.cart_set_item("cart-1", "customer-1", "tea-250g", 2)
        intent = p.intent_create("cart-1", "sandbox", idempotency_key="checkout-cart-1")
        callback = p.sandbox_pay(intent.id)
        p.payment_verify("sandbox", callback)
        p.worker_run_once()
        print(p.order_wait(intent.id).order_number)

Every failure of the library raises a subclass of kbpipeline.Error carrying
the KBP_E… ``code`` and the library's ``message``. Results are Records: objects
whose fields are also items (``r.id``, ``r["id"]``, ``r.as_dict()``). Money is int minor units (paisa), times are
int milliseconds since the epoch, as in C. Calls release the GIL, so Python
threads can share one Pipeline; job handlers, the clock, the log and the
gateways' HTTP transport can be Python callables, which the library calls on
its own threads (see Pipeline and add_khalti_gateway). order_wait_async() is
order_wait() for asyncio.
close() stops the workers and waits for the calls in flight; a closed
pipeline raises Closed. A job handler, or a clock, log or transport
callback, must not close its own pipeline or stop its workers (InvalidState):
that would wait for the handler or callback itself.
"""

import asyncio
import atexit
import collections.abc
import importlib.util
import json
import logging
import threading
import weakref

if importlib.util.find_spec(__name__ + "._kbpipeline_c") is not None:
    from . import _kbpipeline_c as _c
else:  # uninstalled: the extension is in the build directory, on PYTHONPATH
    import _kbpipeline_c as _c

__all__ = [
    "Pipeline", "Worker", "Record", "HttpRequest", "HttpResponse", "migrate", "strerror",
    "Error", "InvalidArgument", "OutOfMemory", "NotFound", "Conflict", "OutOfStock",
    "Inactive", "EmptyCart", "InvalidState", "Closed", "SignatureError", "AmountMismatch",
    "TooBig", "ParseError", "Overflow", "Timeout", "StorageError", "GatewayError",
    "VersionError", "AlreadyExists", "PaymentPending", "PaymentDeclined", "NoHandler",
]


class Record:
    """A result: its fields are attributes, and also items (``r.id``, ``r["id"]``).

    Not a dict, so that fields such as ``items`` or ``keys`` do not meet dict
    methods; as_dict() gives plain dicts and lists, for json.dumps.
    """

    def __getitem__(self, key):
        return self.__dict__[key]

    def __setitem__(self, key, value):
        self.__dict__[key] = value

    def __contains__(self, key):
        return key in self.__dict__

    def __iter__(self):
        return iter(self.__dict__)

    def __len__(self):
        return len(self.__dict__)

    def get(self, key, default=None):
        return self.__dict__.get(key, default)

    def as_dict(self):
        return {k: _plain(v) for k, v in self.__dict__.items()}

    def __eq__(self, other):
        if isinstance(other, Record):
            return self.__dict__ == other.__dict__
        if isinstance(other, dict):
            return self.__dict__ == other
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return "Record(%s)" % ", ".join("%s=%r" % kv for kv in self.__dict__.items())


def _plain(v):
    if isinstance(v, Record):
        return v.as_dict()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


# ---------------------------------------------------------------- errors


class Error(Exception):
    """A libkbpipeline failure: ``code`` is the negative KBP_E… value."""

    code = None

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def name(self):
        return _CODE_NAMES.get(self.code, "KBP_E?")

    def __reduce__(self):
        return (type(self), (self.code, self.message))


class InvalidArgument(Error, ValueError):
    """KBP_EINVAL: an argument is missing, malformed or out of range."""


class OutOfMemory(Error, MemoryError):
    """KBP_ENOMEM."""


class NotFound(Error, LookupError):
    """KBP_ENOTFOUND: the named object does not exist."""


class Conflict(Error):
    """KBP_ECONFLICT: a key reused with other parameters, or a concurrent change."""


class OutOfStock(Error):
    """KBP_EOUTOFSTOCK: a line cannot be reserved; nothing was reserved."""


class Inactive(Error):
    """KBP_EINACTIVE: the product is not active."""


class EmptyCart(Error):
    """KBP_EEMPTY: the cart has no items."""


class InvalidState(Error):
    """KBP_ESTATE: the object's state does not allow the operation."""


class Closed(InvalidState, ValueError):
    """KBP_ESTATE: the pipeline is closed, or closing (see Pipeline.close)."""


class SignatureError(Error):
    """KBP_ESIGNATURE: a callback's authentication failed."""


class AmountMismatch(Error):
    """KBP_EAMOUNT: the paid amount or currency differs from the intent's."""


class TooBig(Error, ValueError):
    """KBP_ETOOBIG: an input exceeds its size limit."""


class ParseError(Error, ValueError):
    """KBP_EPARSE: malformed base64, JSON or UTF-8."""


class Overflow(Error, OverflowError):
    """KBP_EOVERFLOW: a total does not fit in 64 bits."""


class Timeout(Error, TimeoutError):
    """KBP_ETIMEOUT: a wait ended first; ``status`` holds the latest order status."""

    status = None


class StorageError(Error):
    """KBP_ESTORAGE: the storage backend failed."""


class GatewayError(Error):
    """KBP_EGATEWAY: the payment gateway failed or could not be reached."""


class VersionError(Error):
    """KBP_EVERSION: an unknown struct or backend version."""


class AlreadyExists(Error):
    """KBP_EEXISTS; from job_enqueue, ``job_id`` names the live job holding the key."""

    job_id = None


class PaymentPending(Error):
    """KBP_EPENDING: the gateway has not completed the payment yet."""


class PaymentDeclined(Error):
    """KBP_EDECLINED: the gateway reports the payment failed, canceled or refunded."""


class NoHandler(Error):
    """KBP_ENOHANDLER: no job handler is registered for a kind."""


_ERRORS = {
    _c.KBP_EINVAL: InvalidArgument, _c.KBP_ENOMEM: OutOfMemory, _c.KBP_ENOTFOUND: NotFound,
    _c.KBP_ECONFLICT: Conflict, _c.KBP_EOUTOFSTOCK: OutOfStock, _c.KBP_EINACTIVE: Inactive,
    _c.KBP_EEMPTY: EmptyCart, _c.KBP_ESTATE: InvalidState, _c.KBP_ESIGNATURE: SignatureError,
    _c.KBP_EAMOUNT: AmountMismatch, _c.KBP_ETOOBIG: TooBig, _c.KBP_EPARSE: ParseError,
    _c.KBP_EOVERFLOW: Overflow, _c.KBP_ETIMEOUT: Timeout, _c.KBP_ESTORAGE: StorageError,
    _c.KBP_EGATEWAY: GatewayError, _c.KBP_EVERSION: VersionError,
    _c.KBP_EEXISTS: AlreadyExists, _c.KBP_EPENDING: PaymentPending,
    _c.KBP_EDECLINED: PaymentDeclined, _c.KBP_ENOHANDLER: NoHandler,
}
_CODE_NAMES = {getattr(_c, n): n for n in dir(_c)
               if n.startswith("KBP_E") and isinstance(getattr(_c, n), int)}


def _error(code, message):
    return _ERRORS.get(code, Error)(code, message)


_c.kbpw_python_setup(Record, _error)


def strerror(code):
    """The library's description of a KBP_E… code."""
    return _c.kbp_strerror(code)


def migrate(storage, schema=None):
    """Creates or upgrades a PostgreSQL schema (a no-op for "memory:"); returns its version."""
    return _c.kbp_migrate(storage, schema)


# ---------------------------------------------------------------- names

_JOB_STATES = {_c.kbp_job_state_name(i): i for i in range(_c.KBP_JOB_STATE_COUNT)}
# The name the canceled state had before it took the intent's spelling; callers
# that still pass it keep working.
_JOB_STATE_ALIASES = {"cancelled": "canceled"}
_SANDBOX_ANSWERS = {"completed": _c.KBP_SANDBOX_COMPLETED, "pending": _c.KBP_SANDBOX_PENDING,
                    "failed": _c.KBP_SANDBOX_FAILED}
_FINAL_STAGES = ("confirmed", "failed")
_LOG_LEVELS = {"debug": _c.KBP_LOG_DEBUG, "info": _c.KBP_LOG_INFO, "warn": _c.KBP_LOG_WARN,
               "error": _c.KBP_LOG_ERROR}
_LOG_NAMES = {v: k for k, v in _LOG_LEVELS.items()}
_LOGGING_LEVELS = {_c.KBP_LOG_DEBUG: logging.DEBUG, _c.KBP_LOG_INFO: logging.INFO,
                   _c.KBP_LOG_WARN: logging.WARNING, _c.KBP_LOG_ERROR: logging.ERROR}


def _choice(table, value, what, aliases=None):
    if not isinstance(value, str):
        raise TypeError("%s must be str, not %s" % (what, type(value).__name__))
    value = (aliases or {}).get(value, value)
    try:
        return table[value]
    except KeyError:
        raise ValueError("%s must be one of %s, not %r" % (what, ", ".join(table), value)) from None


def _json_field(record, key):
    text = record.get(key)
    if isinstance(text, str):
        record[key] = json.loads(text)
    return record


def _payload_text(payload):
    """A job's payload as JSON text: a dict (None: {}), or text passed as it is."""
    if payload is None:
        return "{}"
    return payload if isinstance(payload, str) else json.dumps(payload)


_JOB_SPEC_DEFAULTS = {"payload": None, "unique_key": None, "priority": 0, "run_at": 0,
                      "max_attempts": 0}


def _job_spec(i, job):
    """jobs_enqueue()'s job i as the extension takes it: (kind, payload, unique_key, priority,
    run_at, max_attempts)."""
    if not isinstance(job, collections.abc.Mapping):
        raise TypeError("jobs[%d] must be a dict, not %s" % (i, type(job).__name__))
    unknown = set(job) - set(_JOB_SPEC_DEFAULTS) - {"kind"}
    if unknown:
        raise TypeError("jobs[%d] has unknown keys: %s" % (i, ", ".join(sorted(map(str, unknown)))))
    if "kind" not in job:
        raise TypeError("jobs[%d] has no kind" % i)
    f = dict(_JOB_SPEC_DEFAULTS, **job)
    return (f["kind"], _payload_text(f["payload"]), f["unique_key"], f["priority"], f["run_at"],
            f["max_attempts"])


def _job(record):
    return _json_field(record, "payload")


def _intent(record):
    return _json_field(record, "redirect")


# ---------------------------------------------------------------- callbacks


def _clock_hook(clock):
    """The clock's first answer, checked here so that a wrong clock fails at once."""
    if clock is None:
        return 0
    if not callable(clock):
        raise TypeError("clock must be callable or None")
    first = clock()
    if not isinstance(first, int) or isinstance(first, bool):
        raise TypeError("clock() must return int milliseconds, not %s" % type(first).__name__)
    if first < 0:
        raise ValueError("clock() returned %d, a time before the epoch" % first)
    return first


def _log_hook(log):
    """log(level_name, message), or a logging.Logger, as the library's (level, message) callback."""
    if log is None:
        return None
    if isinstance(log, logging.Logger):
        return lambda level, message: log.log(_LOGGING_LEVELS[level], "%s", message)
    if not callable(log):
        raise TypeError("log must be callable, a logging.Logger or None")
    return lambda level, message: log(_LOG_NAMES[level], message)


class HttpRequest:
    """What a gateway asks a Python HTTP transport to send.

    ``method`` ("GET" or "POST"), ``url``, ``headers`` (a dict), ``body``
    (bytes, maybe empty), ``connect_timeout_ms``, ``timeout_ms`` (the whole
    exchange) and ``max_response_bytes``. The headers carry the merchant's
    key: repr() shows their names only.
    """

    __slots__ = ("method", "url", "headers", "body", "connect_timeout_ms", "timeout_ms",
                 "max_response_bytes")

    def __init__(self, method, url, headers, body, connect_timeout_ms, timeout_ms,
                 max_response_bytes):
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connect_timeout_ms = connect_timeout_ms
        self.timeout_ms = timeout_ms
        self.max_response_bytes = max_response_bytes

    def __repr__(self):
        return "HttpRequest(%s %s, headers=[%s], %d bytes)" % (
            self.method, self.url, ", ".join(self.headers), len(self.body))


HttpResponse = collections.namedtuple("HttpResponse", "status headers body")
HttpResponse.__doc__ = """A transport's answer: int status, headers (unused by the gateways), body.

Any (status, headers, body) sequence will do; body is bytes, str (sent as
UTF-8) or None.
"""


def _transport_hook(transport, token):
    """A transport (callable, or object with send()) as the adapter the C side calls.

    token: its pipeline's, which the transport must not close.
    """
    if transport is None:
        return None
    send = getattr(transport, "send", None)
    if not callable(send):
        send = transport
    if not callable(send):
        raise TypeError("transport must be callable, have a send() method, or be None")

    def adapter(method, url, headers, body, connect_timeout_ms, timeout_ms, max_response_bytes):
        request = HttpRequest(method, url, dict(headers), body, connect_timeout_ms, timeout_ms,
                              max_response_bytes)
        stack = _handler_stack()
        stack.append((token, _CALLBACK))
        try:
            status, _headers, payload = send(request)
        except TimeoutError as e:
            # The library's own code for it, whatever raised it.
            raise Timeout(_c.KBP_ETIMEOUT, str(e) or "the transport timed out") from None
        finally:
            stack.pop()
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise TypeError("the transport answered HTTP status %r, not an int 100..599"
                            % (status,))
        if payload is None:
            payload = b""
        elif isinstance(payload, str):
            payload = payload.encode()
        # memoryview() takes bytes-like objects only (bytes() would make 12 zero bytes of 12).
        return status, memoryview(payload).tobytes()

    return adapter


# ---------------------------------------------------------------- pipeline

_live = weakref.WeakSet()
_live_lock = threading.Lock()
# Running workers, held strongly: their threads use the pipeline, so neither
# may be collected (and the pipeline closed under them) until stop().
_running = set()
# Per thread, (token, _HANDLER or _CALLBACK) of the pipelines whose job
# handler or transport runs on it (the clock and log are known to the C side).
_in_handlers = threading.local()
_HANDLER = ("a job handler", "handler")
_CALLBACK = ("a callback", "callback")


def _handler_stack():
    try:
        return _in_handlers.stack
    except AttributeError:
        _in_handlers.stack = []
        return _in_handlers.stack


class Pipeline:
    """A libkbpipeline handle (kbp_pipeline_open). Close it, or use it in ``with``.

    ``storage`` is "memory:" or a PostgreSQL URI/conninfo; the keyword options
    are kbp_options' fields (0 or None: the library's default).

    ``clock()`` returns the time in int milliseconds since the epoch (tests
    move it to drive expiry, backoff and leases); it is called once here, so
    that a clock returning anything else fails at once. If it later raises,
    returns something else or calls into its own pipeline, the pipeline keeps
    the last time it returned (time stands still, never jumps to another
    clock) and reports the exception to ``log`` at "error", or, without a
    log, to sys.unraisablehook.

    ``log(level, message)`` receives the library's messages at ``log_level``
    ("debug", "info", "warn" or "error") and above, level being one of those
    names; a logging.Logger may be given instead. What it raises is ignored,
    and messages that its own calls into the library cause are dropped.

    Both are called on the library's threads (workers too) with the GIL held
    for the call only; they must be thread-safe, and they live as long as
    the pipeline. Neither may close the pipeline (InvalidState).
    """

    def __init__(self, storage="memory:", *, intent_ttl_ms=0, job_lease_ms=0, max_attempts=0,
                 backoff_unit_ms=0, backoff_max_ms=0, backoff_jitter_pct=0,
                 job_retention_ms=0, storage_schema=None, storage_pool_size=0,
                 reconcile_after_ms=0, clock=None, log=None, log_level="info"):
        self._p = None
        self._handlers = []
        self._hooks = None
        self._workers = set()
        self._busy = 0  # calls in flight
        self._closing = False
        # Stands for this pipeline in _handler_stack (a handler must not hold it).
        self._token = object()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        level = _choice(_LOG_LEVELS, log_level, "log_level")
        if clock is not None or log is not None:
            # Owns the callables; kept until close() has closed the handle that calls them.
            self._hooks = _c.kbpw_python_hooks(clock, _clock_hook(clock), _log_hook(log), level)
        self._p = _c.kbpw_pipeline_open_with(
            self._hooks, storage, intent_ttl_ms, job_lease_ms, max_attempts, backoff_unit_ms,
            backoff_max_ms, backoff_jitter_pct, job_retention_ms, storage_schema,
            storage_pool_size, reconcile_after_ms)
        with _live_lock:
            _live.add(self)

    # -- lifetime

    def close(self):
        """Stops this pipeline's workers, waits for its calls in flight, closes it.

        Safe to call twice and from any thread. Once it has begun, new calls
        raise Closed, except those of the job handlers that are finishing.
        A call in flight is waited for, an order_wait up to its timeout. From
        inside a job handler or a callback (clock, log, transport) of this
        pipeline it raises InvalidState: it would wait for that handler.
        """
        self._refuse_in_handler("close()")
        with self._changed:
            self._closing = True
        while True:
            with self._changed:
                while self._busy and not self._workers:
                    self._changed.wait()
                workers = list(self._workers)
                if not workers:
                    p, self._p = self._p, None
                    if p is not None:
                        _c.kbp_pipeline_close(p)
                    self._handlers = []
                    self._hooks = None
                    return
            for w in workers:
                w.stop()

    @property
    def closed(self):
        return self._p is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # the interpreter may be shutting down
            pass

    def __repr__(self):
        if self._p is None:
            return "<kbpipeline.Pipeline closed>"
        if self._closing:
            return "<kbpipeline.Pipeline closing>"
        return "<kbpipeline.Pipeline storage=%s>" % self.storage_name

    def _inside(self):
        """_HANDLER or _CALLBACK if one of this pipeline's runs on this thread, else None."""
        for token, kind in reversed(_handler_stack()):
            if token is self._token:
                return kind
        hooks = self._hooks
        if hooks is not None and _c.kbpw_python_hooks_running(hooks):
            return _CALLBACK
        return None

    def _refuse_in_handler(self, what):
        inside = self._inside()
        if inside:
            raise InvalidState(_c.KBP_ESTATE, "%s cannot run inside %s of its pipeline: it "
                               "would wait for that %s to return" % (what, *inside))

    def _call(self, fn, *args):
        """fn(handle, *args), with the handle kept open until it returns."""
        with self._lock:
            p = self._p
            if p is None or (self._closing and not self._inside()):
                raise Closed(_c.KBP_ESTATE, "the pipeline is %s"
                             % ("closed" if p is None else "closing"))
            self._busy += 1
        try:
            return fn(p, *args)
        finally:
            with self._lock:
                self._busy -= 1
                if not self._busy and self._closing:
                    self._changed.notify_all()

    # -- pipeline

    def now(self):
        """The pipeline's clock, in milliseconds since the epoch."""
        return self._call(_c.kbp_pipeline_now)

    @property
    def storage_name(self):
        """"memory" or "postgres"."""
        return self._call(_c.kbp_pipeline_storage_name)

    # -- gateways

    def add_sandbox_gateway(self, name=None, *, base_url=None, secret=None, lookup_delay_ms=0):
        """Registers the sandbox gateway (no network; HMAC-signed callbacks)."""
        self._call(_c.kbpw_gateway_add_sandbox, name, base_url, lookup_delay_ms, secret)

    def add_esewa_gateway(self, name=None, *, product_code=None, secret_env=None,
                          secret_file=None, production=False, form_url=None, status_url=None,
                          success_url=None, failure_url=None, timeout_ms=0, transport=None):
        """Registers eSewa ePay v2; the secret comes from secret_env or secret_file.

        ``transport``: as for add_khalti_gateway.
        """
        self._add_networked(_c.kbpw_gateway_add_esewa_with, transport, name, product_code,
                            secret_env, secret_file, production, form_url, status_url,
                            success_url, failure_url, timeout_ms)

    def add_khalti_gateway(self, name=None, *, secret_env=None, secret_file=None,
                           production=False, base_url=None, return_url=None, website_url=None,
                           purchase_order_name=None, timeout_ms=0, transport=None):
        """Registers Khalti ePayment; the secret comes from secret_env or secret_file.

        ``transport`` (None: libcurl) sends the gateway's HTTP requests: a
        callable, or an object with a send() method, taking an HttpRequest and
        returning (status, headers, body), e.g. an HttpResponse, for every
        response whatever its status. An exception is a response that never
        arrived: the library handles it as a network failure (GatewayError;
        a TimeoutError is Timeout). It is called on the library's threads
        with the GIL held for the call, must be thread-safe, and is kept as
        long as the pipeline.
        """
        self._add_networked(_c.kbpw_gateway_add_khalti_with, transport, name, secret_env,
                            secret_file, production, base_url, return_url, website_url,
                            purchase_order_name, timeout_ms)

    def _add_networked(self, add, transport, *options):
        adapter = _transport_hook(transport, self._token)

        def register(p):
            add(p, adapter, *options)
            if adapter is not None:
                self._handlers.append(adapter)  # the library borrows it until close()

        self._call(register)

    def gateways_load(self, path):
        """Registers the gateways a JSON file describes (kbp_gateways_load)."""
        self._call(_c.kbp_gateways_load, path)

    # -- catalog

    def vendor_put(self, vendor_id, name):
        self._call(_c.kbp_vendor_put, vendor_id, name)

    def vendor_get(self, vendor_id):
        return self._call(_c.kbp_vendor_get, vendor_id)

    def product_put(self, product_id, vendor_id, name, price_minor, on_hand, *, currency=None,
                    active=True):
        """Creates or replaces a product (its reserved count is kept)."""
        self._call(_c.kbpw_product_put, product_id, vendor_id, name, price_minor, currency,
                   on_hand, active)

    def product_get(self, product_id):
        return self._call(_c.kbp_product_get, product_id)

    def product_set_active(self, product_id, active):
        self._call(_c.kbp_product_set_active, product_id, active)

    # -- cart

    def cart_set_item(self, cart_id, customer_id, sku, qty):
        """Sets a line's quantity, creating the cart on first use; returns the cart version."""
        return self._call(_c.kbp_cart_set_item, cart_id, customer_id, sku, qty)

    def cart_remove_item(self, cart_id, customer_id, sku):
        """Removes a line; returns the cart version."""
        return self._call(_c.kbp_cart_remove_item, cart_id, customer_id, sku)

    def cart_get(self, cart_id):
        return self._call(_c.kbp_cart_get, cart_id)

    # -- intents and payments

    def intent_create(self, cart_id, gateway="sandbox", *, idempotency_key=None,
                      success_url=None, failure_url=None):
        """Reserves the cart's stock and prepares the payment; ``redirect`` is a dict."""
        return _intent(self._call(_c.kbpw_intent_create, cart_id, gateway, idempotency_key,
                                  success_url, failure_url))

    def intent_get(self, intent_id):
        return _intent(self._call(_c.kbp_intent_get, intent_id))

    def intent_cancel(self, intent_id):
        self._call(_c.kbp_intent_cancel, intent_id)

    def sandbox_pay(self, intent_id, answer="completed", *, amount_minor=-1, gateway="sandbox"):
        """Plays the shopper at the sandbox; returns the signed callback (str).

        answer: "completed", "pending" or "failed"; amount_minor < 0 pays the
        intent's amount.
        """
        return self._call(_c.kbp_sandbox_pay, gateway, intent_id,
                          _choice(_SANDBOX_ANSWERS, answer, "answer"), amount_minor)

    def payment_verify(self, gateway, callback):
        """Verifies a gateway callback (str or bytes); returns the verification."""
        return self._call(_c.kbp_payment_verify, gateway, callback)

    def verifications(self, intent_id):
        """The audit rows of an intent, oldest first (None: rows that matched no intent)."""
        return self._call(_c.kbpw_verification_list_get, intent_id)

    # -- jobs and workers

    def job_enqueue(self, kind, payload=None, *, unique_key=None, priority=0, run_at=0,
                    max_attempts=0):
        """Enqueues a job; payload is a dict (or JSON text). Returns the job id.

        With ``unique_key`` held by a live job, raises AlreadyExists whose
        ``job_id`` is that job's.
        """
        job_id, exists = self._call(_c.kbpw_job_enqueue, kind, _payload_text(payload), unique_key,
                                    priority, run_at, max_attempts)
        if exists:
            e = AlreadyExists(_c.KBP_EEXISTS,
                              "job %s already holds the unique key %r" % (job_id, unique_key))
            e.job_id = job_id
            raise e
        return job_id

    def jobs_enqueue(self, jobs):
        """Enqueues a batch of jobs in one storage step (kbp_jobs_enqueue(3)).

        Each job is a dict of job_enqueue()'s arguments: ``kind``, and
        optionally ``payload``, ``unique_key``, ``priority``, ``run_at`` and
        ``max_attempts``. Returns Record(ids=[…], created=n): ids[i] is job
        i's id or, when a live job (one earlier in the batch included) holds
        its unique key, that job's; ``created`` counts the new jobs. One
        refused job (its index in the message), or more than 10,000,
        enqueues none.
        """
        return self._call(_c.kbpw_jobs_enqueue, [_job_spec(i, job) for i, job in enumerate(jobs)])

    def job_register(self, kind, handler=None):
        """Runs ``handler(job)`` for jobs of ``kind``; usable as a decorator.

        The job is a Record (payload decoded). Returning completes the job; an
        exception fails the attempt with its message (a kbpipeline.Error keeps
        its code), retried with backoff until max_attempts.
        """
        if handler is None:
            return lambda fn: self.job_register(kind, fn)
        if not callable(handler):
            raise TypeError("handler must be callable")

        token = self._token

        def run(job):
            stack = _handler_stack()
            stack.append((token, _HANDLER))
            try:
                handler(_job(job))
            finally:
                stack.pop()

        def register(p):
            _c.kbpw_job_register(p, kind, run)
            self._handlers.append(run)  # the library borrows it until close()

        self._call(register)
        return handler

    def worker_run_once(self, worker_id="python", max_jobs=16):
        """Runs up to max_jobs due jobs on this thread; returns how many ran."""
        return self._call(_c.kbp_worker_run_once, worker_id, max_jobs)

    def worker_start(self, threads=1, *, name=None, batch=0, poll_ms=0):
        """Starts background worker threads; stop them with Worker.stop() (or ``with``).

        Refused once close() has begun, even from a job handler.
        """
        def start(p):
            with self._changed:
                if self._closing:
                    raise Closed(_c.KBP_ESTATE, "the pipeline is closing")
            w = Worker(self, _c.kbpw_worker_start(p, threads, name, batch, poll_ms))
            with self._changed:
                self._workers.add(w)
                self._changed.notify_all()
            return w

        return self._call(start)

    def _forget_worker(self, w):
        with self._changed:
            self._workers.discard(w)
            self._changed.notify_all()

    def jobs_list(self, state=None, kind=None, *, since=0, limit=0, after=None):
        """A page of jobs, newest first: Record(jobs=[…], next_after=cursor or None).

        state is a job state name ("available" … "canceled"; the old spelling
        "cancelled" is accepted too) or None for every state."""
        st = -1 if state is None else _choice(_JOB_STATES, state, "state", _JOB_STATE_ALIASES)
        page = self._call(_c.kbpw_jobs_list, st, kind, since, limit, after)
        for j in page["jobs"]:
            _job(j)
        return page

    def job_get(self, job_id):
        return _job(self._call(_c.kbp_job_get, job_id))

    def job_retry(self, job_id):
        self._call(_c.kbp_job_retry, job_id)

    def job_cancel(self, job_id):
        self._call(_c.kbp_job_cancel, job_id)

    def jobs_rescue(self):
        """Running jobs whose lease passed -> available; returns how many."""
        return self._call(_c.kbp_jobs_rescue)

    # The former name, kept for callers written before "rescue" was the one word.
    jobs_requeue_stale = jobs_rescue

    # -- orders

    def order_status(self, intent_id):
        """The stage of an intent's order: verifying, processing, confirmed or failed."""
        return self._call(_c.kbp_order_status_get, intent_id)

    def order_wait(self, intent_id, timeout_ms=10000):
        """Waits for the order to be confirmed or failed; returns its status.

        Raises Timeout (with ``status``, the latest) when timeout_ms passes first.
        """
        status = self._call(_c.kbpw_order_wait, intent_id, timeout_ms)
        if status["stage"] not in _FINAL_STAGES:
            e = Timeout(_c.KBP_ETIMEOUT, "order of intent %s still %s after %d ms"
                        % (intent_id, status["stage"], timeout_ms))
            e.status = status
            raise e
        return status

    async def order_wait_async(self, intent_id, timeout_ms=10000):
        """order_wait() for asyncio: the event loop runs on while the order is awaited.

        The wait runs in the loop's default executor, so each wait in flight
        holds one of its threads (size the executor for the waits you
        expect). Cancelling the awaiting task does not end that wait early:
        it holds its thread until the order is final or timeout_ms passes.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.order_wait, intent_id, timeout_ms)

    def order_get(self, order_number):
        return self._call(_c.kbp_order_get, order_number)

    def order_get_by_intent(self, intent_id):
        return self._call(_c.kbp_order_get_by_intent, intent_id)

    # -- operations

    def maintenance_run(self):
        """One maintenance pass; returns its counts (``ran`` False: another process ran it)."""
        return self._call(_c.kbp_maintenance_run)

    def metrics(self):
        return self._call(_c.kbp_metrics_get)

    def metrics_prometheus(self):
        return self._call(_c.kbp_metrics_prometheus)

    def doctor(self):
        """Integrity checks, with the offending ids."""
        return self._call(_c.kbp_doctor_run)

    def health(self, *, stuck_critical=None, failed_hour_warning=None,
               finalize_p95_warning_ms=None, paid_without_order_critical_ms=None):
        """Metrics judged against thresholds (None: the library's defaults)."""
        t = []
        for name, v in (("stuck_critical", stuck_critical),
                        ("failed_hour_warning", failed_hour_warning),
                        ("finalize_p95_warning_ms", finalize_p95_warning_ms),
                        ("paid_without_order_critical_ms", paid_without_order_critical_ms)):
            if v is not None and not isinstance(v, int):
                raise TypeError("%s must be int or None" % name)
            if v is not None and v < 0:
                raise ValueError("%s must be >= 0" % name)
            t.append(-1 if v is None else v)
        return self._call(_c.kbpw_health_check, *t)


class Worker:
    """Background worker threads of a Pipeline (kbp_worker_start).

    A running worker keeps its pipeline from being collected until stop().
    """

    def __init__(self, pipeline, handle):
        self._pipeline = pipeline
        self._w = handle
        self._lock = threading.Lock()
        with _live_lock:
            _running.add(self)

    def stop(self):
        """Lets the threads finish the jobs they hold, joins them. Safe to call twice.

        From inside a job handler of its pipeline it raises InvalidState: it
        would wait for that handler.
        """
        self._pipeline._refuse_in_handler("Worker.stop()")
        with self._lock:  # a second caller returns once the threads are joined
            w, self._w = self._w, None
            if w is not None:
                _c.kbp_worker_stop(w)
        self._pipeline._forget_worker(self)
        with _live_lock:
            _running.discard(self)

    @property
    def running(self):
        return self._w is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        try:
            self.stop()
        except Exception:
            pass


@atexit.register
def _close_all():
    # Worker threads must not call into an interpreter that is finalizing.
    with _live_lock:
        live = list(_live)
    for p in live:
        try:
            p.close()
        except Exception:
            pass
