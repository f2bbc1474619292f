// SPDX-License-Identifier: MIT
// The pages a shopper sees after the gateway. None says the payment
// succeeded: until the order exists the page says what is being checked,
// and "confirmed" comes only with the order number.
'use strict';

const { html, money } = require('../web/html');
const { page } = require('./layout');

const POLL_MS = 2000;
const GIVE_UP_MS = 60000;

function waiting(status) {
  const stage = (name, text) => html`<p class="stage-text" data-stage="${name}"${status.stage === name ? '' : html` hidden`}>${text}</p>`;
  return page({
    title: 'Your order',
    scripts: ['order-status.js'],
    body: html`<section id="order-status" data-status-url="/orders/${status.intent_id}/status"
  data-poll-ms="${POLL_MS}" data-give-up-ms="${GIVE_UP_MS}">
<p>Status: <strong id="stage">${status.stage}</strong></p>
${stage('verifying', 'We are checking your payment with the gateway.')}
${stage('processing', 'The gateway has verified your payment. We are creating your order.')}
<p class="hint">This page updates by itself.</p>
<p id="slow" hidden>This is taking longer than usual. Nothing is lost: reload this page later,
or contact us with the reference ${status.intent_id}.</p>
</section>
<noscript><p>Reload this page to see the latest status.</p></noscript>`,
  });
}

/** names: sku -> product name. */
function confirmed(order, names) {
  return page({
    title: 'Order confirmed',
    body: html`<p class="confirmed">Your order number is <strong id="order-number">${order.order_number}</strong>.</p>
<table class="order">
<thead><tr><th>Product</th><th>Quantity</th><th>Price</th></tr></thead>
<tbody>${order.items.map((i) => html`<tr><td>${names[i.sku]}</td><td>${i.qty}</td><td>${money(i.unit_price_minor, order.currency)}</td></tr>`)}</tbody>
<tfoot><tr><th colspan="2">Total</th><td>${money(order.total_minor, order.currency)}</td></tr></tfoot>
</table>
<p>A receipt is on its way. <a href="/">Continue shopping</a></p>`,
  });
}

const RELEASED = 'The items we held for you are released; your cart still has them.';

const ENDINGS = {
  failed: ['Payment failed', 'The gateway declined the payment, so no order was created.', RELEASED],
  expired: ['Payment expired', 'The payment was not completed in time, so no order was created.', RELEASED],
  canceled: ['Payment canceled', 'The payment was canceled, so no order was created.', RELEASED],
  // Paid, but the order job gave up: an operator sees it in the job table.
  succeeded: ['Order not created', 'Your payment was verified, but we could not create your order.',
    'We have been alerted and will contact you.'],
};

function ended(status) {
  const [title, text, next] = ENDINGS[status.intent_status] ?? ENDINGS.failed;
  return page({
    title,
    body: html`<p class="ended" data-intent-status="${status.intent_status}">${text}</p>
${status.needs_refund ? html`<p class="refund">The money you paid will be refunded.</p>` : null}
<p>${next} <a href="/cart">Back to your cart</a></p>
<p class="reference">Reference: ${status.intent_id}</p>`,
  });
}

module.exports = { waiting, confirmed, ended };
