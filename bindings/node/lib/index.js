// SPDX-License-Identifier: MIT
/**
 * libkbpipeline for Node: a cart to a confirmed order, safely.
 *
 * A thin layer over the addon SWIG generates from bindings/kbpipeline.i:
 *
 *     const { Pipeline } = require('kbpipeline');
 *     const p = new Pipeline({ storage: 'memory:' });
 *     p.addSandboxGateway();
 *     …
 *     const intent = await p.intentCreate('cart-1');
 *     const status = await p.orderWait(intent.id);
 *     await p.close();
 *
 * Failures of the library are PipelineErrors: an Error whose `code` is the
 * KBP_E… name ('KBP_EOUTOFSTOCK') and `errno` its negative value. Wrong
 * argument types are TypeErrors, out-of-range numbers RangeErrors. Results
 * are plain objects with the C structs' field names (`amount_minor`); money
 * is integer minor units (paisa), times integer milliseconds since the epoch.
 *
 * Every call that reaches storage or a gateway (CALLS below) returns a
 * Promise and runs on libuv's thread pool; its twin with the suffix Sync
 * runs on the calling thread, as fs names them. A Promise form never
 * throws: every error, an argument's included, rejects it. orderWait,
 * runOnce, Worker#stop and Pipeline#close return Promises only. Job handlers are
 * JavaScript functions (sync or async) run on the main thread; close() and
 * Worker#stop reject inside a handler of their pipeline, which they would
 * wait for.
 */
'use strict';

const path = require('node:path');
const { AsyncLocalStorage } = require('node:async_hooks');

// The addon npm install built beside this file; KBP_NODE_ADDON names another
// (the test suite runs this source against a build directory's addon).
const c = require(process.env.KBP_NODE_ADDON ||
  path.join(__dirname, '..', 'build', 'Release', 'kbpipeline.node'));

const OUT = undefined; // the place of an out-parameter (see node/runtime.swg)

const CODE_NAMES = new Map(Object.keys(c)
  .filter((k) => k.startsWith('KBP_E') && typeof c[k] === 'number')
  .map((k) => [c[k], k]));

/** A libkbpipeline failure: `code` is 'KBP_E…', `errno` its negative value. */
class PipelineError extends Error {
  constructor(errno, message) {
    super(message);
    this.name = 'PipelineError';
    this.code = CODE_NAMES.get(errno) || 'KBP_EUNKNOWN';
    this.errno = errno;
  }
}

function libraryError(name, message) {
  return new PipelineError(c[name], message);
}

// ------------------------------------------------------------ job handlers

// Pipelines by number, for the dispatcher: weak, so a pipeline can be collected.
const pipelines = new Map();
let nextPipelineId = 1;

function parseField(record, key) {
  if (record && typeof record[key] === 'string') record[key] = JSON.parse(record[key]);
  return record;
}

// The job handler that the running code belongs to, if any: { pipelineId, running }.
const handlerFrame = new AsyncLocalStorage();

// A thrown value as text; anything may be thrown, and describing it must not throw.
function describeThrown(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  let text;
  if (typeof value === 'object' && value !== null) {
    try {
      text = JSON.stringify(value);
    } catch {
      // a cycle, a BigInt or a throwing toJSON: the tag below will do
    }
  }
  return `non-Error value thrown: ${text ?? (typeof value === 'object' && value !== null
    ? Object.prototype.toString.call(value) : String(value))}`;
}

// A failed attempt's [code, message]: the library waits for done(), so this never throws.
function failure(err) {
  try {
    return [err instanceof PipelineError ? err.errno : c.KBP_ESTATE, describeThrown(err)];
  } catch {
    return [c.KBP_ESTATE, 'the job handler threw a value that cannot be described'];
  }
}

// Called by the addon on the main thread for each job a library thread runs.
function dispatch(pipelineId, job, done) {
  const p = pipelines.get(pipelineId)?.deref();
  const handler = p?._handlers.get(job.kind);
  if (!handler) {
    done(c.KBP_ENOHANDLER, `no JavaScript handler for job kind '${job.kind}'`);
    return;
  }
  // Timers and promises the handler leaves behind keep the frame, not its running flag.
  const frame = { pipelineId, running: true };
  const finish = (code, message) => {
    frame.running = false;
    done(code, message);
  };
  handlerFrame.run(frame, async () => handler(parseField(job, 'payload'))).then(
    () => finish(0),
    (err) => finish(...failure(err)));
}

function inHandlerOf(pipelineId) {
  const frame = handlerFrame.getStore();
  return frame !== undefined && frame.running && frame.pipelineId === pipelineId;
}

function refuseInHandler(pipelineId, what) {
  if (inHandlerOf(pipelineId)) {
    throw libraryError('KBP_ESTATE', `${what} cannot run inside a job handler of its pipeline: ` +
      'it would wait for that handler to return');
  }
}

c.kbpw_node_setup((errno, message) => new PipelineError(errno, message), dispatch);

// ------------------------------------------------------------ arguments

function choice(table, value, what, aliases = {}) {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  if (Object.hasOwn(aliases, value)) value = aliases[value];
  if (!Object.hasOwn(table, value)) {
    throw new RangeError(`${what} must be one of ${Object.keys(table).join(', ')}, not '${value}'`);
  }
  return table[value];
}

function options(value, what) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object`);
  }
  return value;
}

function flag(value, what) {
  if (value === undefined) return 1;
  if (typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean`);
  return value ? 1 : 0;
}

function optionalFlag(value, what) {
  return value === undefined ? 0 : flag(value, what);
}

// null/undefined select the library's default, as NULL and 0 do in C.
const dflt = (v) => (v === undefined ? null : v);
const zero = (v) => (v === undefined || v === null ? 0 : v);

const JOB_STATES = Object.fromEntries(
  Array.from({ length: c.KBP_JOB_STATE_COUNT }, (_, i) => [c.kbp_job_state_name(i), i]));
// The name the canceled state had before it took the intent's spelling; callers
// that still pass it keep working.
const JOB_STATE_ALIASES = { cancelled: 'canceled' };
const SANDBOX_ANSWERS = {
  completed: c.KBP_SANDBOX_COMPLETED,
  pending: c.KBP_SANDBOX_PENDING,
  failed: c.KBP_SANDBOX_FAILED,
};
const FINAL_STAGES = new Set(['confirmed', 'failed']);

const parseRedirect = (intent) => parseField(intent, 'redirect');
const parsePayload = (job) => parseField(job, 'payload');

// A job as kbpw_job_enqueue takes it, after the kind: [kind, payload JSON, unique key, priority, run at, max attempts].
function jobSpec(kind, payload, o, where) {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  if (text === undefined) throw new TypeError(`${where}payload must be JSON-serializable`);
  return [kind, text, dflt(o.uniqueKey), zero(o.priority), zero(o.runAt), zero(o.maxAttempts)];
}

// A health threshold: null/undefined keep the library's default (-1 to the helper).
function threshold(value, what) {
  if (value === undefined || value === null) return -1;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be an integer >= 0`);
  return value;
}

/*
 * The calls that reach storage or a gateway, each written once. Pipeline
 * gets two methods per entry: `name(...)` returns a Promise and runs the
 * call on libuv's thread pool (kbpw_<c without its prefix>_async in the
 * addon), `nameSync(...)` runs it on the calling thread, as fs does. c: the
 * addon's synchronous function; outs: its out-parameters; args: the
 * caller's arguments -> the C arguments after the handle; then: the C
 * result (and the caller's arguments) -> what the caller gets; callbackAt:
 * where the async form takes its callback, when not last.
 */
const CALLS = {
  vendorPut: { c: 'kbp_vendor_put', outs: 0, args: (id, name) => [id, name] },
  vendorGet: { c: 'kbp_vendor_get', outs: 1, args: (id) => [id] },
  /** product: { id, vendorId, name, priceMinor, onHand, currency?, active? }; creates or replaces it. */
  productPut: {
    c: 'kbpw_product_put',
    outs: 0,
    args: (product) => {
      const o = options(product, 'product');
      return [o.id, o.vendorId, o.name, o.priceMinor, dflt(o.currency), o.onHand, flag(o.active, 'active')];
    },
  },
  productGet: { c: 'kbp_product_get', outs: 1, args: (id) => [id] },
  productSetActive: { c: 'kbp_product_set_active', outs: 0, args: (id, active) => [id, flag(active, 'active')] },

  /** Sets a line's quantity (creating the cart on first use); the cart's new version. */
  cartSetItem: { c: 'kbp_cart_set_item', outs: 1, args: (cartId, customerId, sku, qty) => [cartId, customerId, sku, qty] },
  cartRemoveItem: { c: 'kbp_cart_remove_item', outs: 1, args: (cartId, customerId, sku) => [cartId, customerId, sku] },
  cartGet: { c: 'kbp_cart_get', outs: 1, args: (cartId) => [cartId] },

  /** Reserves the cart's stock and prepares the payment; `redirect` is an object. */
  intentCreate: {
    c: 'kbpw_intent_create',
    outs: 1,
    args: (cartId, gateway = 'sandbox', opts = undefined) => {
      const o = options(opts, 'options');
      return [cartId, gateway, dflt(o.idempotencyKey), dflt(o.successUrl), dflt(o.failureUrl)];
    },
    then: parseRedirect,
  },
  intentGet: { c: 'kbp_intent_get', outs: 1, args: (intentId) => [intentId], then: parseRedirect },
  intentCancel: { c: 'kbp_intent_cancel', outs: 0, args: (intentId) => [intentId] },
  /**
   * Plays the shopper at the sandbox; the signed callback (a string).
   * answer: 'completed', 'pending' or 'failed'; amountMinor < 0 pays the intent's amount.
   */
  sandboxPay: {
    c: 'kbp_sandbox_pay',
    outs: 1,
    args: (intentId, answer = 'completed', opts = undefined) => {
      const o = options(opts, 'options');
      return [o.gateway ?? 'sandbox', intentId, choice(SANDBOX_ANSWERS, answer, 'answer'), o.amountMinor ?? -1];
    },
  },
  /** Verifies a gateway callback (a string or a Buffer); the verification. */
  paymentVerify: { c: 'kbp_payment_verify', outs: 1, args: (gateway, callback) => [gateway, callback], callbackAt: 1 },
  /** An intent's audit rows, oldest first (null: the rows that matched no intent). */
  verifications: { c: 'kbpw_verification_list_get', outs: 1, args: (intentId) => [intentId] },

  /**
   * Enqueues a job; payload is an object (or JSON text). The job id. A
   * unique key held by a live job fails with KBP_EEXISTS, `jobId` set.
   */
  jobEnqueue: {
    c: 'kbpw_job_enqueue',
    outs: 2,
    args: (kind, payload = {}, opts = undefined) => jobSpec(kind, payload, options(opts, 'options'), ''),
    then: ([id, exists], [, , opts]) => {
      if (!exists) return id;
      const err = libraryError('KBP_EEXISTS', `job ${id} already holds the unique key '${opts.uniqueKey}'`);
      err.jobId = id;
      throw err;
    },
  },
  /**
   * Enqueues a batch of jobs in one storage step (kbp_jobs_enqueue(3)):
   * each job is { kind, payload?, uniqueKey?, priority?, runAt?, maxAttempts? },
   * as jobEnqueue takes them. Resolves to { ids, created }: ids[i] is job
   * i's id or, when a live job (one earlier in the batch included) holds its
   * unique key, that job's; created counts the new jobs. One refused job
   * (its index in the message), or more than 10,000, enqueues none.
   */
  jobsEnqueue: {
    c: 'kbpw_jobs_enqueue',
    outs: 1,
    args: (jobs) => {
      if (!Array.isArray(jobs)) throw new TypeError('jobs must be an array');
      return [jobs.map((job, i) => {
        const o = options(job, `jobs[${i}]`);
        return jobSpec(o.kind, o.payload === undefined ? {} : o.payload, o, `jobs[${i}].`);
      })];
    },
  },
  /** A page of jobs, newest first: { jobs, next_after }. state: a job state name ('available' …
   *  'canceled'; the old spelling 'cancelled' is accepted too) or null for every state. */
  jobsList: {
    c: 'kbpw_jobs_list',
    outs: 1,
    args: (opts) => {
      const o = options(opts, 'options');
      const state = o.state === undefined || o.state === null ? -1 : choice(JOB_STATES, o.state, 'state', JOB_STATE_ALIASES);
      return [state, dflt(o.kind), zero(o.since), zero(o.limit), dflt(o.after)];
    },
    then: (page) => {
      page.jobs.forEach(parsePayload);
      return page;
    },
  },
  jobGet: { c: 'kbp_job_get', outs: 1, args: (jobId) => [jobId], then: parsePayload },
  jobRetry: { c: 'kbp_job_retry', outs: 0, args: (jobId) => [jobId] },
  jobCancel: { c: 'kbp_job_cancel', outs: 0, args: (jobId) => [jobId] },
  /** Running jobs whose lease passed -> available; how many. */
  jobsRescue: { c: 'kbp_jobs_rescue', outs: 1, args: () => [] },

  /** The stage of an intent's order: verifying, processing, confirmed or failed. */
  orderStatus: { c: 'kbp_order_status_get', outs: 1, args: (intentId) => [intentId] },
  orderGet: { c: 'kbp_order_get', outs: 1, args: (orderNumber) => [orderNumber] },
  orderGetByIntent: { c: 'kbp_order_get_by_intent', outs: 1, args: (intentId) => [intentId] },

  /** One maintenance pass; its counts (`ran` false: another process ran it). */
  maintenanceRun: { c: 'kbp_maintenance_run', outs: 1, args: () => [] },
  metrics: { c: 'kbp_metrics_get', outs: 1, args: () => [] },
  /** The metrics in Prometheus text exposition format. */
  metricsPrometheus: { c: 'kbp_metrics_prometheus', outs: 1, args: () => [] },
  /** Integrity checks, with the offending ids. */
  doctor: { c: 'kbp_doctor_run', outs: 1, args: () => [] },
  /** Metrics judged against thresholds; omitted ones take the library's defaults. */
  health: {
    c: 'kbpw_health_check',
    outs: 1,
    args: (opts) => {
      const o = options(opts, 'options');
      return [threshold(o.stuckCritical, 'stuckCritical'), threshold(o.failedHourWarning, 'failedHourWarning'),
        threshold(o.finalizeP95WarningMs, 'finalizeP95WarningMs'),
        threshold(o.paidWithoutOrderCriticalMs, 'paidWithoutOrderCriticalMs')];
    },
  },
};

// A pipeline that is garbage collected without close() is closed then, its order watch first.
const unclosed = new FinalizationRegistry((held) => {
  if (held.watch) c.kbpw_order_watch_close(held.watch);
  c.kbp_pipeline_close(held.handle);
});

const ORDER_WAIT_MAX_MS = 86400000;

// ------------------------------------------------------------ pipeline

class Pipeline {
  #h;
  #id;
  #busy = 0; // calls in flight: on the thread pool, or orderWaits
  #idle = [];
  #workers = new Set();
  #held; // what the FinalizationRegistry closes: { handle, watch }
  #waits = new Map(); // intent id -> its orderWaits: { resolve, reject, timer }

  /**
   * @param {object} [opts] storage ('memory:' or a PostgreSQL URI) and kbp_options'
   *   fields in camelCase; omitted ones take the library's defaults.
   */
  constructor(opts) {
    const o = options(opts, 'options');
    this._handlers = new Map();
    this.#h = c.kbpw_pipeline_open(OUT, dflt(o.storage), zero(o.intentTtlMs), zero(o.jobLeaseMs),
      zero(o.maxAttempts), zero(o.backoffUnitMs), zero(o.backoffMaxMs),
      zero(o.backoffJitterPct), zero(o.jobRetentionMs), dflt(o.storageSchema),
      zero(o.storagePoolSize), zero(o.reconcileAfterMs));
    this.#id = nextPipelineId++;
    pipelines.set(this.#id, new WeakRef(this));
    this.#held = { handle: this.#h, watch: null };
    unclosed.register(this, this.#held, this);
  }

  #open() {
    if (this.#h === null) throw new Error('the pipeline is closed');
    return this.#h;
  }

  get closed() {
    return this.#h === null;
  }

  /**
   * Stops this pipeline's workers, waits for its calls in flight, then closes it.
   * Rejects with KBP_ESTATE inside a job handler of this pipeline, which it would wait for.
   */
  async close() {
    refuseInHandler(this.#id, 'close()');
    if (this.#h === null) return;
    await Promise.all([...this.#workers].map((w) => w.stop()));
    while (this.#busy > 0) await new Promise((resolve) => this.#idle.push(resolve));
    if (this.#h === null) return;
    unclosed.unregister(this);
    pipelines.delete(this.#id);
    const h = this.#h;
    this.#h = null;
    if (this.#held.watch) c.kbpw_order_watch_close(this.#held.watch);
    c.kbp_pipeline_close(h);
    this._handlers.clear();
  }

  async [Symbol.asyncDispose]() {
    await this.close();
  }

  #release() {
    if (--this.#busy === 0) this.#idle.splice(0).forEach((r) => r());
  }

  // Runs fn(handle, callback) on the thread pool; the pipeline stays open meanwhile.
  _offload(fn) {
    return new Promise((resolve, reject) => {
      fn(this.#open(), (err, value) => {
        this.#release();
        if (err) reject(err);
        else resolve(value);
      });
      this.#busy++;
    });
  }

  // The pipeline's order watch, opened by the first orderWait. Its callback
  // holds the pipeline weakly: an idle watch must not keep it from being collected.
  #orderWatch() {
    const h = this.#open();
    if (!this.#held.watch) {
      const self = new WeakRef(this);
      this.#held.watch = c.kbpw_order_watch_open(OUT, h,
        (ids, results) => self.deref()?.#ordersFinal(ids, results));
    }
    return this.#held.watch;
  }

  _forgetWorker(w) {
    this.#workers.delete(w);
  }

  _refuseInHandler(what) {
    refuseInHandler(this.#id, what);
  }

  now() {
    return c.kbp_pipeline_now(this.#open());
  }

  /** 'memory' or 'postgres'. */
  get storageName() {
    return c.kbp_pipeline_storage_name(this.#open());
  }

  // -- gateways

  /** The sandbox gateway: no network, HMAC-signed callbacks. */
  addSandboxGateway(opts) {
    const o = options(opts, 'options');
    c.kbpw_gateway_add_sandbox(this.#open(), dflt(o.name), dflt(o.baseUrl), zero(o.lookupDelayMs),
      dflt(o.secret));
  }

  /** eSewa ePay v2; the secret comes from secretEnv or secretFile. */
  addEsewaGateway(opts) {
    const o = options(opts, 'options');
    c.kbpw_gateway_add_esewa(this.#open(), dflt(o.name), dflt(o.productCode), dflt(o.secretEnv),
      dflt(o.secretFile), optionalFlag(o.production, 'production'), dflt(o.formUrl),
      dflt(o.statusUrl), dflt(o.successUrl), dflt(o.failureUrl), zero(o.timeoutMs));
  }

  /** Khalti ePayment; the secret comes from secretEnv or secretFile. */
  addKhaltiGateway(opts) {
    const o = options(opts, 'options');
    c.kbpw_gateway_add_khalti(this.#open(), dflt(o.name), dflt(o.secretEnv), dflt(o.secretFile),
      optionalFlag(o.production, 'production'), dflt(o.baseUrl), dflt(o.returnUrl),
      dflt(o.websiteUrl), dflt(o.purchaseOrderName), zero(o.timeoutMs));
  }

  /** Registers the gateways a JSON file describes (kbp_gateways_load). */
  gatewaysLoad(file) {
    c.kbp_gateways_load(this.#open(), file);
  }

  // -- jobs and workers

  /**
   * Runs handler(job) for jobs of `kind`, on the main thread. Returning (or
   * resolving) completes the job; throwing (or rejecting) fails the attempt
   * with the error's message, retried with backoff until maxAttempts. A thrown
   * string is the message; another non-Error value is recorded as
   * 'non-Error value thrown: ' and its JSON (or its String()).
   */
  jobRegister(kind, handler) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    c.kbpw_job_register(this.#open(), kind, this.#id);
    this._handlers.set(kind, handler);
  }

  /** Runs up to maxJobs due jobs off the main thread; resolves to how many ran. */
  runOnce(workerId = 'node', maxJobs = 16) {
    return this._offload((h, cb) => c.kbpw_worker_run_once_async(h, workerId, maxJobs, cb));
  }

  /** Starts background worker threads; `await worker.stop()` (or close()) ends them. */
  workerStart(opts) {
    const o = options(opts, 'options');
    const w = new Worker(this, c.kbpw_worker_start(OUT, this.#open(), o.threads ?? 1, dflt(o.name),
      zero(o.batch), zero(o.pollMs)));
    this.#workers.add(w);
    return w;
  }

  // -- orders

  /**
   * Resolves when the order is confirmed or failed; rejects with KBP_ETIMEOUT
   * (its `status` the latest) when timeoutMs passes first. A wait holds no
   * thread: the pipeline's order watch (kbp_order_watch_open(3)) says when
   * the order may have changed, and its two threads read the status then;
   * the event loop hears only of final orders, many in one callback, so
   * thousands of waits can be in flight.
   */
  orderWait(intentId, timeoutMs = 10000) {
    try {
      if (typeof timeoutMs !== 'number') throw new TypeError('timeoutMs must be a number');
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > ORDER_WAIT_MAX_MS) {
        throw new RangeError(`timeoutMs must be an integer 0 ..= ${ORDER_WAIT_MAX_MS}`);
      }
      // Watched, and its status read once by the watch: the wait ends when the watch says it is final.
      c.kbpw_order_watch_add(this.#orderWatch(), intentId);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#busy++;
    return new Promise((resolve, reject) => {
      const wait = { resolve, reject, timer: null };
      wait.timer = setTimeout(() => this.#orderWaitLate(intentId, wait, timeoutMs), timeoutMs);
      const waits = this.#waits.get(intentId);
      if (waits) waits.add(wait);
      else this.#waits.set(intentId, new Set([wait]));
    });
  }

  // Time is up: the wait stops listening and reads the status one last time.
  #orderWaitLate(intentId, wait, timeoutMs) {
    const waits = this.#waits.get(intentId);
    waits.delete(wait);
    if (waits.size === 0) this.#unwatch(intentId);
    this.orderStatus(intentId).then((status) => {
      if (FINAL_STAGES.has(status.stage)) return status;
      const err = libraryError('KBP_ETIMEOUT',
        `order of intent ${intentId} still ${status.stage} after ${timeoutMs} ms`);
      err.status = status;
      throw err;
    }).then(wait.resolve, wait.reject).finally(() => this.#release());
  }

  #unwatch(intentId) {
    this.#waits.delete(intentId);
    c.kbpw_order_watch_remove(this.#held.watch, intentId);
  }

  // From the order watch: the orders that are final (or could not be read);
  // their waits end, all in this one pass.
  #ordersFinal(ids, results) {
    for (let i = 0; i < ids.length; i++) {
      const waits = this.#waits.get(ids[i]);
      if (waits === undefined) continue;
      this.#unwatch(ids[i]);
      const result = results[i];
      let first = true;
      for (const wait of waits) {
        clearTimeout(wait.timer);
        if (result instanceof Error) wait.reject(result);
        else wait.resolve(first ? result : { ...result });
        first = false;
        this.#release();
      }
    }
  }

  // Each call of CALLS as a Promise form (its name) and a synchronous form (name + 'Sync').
  static {
    for (const [name, call] of Object.entries(CALLS)) {
      const outs = Array(call.outs).fill(OUT);
      const asyncName = `kbpw_${call.c.replace(/^kbpw?_/, '')}_async`;
      const then = call.then ?? ((result) => result);
      const define = (key, value) => Object.defineProperty(Pipeline.prototype, key,
        { value, writable: true, configurable: true });
      define(`${name}Sync`, function (...given) {
        return then(c[call.c](...outs, this.#open(), ...call.args(...given)), given);
      });
      // An async function: argument errors reject too, as every other failure does.
      define(name, async function (...given) {
        const args = call.args(...given);
        const at = call.callbackAt ?? args.length;
        const result = await this._offload((h, cb) =>
          c[asyncName](h, ...args.slice(0, at), cb, ...args.slice(at)));
        return then(result, given);
      });
    }
  }
}

// Running workers, held strongly: their threads use the pipeline, so neither
// may be collected (and the pipeline closed under them) until stop().
const running = new Set();

/** Background worker threads of a Pipeline (kbp_worker_start). */
class Worker {
  #pipeline;
  #w;
  #stopping = null;

  constructor(pipeline, handle) {
    this.#pipeline = pipeline;
    this.#w = handle;
    running.add(this);
    c.kbpw_node_hold(1);
  }

  get running() {
    return this.#w !== null;
  }

  /**
   * Lets the threads finish the jobs they hold and joins them, off the main thread.
   * Rejects with KBP_ESTATE inside a job handler of its pipeline, which it would wait for.
   */
  stop() {
    try {
      this.#pipeline._refuseInHandler('Worker.stop()');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#stopping) return this.#stopping;
    const w = this.#w;
    this.#stopping = new Promise((resolve, reject) => {
      c.kbpw_worker_stop_async(w, (err) => {
        this.#w = null;
        running.delete(this);
        c.kbpw_node_hold(-1);
        this.#pipeline._forgetWorker(this);
        if (err) reject(err);
        else resolve();
      });
    });
    return this.#stopping;
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}

/** Creates or upgrades a PostgreSQL schema (a no-op for 'memory:'); resolves to its version. */
function migrate(storage, schema = null) {
  return new Promise((resolve, reject) => {
    c.kbpw_migrate_async(storage, schema, (err, version) => (err ? reject(err) : resolve(version)));
  });
}

/** migrate() on the calling thread; returns the version. */
function migrateSync(storage, schema = null) {
  return c.kbp_migrate(OUT, storage, schema);
}

/** The library's description of a KBP_E… code (its name or its negative value). */
function strerror(code) {
  return c.kbp_strerror(typeof code === 'string' ? c[code] ?? 0 : code);
}

module.exports = { Pipeline, Worker, PipelineError, migrate, migrateSync, strerror };
