// SPDX-License-Identifier: MIT
// The README's Node example: a checkout with a running worker, a job handler
// written in JavaScript, and an out-of-stock refusal. node receipts.js
'use strict';

const { Pipeline } = require('kbpipeline');

async function main() {
  const p = new Pipeline({ storage: 'memory:' });
  p.addSandboxGateway();
  await p.vendorPut('ilam-tea', 'Ilam Tea House');
  await p.productPut({ id: 'tea-250g', vendorId: 'ilam-tea', name: 'Ilam tea, 250 g',
    priceMinor: 45000, onHand: 10 });                     // paisa, stock
  await p.cartSetItem('cart-1', 'customer-1', 'tea-250g', 2);

  let receipts = 0;
  let receiptsSent;
  const sent = new Promise((resolve) => { receiptsSent = resolve; });
  p.jobRegister('send_receipt', async (job) => {          // your own jobs, in JavaScript
    console.log('receipt for', job.payload.intentId);
    if (++receipts === 2) receiptsSent();
  });
  const worker = p.workerStart({ threads: 2 });           // library threads, woken at once

  const intent = await p.intentCreate('cart-1', 'sandbox', { idempotencyKey: 'checkout-cart-1' });
  const callback = await p.sandboxPay(intent.id);         // the shopper pays at the gateway
  await p.paymentVerify('sandbox', callback);             // the redirect comes back

  const status = await p.orderWait(intent.id, 5000);      // off the event loop
  console.log(status.stage, status.order_number);
  await p.jobEnqueue('send_receipt', { intentId: intent.id });
  const batch = await p.jobsEnqueue([                     // many jobs in one storage step;
    { kind: 'send_receipt', payload: { intentId: intent.id }, uniqueKey: 'copy' },
    { kind: 'send_receipt', payload: { intentId: intent.id }, uniqueKey: 'copy' },
  ]);                                                     // one live job per unique key
  await sent;
  console.log('batch:', batch.created, 'new of', batch.ids.length);

  try {
    await p.cartSetItem('cart-2', 'customer-2', 'tea-250g', 50);
    await p.intentCreate('cart-2');
  } catch (err) {
    console.log('refused:', err.code, err.message);
  }
  await worker.stop();
  await p.close();
}

main();
