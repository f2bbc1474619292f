// SPDX-License-Identifier: MIT
// One shopper's orders through the Node binding, on the memory backend: the
// same steps per order as kbp-bench's inline scenario. runOnce goes through
// libuv's thread pool (it may run JavaScript handlers); the order is then
// final, so its status is read directly rather than waited for.
// Prints one JSON object. bindings.sh runs it beside the C bench.
//
//     node bindings.js ORDERS
'use strict';

const { Pipeline } = require('kbpipeline');

const N_SKUS = 64;

async function main() {
  const orders = Number(process.argv[2] || 20000);
  const p = new Pipeline({ storage: 'memory:' });
  p.addSandboxGateway();
  p.vendorPut('bench-vendor', 'Bench Vendor');
  for (let i = 0; i < N_SKUS; i++) {
    p.productPut({ id: `bench-sku-${String(i).padStart(2, '0')}`, vendorId: 'bench-vendor',
      name: 'Bench SKU', priceMinor: 150000 + i, onHand: 1e9 });
  }
  const buy = async (i) => {
    p.cartSetItem('bench-cart-0', 'bench-customer-0', `bench-sku-${String(i % N_SKUS).padStart(2, '0')}`, 1);
    const intent = p.intentCreate('bench-cart-0', 'sandbox');
    p.paymentVerify('sandbox', p.sandboxPay(intent.id));
    await p.runOnce('bench', 64);
    if (p.orderStatus(intent.id).stage !== 'confirmed') throw new Error(`order of ${intent.id} not confirmed`);
  };
  for (let i = 0; i < orders / 10; i++) await buy(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < orders; i++) await buy(i);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await p.close();
  console.log(JSON.stringify({ binding: 'node', orders, seconds: Number(seconds.toFixed(3)),
    orders_per_s: Math.round(orders / seconds) }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
