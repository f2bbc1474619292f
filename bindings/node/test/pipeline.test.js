// SPDX-License-Identifier: MIT
// The Node binding, on the memory backend and on PostgreSQL.
//
// The PostgreSQL cases run against KBP_TEST_PG_URI (./dev.sh test starts a
// throwaway server and sets it), each pipeline in a schema of its own. Without the
// variable they are skipped, or fail when KBP_REQUIRE_PG=1 (CI).
// Run with --expose-gc: the memory cases collect garbage before measuring.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Pipeline, PipelineError, migrate, migrateSync, strerror } = require('kbpipeline');

const PG_URI = process.env.KBP_TEST_PG_URI || '';
const REQUIRE_PG = process.env.KBP_REQUIRE_PG === '1';

let schemas = 0;

// A pipeline with one vendor, a product with `onHand` units and the sandbox gateway.
function shop(open, onHand = 10) {
  const p = open();
  p.addSandboxGateway();
  p.vendorPutSync('ilam-tea', 'Ilam Tea House');
  p.productPutSync({ id: 'tea', vendorId: 'ilam-tea', name: 'Ilam tea, 250 g', priceMinor: 45000, onHand });
  return p;
}

function rejects(code) {
  return (err) => err instanceof PipelineError && err instanceof Error && err.code === code;
}

// Resolves once check() is true; rejects after `ms`.
async function until(check, ms = 15000) {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`not true after ${ms} ms: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function backendSuite(name, open) {
  describe(`pipeline on ${name}`, () => {
    let p;

    before(() => {
      p = shop(open);
    });
    after(async () => {
      await p.close();
    });

    test('a paid cart becomes exactly one confirmed order', async () => {
      assert.equal(p.cartSetItemSync('cart-1', 'customer-1', 'tea', 2), 1);
      const intent = p.intentCreateSync('cart-1', 'sandbox', { idempotencyKey: 'checkout-cart-1' });
      assert.match(intent.id, /^pi_/);
      assert.equal(intent.amount_minor, 90000);
      assert.equal(intent.status, 'pending');
      assert.equal(typeof intent.redirect.url, 'string');
      assert.equal(p.productGetSync('tea').reserved, 2);
      assert.equal(p.orderStatusSync(intent.id).stage, 'verifying');

      const callback = p.sandboxPaySync(intent.id);
      const v = p.paymentVerifySync('sandbox', callback);
      assert.equal(v.outcome, 'accepted');
      assert.equal(v.duplicate, false);
      assert.equal(p.orderStatusSync(intent.id).stage, 'processing');
      assert.equal(p.paymentVerifySync('sandbox', Buffer.from(callback)).duplicate, true);

      assert.equal(await p.runOnce('node-test', 16), 1);
      const status = await p.orderWait(intent.id, 5000);
      assert.equal(status.stage, 'confirmed');
      assert.match(status.order_number, /^ORD-/);
      const order = p.orderGetSync(status.order_number);
      assert.equal(order.intent_id, intent.id);
      assert.equal(order.total_minor, 90000);
      assert.deepEqual(order.items.map((i) => [i.sku, i.qty]), [['tea', 2]]);
      const tea = p.productGetSync('tea');
      assert.equal(tea.on_hand, 8);
      assert.equal(tea.reserved, 0);
      assert.equal(p.cartGetSync('cart-1').items.length, 0);
      assert.equal(p.verificationsSync(intent.id).length, 1);
    });

    test('library failures are PipelineErrors with a code', () => {
      p.cartSetItemSync('cart-big', 'customer-2', 'tea', 500);
      assert.throws(() => p.intentCreateSync('cart-big'), (err) => rejects('KBP_EOUTOFSTOCK')(err) &&
        err.errno === -5 && /tea/.test(err.message));
      assert.equal(p.productGetSync('tea').reserved, 0);
      assert.throws(() => p.productGetSync('no-such-sku'), rejects('KBP_ENOTFOUND'));
      assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', -1), rejects('KBP_EINVAL'));
      assert.throws(() => p.paymentVerifySync('sandbox', 'data=not-a-callback'),
        (err) => err instanceof PipelineError);
      assert.throws(() => p.intentCreateSync('cart-big', 'no-such-gateway'), PipelineError);
      assert.equal(strerror('KBP_EOUTOFSTOCK'), strerror(-5));
    });

    test('a forged callback is rejected and changes nothing', () => {
      p.cartSetItemSync('cart-forged', 'customer-3', 'tea', 1);
      const intent = p.intentCreateSync('cart-forged');
      const callback = p.sandboxPaySync(intent.id);
      const forged = callback.slice(0, -3) + (callback.endsWith('AAA') ? 'BBB' : 'AAA');
      assert.throws(() => p.paymentVerifySync('sandbox', forged), PipelineError);
      assert.equal(p.intentGetSync(intent.id).status, 'pending');
      assert.equal(p.orderStatusSync(intent.id).stage, 'verifying');
    });

    test('orderWait runs off the event loop and times out with the latest status', async () => {
      p.cartSetItemSync('cart-wait', 'customer-4', 'tea', 1);
      const intent = p.intentCreateSync('cart-wait');
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const waited = await p.orderWait(intent.id, 300).catch((err) => err);
      clearInterval(timer);
      assert.ok(rejects('KBP_ETIMEOUT')(waited), String(waited));
      assert.equal(waited.status.stage, 'verifying');
      assert.ok(ticks >= 10, `the event loop ran ${ticks} times during a 300 ms wait`);

      const pending = p.orderWait(intent.id, 10000);
      p.paymentVerifySync('sandbox', p.sandboxPaySync(intent.id));
      await p.runOnce();
      assert.equal((await pending).stage, 'confirmed');
    });

    test('orderWait holds no pool thread: runOnce finalizes while 40 waits are in flight', async () => {
      await p.productPut({ id: 'leaf', vendorId: 'ilam-tea', name: 'Loose leaf', priceMinor: 1000, onHand: 100 });
      const ids = [];
      for (let i = 0; i < 40; i++) {
        await p.cartSetItem(`cart-many-${i}`, `customer-many-${i}`, 'leaf', 1);
        const intent = await p.intentCreate(`cart-many-${i}`);
        await p.paymentVerify('sandbox', await p.sandboxPay(intent.id));
        ids.push(intent.id);
      }
      const started = Date.now();
      // Twice for one intent: both waits resolve, and the intent stays watched until the last ends.
      const waits = [...ids, ids[0]].map((id) => p.orderWait(id, 20000));
      assert.ok(await p.runOnce('node-test', 100) >= 40);
      const statuses = await Promise.all(waits);
      assert.deepEqual(new Set(statuses.map((s) => s.stage)), new Set(['confirmed']));
      assert.deepEqual(statuses.map((s) => s.intent_id), [...ids, ids[0]]);
      // One read ends both waits of ids[0], and each gets an object of its own.
      assert.deepEqual(statuses[40], statuses[0]);
      assert.notEqual(statuses[40], statuses[0]);
      assert.ok(Date.now() - started < 10000, `the waits took ${Date.now() - started} ms`);
      await assert.rejects(p.orderWait('pi_none', 1000), rejects('KBP_ENOTFOUND'));
    });

    test('JavaScript job handlers run from worker threads, and their errors are recorded', async () => {
      const seen = [];
      p.jobRegister('email', async (job) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        seen.push(job.payload.to);
      });
      p.jobRegister('always-fails', () => {
        throw new RangeError('the mail server said no');
      });
      for (let i = 0; i < 20; i++) p.jobEnqueueSync('email', { to: `shopper-${i}@example.com` });
      const bad = p.jobEnqueueSync('always-fails', {}, { maxAttempts: 1 });
      const w = p.workerStart({ threads: 2 });
      for (let i = 0; i < 500 && (seen.length < 20 || p.jobGetSync(bad).state !== 'failed'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await w.stop();
      assert.equal(w.running, false);
      assert.equal(seen.length, 20);
      assert.equal(new Set(seen).size, 20);
      const job = p.jobGetSync(bad);
      assert.equal(job.state, 'failed');
      assert.equal(job.last_error, 'RangeError: the mail server said no');
      assert.throws(() => p.jobEnqueueSync('email', {}, { uniqueKey: 'k' }) &&
        p.jobEnqueueSync('email', {}, { uniqueKey: 'k' }), (err) => rejects('KBP_EEXISTS')(err) &&
        typeof err.jobId === 'string');
    });

    test('jobsEnqueue: a batch in one step, each job answered, the new ones counted', async () => {
      const q = shop(open);
      try {
        const held = q.jobEnqueueSync('mail', { to: 'held' }, { uniqueKey: 'held' });
        const { ids, created } = await q.jobsEnqueue([
          { kind: 'mail', payload: { to: 'a' }, uniqueKey: 'new', priority: 5 },
          { kind: 'mail', payload: { to: 'b' }, uniqueKey: 'new' },
          { kind: 'mail', payload: { to: 'c' }, uniqueKey: 'held' },
          { kind: 'mail', payload: '{"to":"d"}', maxAttempts: 2, runAt: 1 },
          { kind: 'report' },
        ]);
        assert.equal(ids.length, 5);
        assert.equal(created, 3);
        // A key held in the batch answers with its first job; one held before, with that job.
        assert.equal(ids[1], ids[0]);
        assert.equal(ids[2], held);
        assert.equal(new Set([held, ids[0], ids[3], ids[4]]).size, 4);
        const first = await q.jobGet(ids[0]);
        assert.deepEqual([first.kind, first.payload, first.priority, first.unique_key, first.state],
          ['mail', { to: 'a' }, 5, 'new', 'available']);
        assert.deepEqual([q.jobGetSync(ids[3]).payload, q.jobGetSync(ids[3]).max_attempts], [{ to: 'd' }, 2]);
        assert.deepEqual(q.jobGetSync(ids[4]).payload, {});
        assert.equal(q.metricsSync().jobs.available, 4);

        const again = q.jobsEnqueueSync([{ kind: 'mail', uniqueKey: 'new' }, { kind: 'report' }]);
        assert.equal(again.ids[0], ids[0]);
        assert.equal(again.created, 1);
        assert.deepEqual(q.jobsEnqueueSync([]), { ids: [], created: 0 });
        assert.equal(q.metricsSync().jobs.available, 5);
      } finally {
        await q.close();
      }
    });

    test('jobsEnqueue refuses a bad batch whole, in both forms', { timeout: 60000 }, async () => {
      const q = shop(open);
      const good = { kind: 'mail', payload: { to: 'a' } };
      const library = (code, message) => (err) => rejects(code)(err) && message.test(err.message);
      const type = (message) => (err) => err instanceof TypeError && err.message === message;
      const cases = [
        [[good, good, { kind: 'mail', priority: 999 }], library('KBP_EINVAL', /^jobs\[2\]: priority/)],
        [[good, { kind: 'mail', payload: '[1]' }], library('KBP_EPARSE', /^jobs\[1\]: /)],
        [[good, { kind: 'mail', uniqueKey: 'k'.repeat(100000) }], library('KBP_ETOOBIG', /^jobs\[1\]: /)],
        [Array(10001).fill(good), library('KBP_ETOOBIG', /^10001 jobs exceed the batch limit of 10000$/)],
        [[good, { kind: 'mail', priority: 'high' }], type('jobs[1].priority must be a number')],
        [[good, { payload: {} }], type('jobs[1].kind must be a string')],
        [[good, 'mail'], type('jobs[1] must be an object')],
        [[good, { kind: 'mail', payload: { n: 1n } }], TypeError],
        ['mail', type('jobs must be an array')],
      ];
      try {
        for (const [jobs, check] of cases) {
          await assert.rejects(q.jobsEnqueue(jobs), check);
          assert.throws(() => q.jobsEnqueueSync(jobs), check);
        }
        assert.equal(q.metricsSync().jobs.available, 0);
        // The limit itself is one batch.
        assert.equal((await q.jobsEnqueue(Array(10000).fill(good))).created, 10000);
        assert.equal(q.metricsSync().jobs.available, 10000);
      } finally {
        await q.close();
      }
    });

    test('a handler that throws a non-Error fails its job with a message', { timeout: 30000 }, async () => {
      const q = shop(open);
      const unprintable = {
        toJSON() { throw new Error('no JSON'); },
        toString() { throw new Error('no text'); },
      };
      const brokenError = Object.defineProperty(new Error('x'), 'message', {
        get() { throw new Error('no message'); },
      });
      const thrown = [
        [Object.create(null), 'non-Error value thrown: {}'],
        [undefined, 'non-Error value thrown: undefined'],
        [null, 'non-Error value thrown: null'],
        ['the mail server said no', 'the mail server said no'],
        [42, 'non-Error value thrown: 42'],
        [Symbol('gone'), 'non-Error value thrown: Symbol(gone)'],
        [{ code: 'E_MAIL' }, 'non-Error value thrown: {"code":"E_MAIL"}'],
        [unprintable, 'non-Error value thrown: [object Object]'],
        [brokenError, 'the job handler threw a value that cannot be described'],
      ];
      const ids = thrown.map(([value], i) => {
        q.jobRegister(`throws-${i}`, i % 2 ? () => { throw value; } : async () => Promise.reject(value));
        return q.jobEnqueueSync(`throws-${i}`, {}, { maxAttempts: 1 });
      });
      assert.equal(await q.runOnce('node-test', 16), thrown.length);
      thrown.forEach(([, message], i) => {
        const job = q.jobGetSync(ids[i]);
        assert.equal(job.state, 'failed', `job ${i}`);
        assert.equal(job.last_error, message, `job ${i}`);
      });
      await q.close();
    });

    test('close() and Worker.stop() from a handler are refused, not deadlocked', {
      timeout: 30000,
    }, async () => {
      const q = shop(open);
      const refusals = [];
      let worker;
      let closedLater;
      let allowClose;
      const closeAllowed = new Promise((resolve) => {
        allowClose = resolve;
      });
      q.jobRegister('closer', async (job) => {
        await q.close().catch((err) => refusals.push(err));
        await worker.stop().catch((err) => refusals.push(err));
        if (job.payload.closeLater) {
          // What the handler leaves to run after it has returned may close the pipeline.
          closedLater = closeAllowed.then(() => q.close());
        }
      });
      worker = q.workerStart({ threads: 1, pollMs: 10 });
      const first = q.jobEnqueueSync('closer', {}, { maxAttempts: 1 });
      await until(() => q.jobGetSync(first).state === 'completed');
      assert.equal(refusals.length, 2);
      assert.equal(worker.running, true);
      assert.equal(q.closed, false);
      await worker.stop();
      const second = q.jobEnqueueSync('closer', { closeLater: true }, { maxAttempts: 1 });
      assert.equal(await q.runOnce('node-test', 1), 1);
      assert.equal(q.jobGetSync(second).state, 'completed');
      assert.equal(refusals.length, 4);
      for (const err of refusals) {
        assert.ok(rejects('KBP_ESTATE')(err), String(err));
        assert.match(err.message,
          /^(close|Worker\.stop)\(\) cannot run inside a job handler of its pipeline: it would wait/);
      }
      allowClose();
      await closedLater;
      assert.equal(q.closed, true);
    });

    test('concurrent shoppers sell exactly the stock, through a running worker', async () => {
      p.productPutSync({ id: 'slot', vendorId: 'ilam-tea', name: 'Tasting, 10:00', priceMinor: 1500, onHand: 5 });
      const w = p.workerStart({ threads: 2 });
      const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
        const cart = `cart-slot-${i}`;
        p.cartSetItemSync(cart, `customer-slot-${i}`, 'slot', 1);
        let intent;
        try {
          intent = p.intentCreateSync(cart);
        } catch (err) {
          if (err.code === 'KBP_EOUTOFSTOCK') return 'refused';
          throw err;
        }
        p.paymentVerifySync('sandbox', p.sandboxPaySync(intent.id));
        return (await p.orderWait(intent.id, 10000)).stage;
      }));
      await w.stop();
      assert.equal(results.filter((r) => r === 'confirmed').length, 5);
      assert.equal(results.filter((r) => r === 'refused').length, 7);
      const slot = p.productGetSync('slot');
      assert.equal(slot.on_hand, 0);
      assert.equal(slot.reserved, 0);
    });

    test('each Promise form resolves as its Sync form returns', async () => {
      await p.vendorPut('tea-garden', 'Tea Garden');
      assert.deepEqual(await p.vendorGet('tea-garden'), { id: 'tea-garden', name: 'Tea Garden' });
      await p.productPut({ id: 'green', vendorId: 'tea-garden', name: 'Green tea', priceMinor: 30000, onHand: 3 });
      await p.productSetActive('green', false);
      assert.equal((await p.productGet('green')).active, false);
      assert.deepEqual(await p.productGet('green'), p.productGetSync('green'));
      await p.productSetActive('green', true);

      assert.equal(await p.cartSetItem('cart-async', 'customer-a', 'tea', 2), 1);
      assert.equal(await p.cartSetItem('cart-async', 'customer-a', 'green', 1), 2);
      assert.equal(await p.cartRemoveItem('cart-async', 'customer-a', 'green'), 3);
      const cart = await p.cartGet('cart-async');
      assert.deepEqual(cart.items, [{ sku: 'tea', qty: 2 }]);
      assert.deepEqual(cart, p.cartGetSync('cart-async'));

      const intent = await p.intentCreate('cart-async', 'sandbox', { idempotencyKey: 'async-1' });
      assert.equal(intent.status, 'pending');
      assert.equal(intent.amount_minor, 90000);
      assert.equal(typeof intent.redirect.url, 'string');
      assert.deepEqual(await p.intentGet(intent.id), p.intentGetSync(intent.id));
      assert.equal((await p.orderStatus(intent.id)).stage, 'verifying');
      assert.deepEqual(await p.orderStatus(intent.id), p.orderStatusSync(intent.id));

      const callback = await p.sandboxPay(intent.id);
      assert.equal(typeof callback, 'string');
      const v = await p.paymentVerify('sandbox', callback);
      assert.equal(v.outcome, 'accepted');
      assert.equal(v.duplicate, false);
      assert.equal((await p.paymentVerify('sandbox', Buffer.from(callback))).duplicate, true);
      assert.equal((await p.verifications(intent.id)).length, 1);
      assert.deepEqual(await p.verifications(intent.id), p.verificationsSync(intent.id));
      assert.ok(await p.runOnce('node-test', 16) >= 1);
      const status = await p.orderStatus(intent.id);
      assert.equal(status.stage, 'confirmed');
      const order = await p.orderGet(status.order_number);
      assert.equal(order.intent_id, intent.id);
      assert.deepEqual(order, p.orderGetSync(status.order_number));
      assert.deepEqual(await p.orderGetByIntent(intent.id), order);

      await p.cartSetItem('cart-async-cancel', 'customer-a', 'tea', 1);
      const dropped = await p.intentCreate('cart-async-cancel');
      await p.intentCancel(dropped.id);
      assert.equal((await p.intentGet(dropped.id)).status, 'canceled');

      const id = await p.jobEnqueue('async-kind', { n: 1 }, { maxAttempts: 1 });
      const job = await p.jobGet(id);
      assert.deepEqual(job.payload, { n: 1 });
      assert.deepEqual(job, p.jobGetSync(id));
      await p.jobCancel(id);
      assert.equal((await p.jobGet(id)).state, 'canceled');
      // The old spelling still selects the state, as the new one does.
      for (const state of ['canceled', 'cancelled']) {
        const listed = await p.jobsList({ state, kind: 'async-kind' });
        assert.deepEqual(listed.jobs.map((j) => [j.id, j.state]), [[id, 'canceled']]);
      }
      await p.jobRetry(id);
      assert.equal((await p.jobGet(id)).state, 'available');
      const page = await p.jobsList({ kind: 'async-kind' });
      assert.deepEqual(page.jobs.map((j) => j.id), [id]);
      assert.deepEqual(page, p.jobsListSync({ kind: 'async-kind' }));
      await p.jobCancel(id);
      assert.equal(await p.jobsRescue(), 0);

      const m = await p.metrics();
      assert.deepEqual(Object.keys(m), Object.keys(p.metricsSync()));
      assert.ok(m.orders >= 2, `orders: ${m.orders}`);
      assert.match(await p.metricsPrometheus(), /^# (HELP|TYPE) kbp_/m);
      assert.equal((await p.health()).level, p.healthSync().level);
      assert.deepEqual(await p.doctor(), p.doctorSync());
      assert.equal(typeof (await p.maintenanceRun()).ran, 'boolean');
    });

    test('Promise forms reject with the PipelineError the Sync forms throw', async () => {
      const same = async (call, code) => {
        let thrown;
        try {
          p[`${call[0]}Sync`](...call.slice(1));
        } catch (err) {
          thrown = err;
        }
        assert.ok(rejects(code)(thrown), `${call[0]}Sync threw ${thrown}`);
        await assert.rejects(p[call[0]](...call.slice(1)), (err) => rejects(code)(err) &&
          err.errno === thrown.errno && err.message === thrown.message);
      };
      await p.cartSetItem('cart-async-big', 'customer-b', 'tea', 500);
      const reserved = (await p.productGet('tea')).reserved;
      await same(['intentCreate', 'cart-async-big'], 'KBP_EOUTOFSTOCK');
      assert.equal((await p.productGet('tea')).reserved, reserved);
      await same(['productGet', 'no-such-sku'], 'KBP_ENOTFOUND');
      await same(['cartSetItem', 'c', 'x', 'tea', -1], 'KBP_EINVAL');
      await same(['intentCreate', 'cart-async-big', 'no-such-gateway'], 'KBP_ENOTFOUND');
      await same(['jobRetry', 'job_none'], 'KBP_ENOTFOUND');
      await same(['orderStatus', 'pi_none'], 'KBP_ENOTFOUND');
      await same(['paymentVerify', 'sandbox', 'data=' + 'x'.repeat(100000)], 'KBP_ETOOBIG');
      await same(['health', { paidWithoutOrderCriticalMs: 1000 }], 'KBP_EINVAL');
      await p.jobEnqueue('async-kind', {}, { uniqueKey: 'async-unique' });
      await assert.rejects(p.jobEnqueue('async-kind', {}, { uniqueKey: 'async-unique' }),
        (err) => rejects('KBP_EEXISTS')(err) && typeof err.jobId === 'string');
    });

    test('operator views: jobs, metrics, health, doctor', () => {
      const page = p.jobsListSync({ state: 'completed', limit: 5 });
      assert.ok(page.jobs.length > 0 && page.jobs.length <= 5);
      assert.ok(page.jobs.every((j) => j.state === 'completed' && typeof j.payload === 'object'));
      const m = p.metricsSync();
      assert.ok(m.orders >= 7, `orders: ${m.orders}`);
      assert.match(p.metricsPrometheusSync(), /^# (HELP|TYPE) kbp_/m);
      assert.equal(m.paid_intents_without_order_late, 0);
      assert.equal(m.paid_without_order_oldest_ms, 0);
      assert.ok(['ok', 'info', 'warning', 'critical'].includes(p.healthSync().level));
      assert.throws(() => p.healthSync({ paidWithoutOrderCriticalMs: 1000 }), { code: 'KBP_EINVAL' });
      assert.equal(typeof p.doctorSync().problems, 'number');
      assert.equal(typeof p.maintenanceRunSync().ran, 'boolean');
    });
  });
}

backendSuite('memory', () => new Pipeline({ storage: 'memory:' }));

describe('pipeline on PostgreSQL', { skip: !PG_URI && !REQUIRE_PG && 'KBP_TEST_PG_URI is not set' }, () => {
  test('KBP_TEST_PG_URI names the server', () => {
    assert.ok(PG_URI, 'KBP_REQUIRE_PG=1 requires KBP_TEST_PG_URI');
  });
  if (!PG_URI) return;
  // Each pipeline in a schema of its own, so that no test runs another's jobs.
  backendSuite('PostgreSQL', () => {
    const schema = `kbp_node_${process.pid}_${++schemas}`;
    assert.ok(migrateSync(PG_URI, schema) >= 1);
    return new Pipeline({ storage: PG_URI, storageSchema: schema });
  });
});

describe('Promise forms on PostgreSQL', { skip: !PG_URI && !REQUIRE_PG && 'KBP_TEST_PG_URI is not set' }, () => {
  test('migrate() resolves, and 400 calls in flight leave the event loop ticking', async () => {
    assert.ok(PG_URI, 'KBP_REQUIRE_PG=1 requires KBP_TEST_PG_URI');
    const schema = `kbp_node_${process.pid}_async`;
    assert.ok(await migrate(PG_URI, schema) >= 1);
    const p = shop(() => new Pipeline({ storage: PG_URI, storageSchema: schema }));
    try {
      await p.cartSetItem('cart-loop', 'customer', 'tea', 1);
      const intent = await p.intentCreate('cart-loop');
      const expected = p.orderStatusSync(intent.id);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) =>
        (i % 2 ? p.orderStatus(intent.id) : p.intentGet(intent.id))));
      const took = Date.now() - started;
      clearInterval(timer);
      results.forEach((r, i) => assert.equal(i % 2 ? r.stage : r.status,
        i % 2 ? expected.stage : 'pending'));
      assert.ok(ticks >= Math.min(5, took / 4), `the event loop ran ${ticks} times in ${took} ms`);
      assert.ok(ticks >= 2, `the event loop ran ${ticks} times in ${took} ms`);
    } finally {
      await p.close();
    }
  });
});

describe('bad input never crashes', () => {
  let p;

  before(() => {
    p = shop(() => new Pipeline());
  });
  after(async () => {
    await p.close();
  });

  test('wrong types are TypeErrors', () => {
    assert.throws(() => p.vendorPutSync(42, 'x'), TypeError);
    assert.throws(() => p.vendorPutSync(null, 'x'), TypeError);
    assert.throws(() => p.vendorPutSync(undefined, 'x'), TypeError);
    assert.throws(() => p.vendorPutSync({ toString: () => 'v' }, 'x'), TypeError);
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', '1'), TypeError);
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', 1n), TypeError);
    assert.throws(() => p.productPutSync('tea'), TypeError);
    assert.throws(() => p.productPutSync({ id: 'tea', vendorId: 'ilam-tea', name: 'x', priceMinor: 1, onHand: 1, active: 'yes' }), TypeError);
    assert.throws(() => p.paymentVerifySync('sandbox', 12345), TypeError);
    assert.throws(() => p.jobRegister('k', 'not a function'), TypeError);
    assert.throws(() => new Pipeline('memory:'), TypeError);
    assert.throws(() => p.vendorPutSync('a\0b', 'x'), /NUL/);
    assert.throws(() => p.jobEnqueueSync('k', { big: 1n }), TypeError);
  });

  test('numbers out of range are RangeErrors or KBP_EINVAL', async () => {
    await assert.rejects(p.runOnce('w', 2 ** 40), RangeError);
    await assert.rejects(p.orderWait(17), TypeError);
    await assert.rejects(p.orderWait('pi_x', '5'), TypeError);
    await assert.rejects(p.orderWait('pi_x', -1), RangeError);
    await assert.rejects(p.orderWait('pi_x', 86400001), RangeError);
    await assert.rejects(p.orderWait('', 5), rejects('KBP_EINVAL'));
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', 1.5), RangeError);
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', NaN), RangeError);
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', 2 ** 60), RangeError);
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', 0), rejects('KBP_EINVAL'));
    assert.throws(() => p.cartSetItemSync('c', 'x', 'tea', -3), rejects('KBP_EINVAL'));
    assert.throws(() => p.productPutSync({ id: 'neg', vendorId: 'ilam-tea', name: 'x', priceMinor: -1, onHand: 1 }), rejects('KBP_EINVAL'));
    assert.throws(() => p.jobsListSync({ state: 'sleeping' }), RangeError);
    assert.throws(() => p.sandboxPaySync('pi_x', 'maybe'), RangeError);
  });

  test('argument errors of the Promise forms reject, never throw', async () => {
    const cases = [
      [() => p.vendorPut(42, 'x'), TypeError],
      [() => p.cartSetItem('c', 'x', 'tea', '1'), TypeError],
      [() => p.cartSetItem('c', 'x', 'tea', 1.5), RangeError],
      [() => p.productPut('tea'), TypeError],
      [() => p.paymentVerify('sandbox', 12345), TypeError],
      [() => p.jobsList({ state: 'sleeping' }), RangeError],
      [() => p.sandboxPay('pi_x', 'maybe'), RangeError],
      [() => p.jobEnqueue('k', { big: 1n }), TypeError],
      [() => p.health({ stuckCritical: -1 }), RangeError],
      [() => p.intentCreate('c', 'sandbox', 'not options'), TypeError],
      [() => migrate(42), TypeError],
    ];
    for (const [call, type] of cases) {
      let pending;
      assert.doesNotThrow(() => {
        pending = call();
      }, `${call}`);
      await assert.rejects(pending, type, `${call}`);
    }
  });

  test('over-long strings and callbacks are refused, and nothing is written', () => {
    const long = 'x'.repeat(100000);
    assert.throws(() => p.vendorPutSync(long, 'x'), PipelineError);
    assert.throws(() => p.cartSetItemSync('c-long', 'x', long, 1), PipelineError);
    assert.throws(() => p.paymentVerifySync('sandbox', 'data=' + long), rejects('KBP_ETOOBIG'));
    assert.throws(() => p.cartGetSync('c-long'), rejects('KBP_ENOTFOUND'));
  });

  test('a closed pipeline refuses calls', async () => {
    const q = new Pipeline();
    await q.close();
    await q.close();
    assert.equal(q.closed, true);
    assert.throws(() => q.vendorPutSync('v', 'x'), /closed/);
    await assert.rejects(q.orderWait('pi_x'), /closed/);
  });
});

describe('memory', () => {
  function rss() {
    global.gc();
    return process.memoryUsage().rss;
  }

  test('10,000 calls in a loop do not grow memory', () => {
    assert.equal(typeof global.gc, 'function', 'run with --expose-gc');
    const p = shop(() => new Pipeline(), 1000000);
    p.cartSetItemSync('cart-loop', 'customer', 'tea', 1);
    const round = (i) => {
      p.productGetSync('tea');
      p.cartGetSync('cart-loop');
      p.intentGetSync(p.intentCreateSync('cart-loop', 'sandbox', { idempotencyKey: 'loop' }).id);
      assert.throws(() => p.productGetSync(`missing-${i}`), PipelineError);
      assert.throws(() => p.vendorPutSync(i, 'x'), TypeError);
    };
    for (let i = 0; i < 2000; i++) round(i);
    const before = rss();
    for (let i = 0; i < 10000; i++) round(i);
    const grown = rss() - before;
    // A leaked out-parameter per call grows it by ~15 MB; the heap's own settling, from
    // run to run, by 0.3 to 4.6 MB.
    assert.ok(grown < 8 * 1024 * 1024, `RSS grew by ${grown} bytes over 10,000 rounds`);
    return p.close();
  });

  // Outside the test function: a registry that is itself unreachable never calls back.
  let collected = 0;
  const seen = new FinalizationRegistry(() => collected++);

  // Drops n pipelines holding some memory each, and waits until they are collected.
  // setUp(p), if given, runs on each pipeline before it is dropped.
  async function dropPipelines(n, setUp = async () => {}) {
    const target = collected + n;
    for (let i = 0; i < n; i++) {
      const p = shop(() => new Pipeline());
      for (let j = 0; j < 50; j++) {
        p.productPutSync({ id: `sku-${j}`, vendorId: 'ilam-tea', name: 'x'.repeat(200), priceMinor: 1, onHand: 1 });
      }
      await setUp(p);
      seen.register(p, i);
    }
    for (let i = 0; i < 300 && collected < target; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      global.gc();
    }
    return n - (target - collected);
  }

  test('a dropped pipeline with a running worker is kept until the worker stops', async () => {
    let worker;
    let done = 0;
    (() => {
      const p = shop(() => new Pipeline());
      p.jobRegister('tick', () => {
        done++;
      });
      worker = p.workerStart({ threads: 1, pollMs: 10 });
      seen.register(p, -1);
    })();
    const before = collected;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      global.gc();
    }
    assert.equal(collected, before, 'the pipeline of a running worker was collected');
    await worker.stop();
    assert.equal(done, 0);
  });

  test('a pipeline dropped without close() is collected and closed', async () => {
    // The second round reuses the memory the first freed, if the pipelines were closed.
    assert.ok(await dropPipelines(300) >= 290);
    const before = rss();
    const n = await dropPipelines(300);
    const grown = rss() - before;
    assert.ok(n >= 290, `${n} of 300 pipelines collected`);
    assert.ok(grown < 8 * 1024 * 1024, `RSS grew by ${grown} bytes for 300 more dropped pipelines`);
  });

  test('a dropped pipeline is collected with its order watch, which is closed', async () => {
    // Last: one that is collected late must not count in another test's figures.
    // orderWait opens the watch; a wait that has ended leaves it open and idle.
    const n = await dropPipelines(20, async (p) => {
      p.cartSetItemSync('cart', 'customer', 'tea', 1);
      const intent = p.intentCreateSync('cart');
      await assert.rejects(p.orderWait(intent.id, 0), rejects('KBP_ETIMEOUT'));
    });
    assert.ok(n >= 18, `${n} of 20 pipelines with an order watch collected`);
  });
});
