// SPDX-License-Identifier: MIT
'use strict';

const { html, money } = require('../web/html');
const { page } = require('./layout');

function payPage(intent, csrf) {
  const open = intent.status === 'pending';
  return page({
    title: 'Sandbox payment',
    section: 'sandbox',
    body: html`<p class="sandbox-note">This page is the <strong>sandbox gateway</strong> that comes with libkbpipeline.
It stands in for eSewa or Khalti while you try the shop: nothing is charged, and you choose how the payment ends.</p>
<dl class="payment">
<dt>Merchant</dt><dd>Node shop</dd>
<dt>Amount</dt><dd class="amount">${money(intent.amount_minor, intent.currency)}</dd>
<dt>Gateway reference</dt><dd>${intent.gateway_ref}</dd>
</dl>
${open ? html`<form method="post" action="/sandbox/pay" class="answers">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="ref" value="${intent.gateway_ref}">
<button type="submit" name="answer" value="completed" class="primary">Pay ${money(intent.amount_minor, intent.currency)}</button>
<button type="submit" name="answer" value="failed">Decline the payment</button>
<button type="submit" name="answer" value="pending">Leave without paying</button>
</form>` : html`<p class="closed">This payment is closed (${intent.status}). <a href="/orders/${intent.id}">Back to the shop</a></p>`}`,
  });
}

module.exports = { payPage };
