// SPDX-License-Identifier: MIT
// A minimal checkout through the kbpipeline Node package: one product, one
// cart, paid through the sandbox gateway, printing each stage (the same
// stages as examples/c/checkout.c). With the package installed: node checkout.js
'use strict';

const { Pipeline } = require('kbpipeline');

async function main() {
  const p = new Pipeline({ storage: 'memory:' });
  try {
    p.addSandboxGateway();
    await p.vendorPut('ilam-tea', 'Ilam Tea House');
    await p.productPut({ id: 'tea-250g', vendorId: 'ilam-tea', name: 'Ilam tea, 250 g', priceMinor: 45000, onHand: 10 });
    const version = await p.cartSetItem('cart-1', 'customer-1', 'tea-250g', 2);
    console.log(`cart cart-1: 2 x tea-250g, version ${version}`);

    const intent = await p.intentCreate('cart-1', 'sandbox', { idempotencyKey: 'checkout-cart-1' });
    console.log(`intent ${intent.id}: ${intent.amount_minor} ${intent.currency} reserved`);

    // The shopper pays at intent.redirect.url; the gateway's redirect brings this callback back.
    const callback = await p.sandboxPay(intent.id);
    console.log(`payment: completed at sandbox, callback of ${Buffer.byteLength(callback)} bytes`);

    const v = await p.paymentVerify('sandbox', callback);
    console.log(`verification: ${v.outcome}, intent ${v.intent_status}`);

    // A worker turns the verified payment into an order, off the event loop;
    // orderWait rejects with code KBP_ETIMEOUT if it is not final in time.
    await p.runOnce();
    const status = await p.orderWait(intent.id, 5000);
    console.log(`order ${status.order_number}: ${status.stage}`);
    if (status.stage !== 'confirmed') process.exitCode = 1;
  } finally {
    await p.close();
  }
}

main().catch((err) => {
  console.error(`checkout failed: ${err.code || err.name}: ${err.message}`);
  process.exitCode = 1;
});
