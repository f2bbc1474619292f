// SPDX-License-Identifier: MIT
// The shopper's side in a real browser: a purchase is confirmed only once
// its order exists, a repeated callback makes no second order, short stock
// and declined payments get their own pages, bad input gets a 400 page.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startShop, launchBrowser, screenshot, waitFor, newToken } = require('./harness');
const flows = require('./flows');

describe('checkout', () => {
  const token = newToken();
  let shop;
  let browser;
  let admin; // a signed-in operator's page

  before(async () => {
    shop = await startShop({ KBP_SHOP_ADMIN_TOKEN: token });
    browser = await launchBrowser();
    admin = await (await browser.newContext()).newPage();
    await flows.adminLogin(admin, shop, token);
  });

  after(async () => {
    await browser?.close();
    if (shop) assert.equal(await shop.stop(), 0, shop.output());
  });

  test('the status page says processing until the order exists, then confirmed with its number', async () => {
    const page = await (await browser.newContext()).newPage();
    const stockBefore = await flows.available(page, shop, 'tea-250g');
    await screenshot(page, 'catalog');
    const ordersBefore = (await flows.adminMetrics(admin, shop)).metrics.orders;

    // The operator holds the worker: the payment is verified, the order waits.
    await flows.adminClick(admin, admin.getByRole('button', { name: 'Pause worker' }));
    assert.equal(await admin.locator('#worker-state').textContent(), 'paused');

    await flows.addToCart(page, shop, 'tea-250g', 2);
    await screenshot(page, 'cart');
    await flows.checkout(page);
    await screenshot(page, 'sandbox-pay');
    const intentId = await flows.pay(page, 'completed');

    assert.equal(await page.locator('#stage').textContent(), 'processing');
    await page.waitForResponse((r) => r.url().endsWith(`/orders/${intentId}/status`)); // a poll came back
    assert.equal(await page.locator('#stage').textContent(), 'processing');
    const waiting = (await page.locator('main').innerText()).toLowerCase();
    assert.ok(waiting.includes('creating your order'), waiting);
    for (const word of ['confirmed', 'ord-', 'success']) assert.ok(!waiting.includes(word), `"${word}" in: ${waiting}`);
    await screenshot(page, 'status-processing');
    assert.equal((await flows.orderStatus(page, shop, intentId)).order_number, null);
    assert.equal((await flows.adminMetrics(admin, shop)).metrics.orders, ordersBefore);

    await flows.adminClick(admin, admin.getByRole('button', { name: 'Resume worker' }));
    await page.locator('#order-number').waitFor({ timeout: 15000 });
    assert.equal(await page.locator('h1').textContent(), 'Order confirmed');
    const number = await page.locator('#order-number').textContent();
    assert.match(number, /^ORD-[A-Z0-9]+$/);
    await screenshot(page, 'status-confirmed');

    // The number shown is an order that exists, with what was bought.
    await admin.goto(`${shop.url}/admin/orders?number=${number}`);
    assert.equal(await admin.locator('#order').getAttribute('data-order-number'), number);
    assert.match(await admin.locator('#order li[data-sku="tea-250g"]').textContent(), /^2 × tea-250g/);
    await screenshot(admin, 'admin-order');
    assert.equal((await flows.adminMetrics(admin, shop)).metrics.orders, ordersBefore + 1);
    assert.equal(await flows.available(page, shop, 'tea-250g'), stockBefore - 2);
    await waitFor('the receipt', () => shop.output().includes(`receipt for ${number} `));
  });

  test('a callback that comes again, even many at once, makes no second order', async () => {
    const page = await (await browser.newContext()).newPage();
    const callbacks = [];
    page.on('request', (r) => {
      if (r.url().includes('/payment/callback/')) callbacks.push(r.url());
    });
    const before = (await flows.adminMetrics(admin, shop)).metrics;
    const intentId = await flows.buy(page, shop, 'lokta-journal', 1);
    await page.locator('#order-number').waitFor({ timeout: 15000 });
    const number = await page.locator('#order-number').textContent();
    assert.equal(callbacks.length, 1);

    await page.goto(callbacks[0]);
    await page.waitForURL(`${shop.url}/orders/${intentId}`);
    assert.equal(await page.locator('#order-number').textContent(), number);
    await screenshot(page, 'status-after-duplicate-callback');
    const answers = await Promise.all(Array.from({ length: 5 },
      () => page.request.get(callbacks[0], { maxRedirects: 0 })));
    for (const res of answers) {
      assert.equal(res.status(), 303);
      assert.equal(res.headers().location, `/orders/${intentId}`);
    }

    const after = (await flows.adminMetrics(admin, shop)).metrics;
    assert.equal(after.orders, before.orders + 1);
    assert.equal(after.intents.succeeded, before.intents.succeeded + 1);
    assert.equal(shop.output().split(`callback: intent ${intentId} accepted (duplicate)`).length - 1, 6);
  });

  test('a checkout beyond the stock is refused, naming the product, and reserves nothing', async () => {
    const page = await (await browser.newContext()).newPage();
    const stock = await flows.available(page, shop, 'singing-bowl');
    const pendingBefore = (await flows.adminMetrics(admin, shop)).metrics.intents.pending;
    await flows.addToCart(page, shop, 'singing-bowl', stock + 1);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/checkout')),
      page.getByRole('button', { name: 'Check out and pay' }).click(),
    ]);
    assert.equal(res.status(), 409);
    assert.equal(await page.locator('h1').textContent(), 'Not enough stock');
    assert.equal(await page.locator('li[data-sku="singing-bowl"]').textContent(),
      `Hand-hammered singing bowl: you asked for ${stock + 1}, only ${stock} available.`);
    assert.match(await page.locator('main').innerText(), /Nothing was reserved and nothing was charged/);
    await screenshot(page, 'out-of-stock');

    assert.equal(await flows.available(page, shop, 'singing-bowl'), stock);
    assert.equal((await flows.adminMetrics(admin, shop)).metrics.intents.pending, pendingBefore);
    await page.goto(`${shop.url}/cart`);
    assert.equal(await page.locator('tr[data-sku="singing-bowl"] input[name=qty]').inputValue(), String(stock + 1));
  });

  test('a declined payment gets the payment-failed page, and its stock comes back', async () => {
    const page = await (await browser.newContext()).newPage();
    const stock = await flows.available(page, shop, 'pashmina-shawl');
    await flows.addToCart(page, shop, 'pashmina-shawl', 1);
    await flows.checkout(page);
    assert.equal(await flows.available(await (await browser.newContext()).newPage(), shop, 'pashmina-shawl'), stock - 1);
    const intentId = await flows.pay(page, 'failed');

    assert.equal(await page.locator('h1').textContent(), 'Payment failed');
    const text = await page.locator('main').innerText();
    assert.match(text, /declined the payment, so no order was created/);
    assert.doesNotMatch(text, /ORD-|confirmed|success/i);
    await screenshot(page, 'payment-failed');
    assert.deepEqual(await flows.orderStatus(page, shop, intentId), { stage: 'failed', final: true, order_number: null });
    assert.equal(await flows.available(page, shop, 'pashmina-shawl'), stock);
  });

  test('bad input gets a 400 page that says what is wrong', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${shop.url}/`);
    // The browser's own checks are skipped: the server must check too.
    const form = page.locator('li.product[data-sku="tea-250g"] form');
    await form.evaluate((f) => {
      f.noValidate = true;
      f.querySelector('input[name=qty]').value = '-3';
    });
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/cart/add')),
      form.getByRole('button', { name: 'Add to cart' }).click(),
    ]);
    assert.equal(res.status(), 400);
    assert.equal(await page.locator('.error').textContent(), 'qty must be a whole number from 1 to 20.');
    await screenshot(page, 'bad-request');

    const cases = [
      [`${shop.url}/orders/pi_x%27%3Cscript%3E`, 400],
      [`${shop.url}/orders/pi_doesnotexist`, 404],
      [`${shop.url}/payment/callback/pi_x?data=e30=`, 400],
      [`${shop.url}/payment/callback/pi_x`, 400],
      [`${shop.url}/payment/callback/pi_x%3C?data=e30=`, 400],
      [`${shop.url}/sandbox/pay?ref=`, 400],
      [`${shop.url}/nowhere`, 404],
    ];
    for (const [url, status] of cases) {
      assert.equal((await page.request.get(url)).status(), status, url);
    }
    const post = await page.request.post(`${shop.url}/cart/add`, { form: { sku: 'tea-250g', qty: '1' } });
    assert.equal(post.status(), 403, 'a shop form without its CSRF token');
  });
});
