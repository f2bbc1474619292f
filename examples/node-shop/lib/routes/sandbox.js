// SPDX-License-Identifier: MIT
// The sandbox gateway's pay page. In production this is eSewa's or Khalti's
// site; here the shop serves it, and its buttons end the payment the way a
// shopper at a real gateway would, then send the browser back to the
// shop's return URL with the gateway's callback in the query string, as a
// real gateway's redirect does.
'use strict';

const views = require('../views/sandbox');
const { HttpError, sendHtml, redirect } = require('../web/http');
const validate = require('../web/validate');

const ANSWERS = ['completed', 'failed', 'pending'];

function intentOf(app, ref) {
  const intentId = app.sandboxRefs.intentId(ref);
  if (!intentId) throw new HttpError(404, 'Unknown payment', 'The sandbox has no payment with this reference.');
  return intentId;
}

function routes(router, app) {
  router.get('/sandbox/pay', async ({ req, res, url }) => {
    const intentId = intentOf(app, validate.id(url.searchParams, 'ref'));
    const intent = await app.p.intentGet(intentId);
    sendHtml(res, 200, views.payPage(intent, app.shoppers.formToken(req, res)));
  });

  // A real gateway's page knows nothing of the shop's sessions: the form's token is enough.
  router.post('/sandbox/pay', async ({ req, res, readForm }) => {
    const form = await readForm();
    app.shoppers.postedByVisitor(req, form);
    const intentId = intentOf(app, validate.id(form, 'ref'));
    const callback = await app.p.sandboxPay(intentId, validate.oneOf(form, 'answer', ANSWERS));
    redirect(res, `/payment/callback/${intentId}?${callback}`);
  });
}

module.exports = { routes };
