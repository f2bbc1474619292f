// SPDX-License-Identifier: MIT
// The shop's own job kind: a receipt for each order, sent through a mail
// relay's HTTP API. Sending is a job, not part of the request, so a relay
// outage delays receipts instead of failing checkouts; the admin page
// shows the jobs that failed for good and retries them.
'use strict';

const KIND = 'send_receipt';
// finalize_order runs at priority 0: a receipt queued with it waits its turn.
const PRIORITY = 10;
const RELAY_TIMEOUT_MS = 10000;

function receipt(order) {
  return {
    to: order.customer_id,
    order_number: order.order_number,
    total_minor: order.total_minor,
    currency: order.currency,
    items: order.items.map((i) => ({ sku: i.sku, qty: i.qty, unit_price_minor: i.unit_price_minor })),
  };
}

async function deliver(relayUrl, body) {
  const res = await fetch(relayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`the mail relay answered HTTP ${res.status}`);
}

/** relayUrl null: receipts are written to the log instead of being sent. */
function register(p, { relayUrl, log }) {
  p.jobRegister(KIND, async (job) => {
    const { intentId } = job.payload;
    const status = await p.orderStatus(intentId);
    if (status.stage === 'failed') return; // no order will exist: nothing to send
    if (status.stage !== 'confirmed') throw new Error('the order does not exist yet');
    const body = receipt(await p.orderGetByIntent(intentId));
    if (relayUrl) await deliver(relayUrl, body);
    else log(`receipt for ${body.order_number} to ${body.to}: ${body.total_minor} ${body.currency}`);
  });
}

/** Queues the receipt of a payment just accepted; at most one is live per intent. */
async function enqueue(p, intentId, maxAttempts) {
  try {
    await p.jobEnqueue(KIND, { intentId }, { uniqueKey: `receipt:${intentId}`, priority: PRIORITY, maxAttempts });
  } catch (err) {
    if (err.code !== 'KBP_EEXISTS') throw err;
  }
}

module.exports = { register, enqueue };
