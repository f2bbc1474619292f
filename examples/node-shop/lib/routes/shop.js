// SPDX-License-Identifier: MIT
// The shopper's side: catalog, cart, and checkout, which reserves the stock
// and sends the shopper to the gateway.
'use strict';

const crypto = require('node:crypto');
const catalog = require('../catalog');
const views = require('../views/shop');
const { HttpError, badRequest, sendHtml, redirect } = require('../web/http');
const validate = require('../web/validate');

function sku(form) {
  const value = validate.id(form, 'sku');
  if (!catalog.has(value)) throw badRequest('There is no such product.');
  return value;
}

async function cartOf(app, session) {
  try {
    return await app.p.cartGet(session.cartId);
  } catch (err) {
    if (err.code === 'KBP_ENOTFOUND') return { items: [], version: 0 };
    throw err;
  }
}

function linesOf(app, cart) {
  return Promise.all(cart.items.map(async (item) => ({ product: await app.p.productGet(item.sku), qty: item.qty })));
}

async function qtyInCart(app, session, wanted) {
  return (await cartOf(app, session)).items.find((i) => i.sku === wanted)?.qty ?? 0;
}

async function setQty(app, session, wanted, qty) {
  if (qty === 0) {
    if (await qtyInCart(app, session, wanted) > 0) await app.p.cartRemoveItem(session.cartId, session.customerId, wanted);
  } else {
    await app.p.cartSetItem(session.cartId, session.customerId, wanted, qty);
  }
}

// The library names the SKU it could not reserve; the page names every short line.
async function refusedForStock(app, session) {
  const short = (await linesOf(app, await cartOf(app, session))).filter((l) => l.product.available < l.qty);
  return new HttpError(409, 'Not enough stock', null, views.outOfStock(short));
}

const CHECKOUT_REFUSALS = {
  KBP_EEMPTY: [400, 'Your cart is empty', 'Add something to your cart before checking out.'],
  KBP_EINACTIVE: [409, 'No longer sold', 'A product in your cart is no longer sold. Remove it and check out again.'],
  KBP_ECONFLICT: [409, 'Your cart changed', 'Your cart changed after this page was shown. Review it and check out again.'],
};

async function createIntent(app, session, key) {
  try {
    // One key per rendering of the cart page: a double click pays one intent.
    return await app.p.intentCreate(session.cartId, 'sandbox', { idempotencyKey: `${session.cartId}:${key}` });
  } catch (err) {
    if (err.code === 'KBP_EOUTOFSTOCK') throw await refusedForStock(app, session);
    if (err.code === 'KBP_ENOTFOUND') throw new HttpError(...CHECKOUT_REFUSALS.KBP_EEMPTY);
    if (Object.hasOwn(CHECKOUT_REFUSALS, err.code)) throw new HttpError(...CHECKOUT_REFUSALS[err.code]);
    throw err;
  }
}

// A cart outlives its shopper's session, which a restart ends: the log names
// it so an operator can still find it in the store.
function openShopper(app, req, res) {
  const session = app.shoppers.open(req, res);
  app.log(`cart: ${session.cartId} opened for customer ${session.customerId}`);
  return session;
}

function routes(router, app) {
  router.get('/', async ({ req, res }) => {
    sendHtml(res, 200, views.catalog(await catalog.list(app.p), app.shoppers.formToken(req, res)));
  });

  // A visitor who has added nothing has an empty cart, and no session.
  router.get('/cart', async ({ req, res }) => {
    const session = app.shoppers.current(req);
    const lines = session ? await linesOf(app, await cartOf(app, session)) : [];
    const key = crypto.randomBytes(18).toString('base64url');
    sendHtml(res, 200, views.cart(lines, session?.csrf, key));
  });

  // Adding to the cart is what opens a shopper's session, once the input is known good.
  router.post('/cart/add', async ({ req, res, readForm }) => {
    const form = await readForm();
    const known = app.shoppers.postedByVisitor(req, form);
    const wanted = sku(form);
    const adding = validate.int(form, 'qty', 1, views.MAX_QTY);
    const qty = (known ? await qtyInCart(app, known, wanted) : 0) + adding;
    if (qty > views.MAX_QTY) throw badRequest(`At most ${views.MAX_QTY} of a product fit in one cart.`);
    await setQty(app, known ?? openShopper(app, req, res), wanted, qty);
    redirect(res, '/cart');
  });

  router.post('/cart/update', async ({ req, res, readForm }) => {
    const form = await readForm();
    const session = app.shoppers.posted(req, form);
    await setQty(app, session, sku(form), validate.int(form, 'qty', 0, views.MAX_QTY));
    redirect(res, '/cart');
  });

  router.post('/checkout', async ({ req, res, readForm }) => {
    const form = await readForm();
    const session = app.shoppers.posted(req, form);
    const key = validate.id(form, 'key', /^[A-Za-z0-9_-]{16,64}$/);
    const intent = await createIntent(app, session, key);
    // A cart page submitted again after its payment ended: show how it ended.
    if (intent.status !== 'pending') {
      redirect(res, `/orders/${intent.id}`);
      return;
    }
    if (intent.redirect.method !== 'GET') {
      throw new Error(`gateway redirect by ${intent.redirect.method} is not supported by this shop`);
    }
    app.sandboxRefs.remember(intent);
    app.log(`checkout: intent ${intent.id} for cart ${session.cartId}, ${intent.amount_minor} ${intent.currency} reserved`);
    redirect(res, intent.redirect.url);
  });
}

module.exports = { routes };
