// SPDX-License-Identifier: MIT
// Where the gateway sends the shopper back, and the page that waits for the
// order. The callback is only a hint: paymentVerify authenticates it and
// asks the gateway, and the status page shows what the library says.
'use strict';

const catalog = require('../catalog');
const receipts = require('../receipts');
const views = require('../views/orders');
const { HttpError, badRequest, sendHtml, sendJson, redirect } = require('../web/http');
const validate = require('../web/validate');

// What a forged, garbled or foreign callback is refused with.
const BAD_CALLBACK = new Set(['KBP_EINVAL', 'KBP_EPARSE', 'KBP_ESIGNATURE', 'KBP_ETOOBIG', 'KBP_ENOTFOUND',
  'KBP_ECONFLICT']);
// Genuine callbacks of payments that did not complete, or took the wrong amount (the
// intent failed and needs a refund): the intent's status says how it ended.
const NOT_PAID = new Set(['KBP_EDECLINED', 'KBP_EPENDING', 'KBP_EAMOUNT']);
const FINAL = new Set(['confirmed', 'failed']);

/** The verification, or null for a payment the gateway declined or has not completed. */
async function verify(app, callback) {
  try {
    return await app.p.paymentVerify('sandbox', callback);
  } catch (err) {
    if (NOT_PAID.has(err.code)) return null;
    if (BAD_CALLBACK.has(err.code)) {
      throw new HttpError(400, 'Payment not verified',
        'This payment callback could not be verified, so it changed nothing.');
    }
    if (err.code === 'KBP_EGATEWAY') {
      throw new HttpError(502, 'Gateway unreachable',
        'We could not ask the payment gateway about this payment. Open this link again in a minute.');
    }
    throw err;
  }
}

function checkIntentId(intentId) {
  if (!validate.ID.test(intentId)) throw badRequest('This payment reference is not valid.');
}

async function statusOf(app, intentId) {
  checkIntentId(intentId);
  try {
    return await app.p.orderStatus(intentId);
  } catch (err) {
    if (err.code === 'KBP_ENOTFOUND') throw new HttpError(404, 'Unknown payment', 'There is no payment with this reference.');
    throw err;
  }
}

function routes(router, app) {
  // The shop's return URL names the intent, as eSewa's failure URL does: a
  // declined or pending payment's verification says nothing about it.
  router.get(/^\/payment\/callback\/([^/]+)$/, async ({ req, res, params: [returnTo] }) => {
    checkIntentId(returnTo);
    const query = req.url.indexOf('?');
    // The gateway's query string, byte for byte: its signature covers the raw text.
    if (query < 0 || query === req.url.length - 1) throw badRequest('The payment callback is missing.');
    const v = await verify(app, req.url.slice(query + 1));
    if (!v) {
      app.log(`callback: intent ${returnTo} not paid`);
      redirect(res, `/orders/${returnTo}`);
      return;
    }
    app.log(`callback: intent ${v.intent_id} ${v.outcome}${v.duplicate ? ' (duplicate)' : ''}, intent ${v.intent_status}`);
    if (!v.intent_id) throw badRequest('This payment callback matches no payment of this shop.');
    if (v.outcome === 'accepted' && !v.duplicate && !v.needs_refund) {
      await receipts.enqueue(app.p, v.intent_id, app.config.receiptAttempts);
    }
    redirect(res, `/orders/${v.intent_id}`);
  });

  router.get(/^\/orders\/([^/]+)$/, async ({ res, params: [intentId] }) => {
    const status = await statusOf(app, intentId);
    let body;
    if (status.stage === 'confirmed') {
      const order = await app.p.orderGetByIntent(intentId);
      const names = await Promise.all(order.items.map(async (i) => [i.sku, await catalog.name(app.p, i.sku)]));
      body = views.confirmed(order, Object.fromEntries(names));
    } else if (status.stage === 'failed') {
      body = views.ended(status);
    } else {
      body = views.waiting(status);
    }
    sendHtml(res, 200, body);
  });

  // Polled by the status page; the order number appears only once the order exists.
  router.get(/^\/orders\/([^/]+)\/status$/, async ({ res, params: [intentId] }) => {
    const s = await statusOf(app, intentId);
    sendJson(res, 200, { stage: s.stage, final: FINAL.has(s.stage), order_number: s.order_number });
  }, { json: true });
}

module.exports = { routes };
