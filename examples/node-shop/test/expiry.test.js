// SPDX-License-Identifier: MIT
// A shop with a short payment deadline and no admin token: an abandoned
// payment gets the expired page once maintenance expires it (and its
// stock comes back); the admin pages are off, and the shop says so.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startShop, launchBrowser, screenshot } = require('./harness');
const flows = require('./flows');

describe('a shop with a 3 s payment deadline and no admin token', () => {
  let shop;
  let browser;

  before(async () => {
    shop = await startShop({ KBP_SHOP_INTENT_TTL_MS: '3000', KBP_SHOP_MAINTENANCE_MS: '250' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (shop) assert.equal(await shop.stop(), 0, shop.output());
  });

  test('a payment left unfinished is verifying, then gets the payment-expired page', async () => {
    const page = await (await browser.newContext()).newPage();
    const stock = await flows.available(page, shop, 'pashmina-shawl');
    await flows.addToCart(page, shop, 'pashmina-shawl', 2);
    await flows.checkout(page);
    const intentId = await flows.pay(page, 'pending');
    assert.equal(await page.locator('#stage').textContent(), 'verifying');
    await screenshot(page, 'status-verifying');

    await page.locator('h1', { hasText: 'Payment expired' }).waitFor({ timeout: 15000 });
    const text = await page.locator('main').innerText();
    assert.match(text, /not completed in time, so no order was created/);
    assert.doesNotMatch(text, /ORD-|confirmed|success/i);
    await screenshot(page, 'payment-expired');
    assert.deepEqual(await flows.orderStatus(page, shop, intentId), { stage: 'failed', final: true, order_number: null });
    assert.equal(await flows.available(page, shop, 'pashmina-shawl'), stock);
    assert.match(shop.output(), /maintenance: intents expired 1,/);
  });

  test('the admin pages are off and the shop said so at start', async () => {
    assert.match(shop.output(), /admin pages: disabled \(set KBP_SHOP_ADMIN_TOKEN to enable them\)/);
    const page = await (await browser.newContext()).newPage();
    const res = await page.goto(`${shop.url}/admin/jobs`);
    assert.equal(res.status(), 403);
    assert.equal(await page.locator('h1').textContent(), 'Admin is disabled');
    await screenshot(page, 'admin-disabled');
    for (const path of ['/admin/login', '/metrics']) {
      assert.equal((await page.request.get(`${shop.url}${path}`)).status(), 403, path);
    }
    const login = await page.request.post(`${shop.url}/admin/login`, { form: { token: 'x'.repeat(32) } });
    assert.equal(login.status(), 403);
    assert.equal((await page.request.get(`${shop.url}/healthz`)).status(), 200);
  });
});
