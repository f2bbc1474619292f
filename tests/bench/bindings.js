// SPDX-License-Identifier: MIT
// One shopper's orders through the Node binding: the same steps per order as
// bindings.c, once with the synchronous forms (binding "node") and once with
// the Promise forms, each call on libuv's thread pool ("node-promise").
// runOnce goes through the thread pool in both (it may run JavaScript
// handlers); the order is then final, so its status is read directly rather
// than waited for. Beside each rate: the event loop's lag while it ran
// (perf_hooks.monitorEventLoopDelay, p50, p99 and max, in ms), which the
// synchronous forms add to every other request of the process.
// Prints one JSON object per form. bindings.sh runs it beside the C bench.
//
//     node bindings.js ORDERS [STORAGE]      (STORAGE: memory: or a PostgreSQL URI)
'use strict';

const { monitorEventLoopDelay } = require('node:perf_hooks');
const { Pipeline, migrate } = require('kbpipeline');

const N_SKUS = 64;
const sku = (i) => `bench-sku-${String(i % N_SKUS).padStart(2, '0')}`;

const FORMS = {
  node: async (p, i) => {
    p.cartSetItemSync('bench-cart-0', 'bench-customer-0', sku(i), 1);
    const intent = p.intentCreateSync('bench-cart-0', 'sandbox');
    p.paymentVerifySync('sandbox', p.sandboxPaySync(intent.id));
    await p.runOnce('bench', 64);
    return p.orderStatusSync(intent.id);
  },
  'node-promise': async (p, i) => {
    await p.cartSetItem('bench-cart-0', 'bench-customer-0', sku(i), 1);
    const intent = await p.intentCreate('bench-cart-0', 'sandbox');
    await p.paymentVerify('sandbox', await p.sandboxPay(intent.id));
    await p.runOnce('bench', 64);
    return p.orderStatus(intent.id);
  },
};

async function open(storage) {
  const schema = storage === 'memory:' ? null : `kbp_bench_node_${process.pid}`;
  if (schema) await migrate(storage, schema);
  const p = new Pipeline({ storage, storageSchema: schema });
  p.addSandboxGateway();
  await p.vendorPut('bench-vendor', 'Bench Vendor');
  for (let i = 0; i < N_SKUS; i++) {
    await p.productPut({ id: sku(i), vendorId: 'bench-vendor', name: 'Bench SKU', priceMinor: 150000 + i, onHand: 1e9 });
  }
  return p;
}

async function measure(p, storage, binding, orders) {
  const buy = async (i) => {
    const status = await FORMS[binding](p, i);
    if (status.stage !== 'confirmed') throw new Error(`order of ${status.intent_id} not confirmed`);
  };
  for (let i = 0; i < orders / 10; i++) await buy(i);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < orders; i++) await buy(i);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  lag.disable();
  return {
    binding, storage: storage === 'memory:' ? 'memory' : 'postgresql', orders, seconds: Number(seconds.toFixed(3)),
    orders_per_s: Math.round(orders / seconds), us_per_order: Number((seconds * 1e6 / orders).toFixed(1)),
    lag_p50_ms: Number((lag.percentile(50) / 1e6).toFixed(2)),
    lag_p99_ms: Number((lag.percentile(99) / 1e6).toFixed(2)), lag_max_ms: Number((lag.max / 1e6).toFixed(2)),
  };
}

async function main() {
  const orders = Number(process.argv[2] || 20000);
  const storage = process.argv[3] || 'memory:';
  const p = await open(storage);
  try {
    for (const binding of Object.keys(FORMS)) console.log(JSON.stringify(await measure(p, storage, binding, orders)));
  } finally {
    await p.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
