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
const { Pipeline, PipelineError, migrate, strerror } = require('kbpipeline');

const PG_URI = process.env.KBP_TEST_PG_URI || '';
const REQUIRE_PG = process.env.KBP_REQUIRE_PG === '1';

let schemas = 0;

// A pipeline with one vendor, a product with `onHand` units and the sandbox gateway.
function shop(open, onHand = 10) {
  const p = open();
  p.addSandboxGateway();
  p.vendorPut('ilam-tea', 'Ilam Tea House');
  p.productPut({ id: 'tea', vendorId: 'ilam-tea', name: 'Ilam tea, 250 g', priceMinor: 45000, onHand });
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
      assert.equal(p.cartSetItem('cart-1', 'customer-1', 'tea', 2), 1);
      const intent = p.intentCreate('cart-1', 'sandbox', { idempotencyKey: 'checkout-cart-1' });
      assert.match(intent.id, /^pi_/);
      assert.equal(intent.amount_minor, 90000);
      assert.equal(intent.status, 'pending');
      assert.equal(typeof intent.redirect.url, 'string');
      assert.equal(p.productGet('tea').reserved, 2);
      assert.equal(p.orderStatus(intent.id).stage, 'verifying');

      const callback = p.sandboxPay(intent.id);
      const v = p.paymentVerify('sandbox', callback);
      assert.equal(v.outcome, 'accepted');
      assert.equal(v.duplicate, false);
      assert.equal(p.orderStatus(intent.id).stage, 'processing');
      assert.equal(p.paymentVerify('sandbox', Buffer.from(callback)).duplicate, true);

      assert.equal(await p.runOnce('node-test', 16), 1);
      const status = await p.orderWait(intent.id, 5000);
      assert.equal(status.stage, 'confirmed');
      assert.match(status.order_number, /^ORD-/);
      const order = p.orderGet(status.order_number);
      assert.equal(order.intent_id, intent.id);
      assert.equal(order.total_minor, 90000);
      assert.deepEqual(order.items.map((i) => [i.sku, i.qty]), [['tea', 2]]);
      const tea = p.productGet('tea');
      assert.equal(tea.on_hand, 8);
      assert.equal(tea.reserved, 0);
      assert.equal(p.cartGet('cart-1').items.length, 0);
      assert.equal(p.verifications(intent.id).length, 1);
    });

    test('library failures are PipelineErrors with a code', () => {
      p.cartSetItem('cart-big', 'customer-2', 'tea', 500);
      assert.throws(() => p.intentCreate('cart-big'), (err) => rejects('KBP_EOUTOFSTOCK')(err) &&
        err.errno === -5 && /tea/.test(err.message));
      assert.equal(p.productGet('tea').reserved, 0);
      assert.throws(() => p.productGet('no-such-sku'), rejects('KBP_ENOTFOUND'));
      assert.throws(() => p.cartSetItem('c', 'x', 'tea', -1), rejects('KBP_EINVAL'));
      assert.throws(() => p.paymentVerify('sandbox', 'data=not-a-callback'),
        (err) => err instanceof PipelineError);
      assert.throws(() => p.intentCreate('cart-big', 'no-such-gateway'), PipelineError);
      assert.equal(strerror('KBP_EOUTOFSTOCK'), strerror(-5));
    });

    test('a forged callback is rejected and changes nothing', () => {
      p.cartSetItem('cart-forged', 'customer-3', 'tea', 1);
      const intent = p.intentCreate('cart-forged');
      const callback = p.sandboxPay(intent.id);
      const forged = callback.slice(0, -3) + (callback.endsWith('AAA') ? 'BBB' : 'AAA');
      assert.throws(() => p.paymentVerify('sandbox', forged), PipelineError);
      assert.equal(p.intentGet(intent.id).status, 'pending');
      assert.equal(p.orderStatus(intent.id).stage, 'verifying');
    });

    test('orderWait runs off the event loop and times out with the latest status', async () => {
      p.cartSetItem('cart-wait', 'customer-4', 'tea', 1);
      const intent = p.intentCreate('cart-wait');
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const waited = await p.orderWait(intent.id, 300).catch((err) => err);
      clearInterval(timer);
      assert.ok(rejects('KBP_ETIMEOUT')(waited), String(waited));
      assert.equal(waited.status.stage, 'verifying');
      assert.ok(ticks >= 10, `the event loop ran ${ticks} times during a 300 ms wait`);

      const pending = p.orderWait(intent.id, 10000);
      p.paymentVerify('sandbox', p.sandboxPay(intent.id));
      await p.runOnce();
      assert.equal((await pending).stage, 'confirmed');
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
      for (let i = 0; i < 20; i++) p.jobEnqueue('email', { to: `shopper-${i}@example.com` });
      const bad = p.jobEnqueue('always-fails', {}, { maxAttempts: 1 });
      const w = p.workerStart({ threads: 2 });
      for (let i = 0; i < 500 && (seen.length < 20 || p.jobGet(bad).state !== 'failed'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await w.stop();
      assert.equal(w.running, false);
      assert.equal(seen.length, 20);
      assert.equal(new Set(seen).size, 20);
      const job = p.jobGet(bad);
      assert.equal(job.state, 'failed');
      assert.equal(job.last_error, 'RangeError: the mail server said no');
      assert.throws(() => p.jobEnqueue('email', {}, { uniqueKey: 'k' }) &&
        p.jobEnqueue('email', {}, { uniqueKey: 'k' }), (err) => rejects('KBP_EEXISTS')(err) &&
        typeof err.jobId === 'string');
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
        return q.jobEnqueue(`throws-${i}`, {}, { maxAttempts: 1 });
      });
      assert.equal(await q.runOnce('node-test', 16), thrown.length);
      thrown.forEach(([, message], i) => {
        const job = q.jobGet(ids[i]);
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
      const first = q.jobEnqueue('closer', {}, { maxAttempts: 1 });
      await until(() => q.jobGet(first).state === 'completed');
      assert.equal(refusals.length, 2);
      assert.equal(worker.running, true);
      assert.equal(q.closed, false);
      await worker.stop();
      const second = q.jobEnqueue('closer', { closeLater: true }, { maxAttempts: 1 });
      assert.equal(await q.runOnce('node-test', 1), 1);
      assert.equal(q.jobGet(second).state, 'completed');
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
      p.productPut({ id: 'slot', vendorId: 'ilam-tea', name: 'Tasting, 10:00', priceMinor: 1500, onHand: 5 });
      const w = p.workerStart({ threads: 2 });
      const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
        const cart = `cart-slot-${i}`;
        p.cartSetItem(cart, `customer-slot-${i}`, 'slot', 1);
        let intent;
        try {
          intent = p.intentCreate(cart);
        } catch (err) {
          if (err.code === 'KBP_EOUTOFSTOCK') return 'refused';
          throw err;
        }
        p.paymentVerify('sandbox', p.sandboxPay(intent.id));
        return (await p.orderWait(intent.id, 10000)).stage;
      }));
      await w.stop();
      assert.equal(results.filter((r) => r === 'confirmed').length, 5);
      assert.equal(results.filter((r) => r === 'refused').length, 7);
      const slot = p.productGet('slot');
      assert.equal(slot.on_hand, 0);
      assert.equal(slot.reserved, 0);
    });

    test('operator views: jobs, metrics, health, doctor', () => {
      const page = p.jobsList({ state: 'completed', limit: 5 });
      assert.ok(page.jobs.length > 0 && page.jobs.length <= 5);
      assert.ok(page.jobs.every((j) => j.state === 'completed' && typeof j.payload === 'object'));
      const m = p.metrics();
      assert.ok(m.orders >= 7, `orders: ${m.orders}`);
      assert.match(p.metricsPrometheus(), /^# (HELP|TYPE) kbp_/m);
      assert.equal(m.paid_intents_without_order_late, 0);
      assert.equal(m.paid_without_order_oldest_ms, 0);
      assert.ok(['ok', 'info', 'warning', 'critical'].includes(p.health().level));
      assert.throws(() => p.health({ paidWithoutOrderCriticalMs: 1000 }), { code: 'KBP_EINVAL' });
      assert.equal(typeof p.doctor().problems, 'number');
      assert.equal(typeof p.maintenanceRun().ran, 'boolean');
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
    assert.ok(migrate(PG_URI, schema) >= 1);
    return new Pipeline({ storage: PG_URI, storageSchema: schema });
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
    assert.throws(() => p.vendorPut(42, 'x'), TypeError);
    assert.throws(() => p.vendorPut(null, 'x'), TypeError);
    assert.throws(() => p.vendorPut(undefined, 'x'), TypeError);
    assert.throws(() => p.vendorPut({ toString: () => 'v' }, 'x'), TypeError);
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', '1'), TypeError);
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', 1n), TypeError);
    assert.throws(() => p.productPut('tea'), TypeError);
    assert.throws(() => p.productPut({ id: 'tea', vendorId: 'ilam-tea', name: 'x', priceMinor: 1, onHand: 1, active: 'yes' }), TypeError);
    assert.throws(() => p.paymentVerify('sandbox', 12345), TypeError);
    assert.throws(() => p.jobRegister('k', 'not a function'), TypeError);
    assert.throws(() => new Pipeline('memory:'), TypeError);
    assert.throws(() => p.vendorPut('a\0b', 'x'), /NUL/);
    assert.throws(() => p.jobEnqueue('k', { big: 1n }), TypeError);
  });

  test('numbers out of range are RangeErrors or KBP_EINVAL', async () => {
    await assert.rejects(p.runOnce('w', 2 ** 40), RangeError);
    await assert.rejects(p.orderWait(17), TypeError);
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', 1.5), RangeError);
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', NaN), RangeError);
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', 2 ** 60), RangeError);
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', 0), rejects('KBP_EINVAL'));
    assert.throws(() => p.cartSetItem('c', 'x', 'tea', -3), rejects('KBP_EINVAL'));
    assert.throws(() => p.productPut({ id: 'neg', vendorId: 'ilam-tea', name: 'x', priceMinor: -1, onHand: 1 }), rejects('KBP_EINVAL'));
    assert.throws(() => p.jobsList({ state: 'sleeping' }), RangeError);
    assert.throws(() => p.sandboxPay('pi_x', 'maybe'), RangeError);
  });

  test('over-long strings and callbacks are refused, and nothing is written', () => {
    const long = 'x'.repeat(100000);
    assert.throws(() => p.vendorPut(long, 'x'), PipelineError);
    assert.throws(() => p.cartSetItem('c-long', 'x', long, 1), PipelineError);
    assert.throws(() => p.paymentVerify('sandbox', 'data=' + long), rejects('KBP_ETOOBIG'));
    assert.throws(() => p.cartGet('c-long'), rejects('KBP_ENOTFOUND'));
  });

  test('a closed pipeline refuses calls', async () => {
    const q = new Pipeline();
    await q.close();
    await q.close();
    assert.equal(q.closed, true);
    assert.throws(() => q.vendorPut('v', 'x'), /closed/);
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
    p.cartSetItem('cart-loop', 'customer', 'tea', 1);
    const round = (i) => {
      p.productGet('tea');
      p.cartGet('cart-loop');
      p.intentGet(p.intentCreate('cart-loop', 'sandbox', { idempotencyKey: 'loop' }).id);
      assert.throws(() => p.productGet(`missing-${i}`), PipelineError);
      assert.throws(() => p.vendorPut(i, 'x'), TypeError);
    };
    for (let i = 0; i < 2000; i++) round(i);
    const before = rss();
    for (let i = 0; i < 10000; i++) round(i);
    const grown = rss() - before;
    assert.ok(grown < 4 * 1024 * 1024, `RSS grew by ${grown} bytes over 10,000 rounds`);
    return p.close();
  });

  // Outside the test function: a registry that is itself unreachable never calls back.
  let collected = 0;
  const seen = new FinalizationRegistry(() => collected++);

  // Drops n pipelines holding some memory each, and waits until they are collected.
  async function dropPipelines(n) {
    const target = collected + n;
    for (let i = 0; i < n; i++) {
      const p = shop(() => new Pipeline());
      for (let j = 0; j < 50; j++) {
        p.productPut({ id: `sku-${j}`, vendorId: 'ilam-tea', name: 'x'.repeat(200), priceMinor: 1, onHand: 1 });
      }
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
});
