// SPDX-License-Identifier: MIT
// The shop on PostgreSQL (KBP_TEST_PG_URI, which ./dev.sh test sets; without
// it this skips, or fails when KBP_REQUIRE_PG=1): a purchase is confirmed,
// and a restarted shop still has the order and the stock it left.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startShop, launchBrowser, screenshot, newToken } = require('./harness');
const flows = require('./flows');

const PG_URI = process.env.KBP_TEST_PG_URI || '';
const REQUIRE_PG = process.env.KBP_REQUIRE_PG === '1';

describe('the shop on PostgreSQL', { skip: !PG_URI && !REQUIRE_PG && 'KBP_TEST_PG_URI is not set' }, () => {
  const token = newToken();
  const env = {
    KBP_SHOP_STORAGE: PG_URI,
    KBP_SHOP_STORAGE_SCHEMA: `shop_${process.pid}`,
    KBP_SHOP_ADMIN_TOKEN: token,
  };
  let browser;

  before(async () => {
    assert.ok(PG_URI, 'KBP_REQUIRE_PG=1 requires KBP_TEST_PG_URI');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('an order made before a restart is still there after it, with its stock', async () => {
    let shop = await startShop(env);
    let page = await (await browser.newContext()).newPage();
    let stock;
    let number;
    try {
      assert.match(shop.output(), /storage: postgres\n/);
      assert.ok(!shop.output().includes(PG_URI), 'the log holds the storage URI');
      stock = await flows.available(page, shop, 'lokta-journal');
      await flows.buy(page, shop, 'lokta-journal', 3);
      await page.locator('#order-number').waitFor({ timeout: 15000 });
      number = await page.locator('#order-number').textContent();
      await screenshot(page, 'postgres-confirmed');
    } finally {
      assert.equal(await shop.stop(), 0, shop.output());
    }

    shop = await startShop(env);
    try {
      page = await (await browser.newContext()).newPage();
      assert.equal(await flows.available(page, shop, 'lokta-journal'), stock - 3);
      await flows.adminLogin(page, shop, token);
      await page.goto(`${shop.url}/admin/orders?number=${number}`);
      assert.match(await page.locator('#order li[data-sku="lokta-journal"]').textContent(), /^3 × lokta-journal/);
    } finally {
      assert.equal(await shop.stop(), 0, shop.output());
    }
  });
});
