// SPDX-License-Identifier: MIT
// The shop's default store, a SQLite file in its data directory: the shop
// makes the directory, refuses one it cannot make, and a restart on the
// same file keeps carts, intents, orders and jobs.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Pipeline } = require('kbpipeline');
const { startShop, newDataDir, removeDataDir, launchBrowser, screenshot, waitFor, newToken } = require('./harness');
const flows = require('./flows');

// Maintenance would expire or reconcile the open payment while the test reads it.
const NO_MAINTENANCE = { KBP_SHOP_MAINTENANCE_MS: '86400000' };

/** Every job of the admin's job table: id, kind and state. */
async function jobRows(admin, shop) {
  await admin.goto(`${shop.url}/admin/jobs?limit=100`);
  return admin.locator('table.jobs tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    id: tr.dataset.job, kind: tr.dataset.kind, state: tr.dataset.state,
  })));
}

describe('the data directory', () => {
  let dir;

  before(() => {
    dir = newDataDir();
  });

  after(() => removeDataDir(dir));

  test('is made when missing, readable by the shop\'s user alone, and holds the SQLite file', async () => {
    const data = path.join(dir, 'var', 'shop');
    const shop = await startShop({ KBP_SHOP_DATA_DIR: data });
    try {
      const file = path.join(data, 'shop.db');
      assert.match(shop.output(), new RegExp(`storage: sqlite, kept in ${file}\n`));
      assert.equal(fs.statSync(data).mode & 0o777, 0o700);
      assert.equal(fs.readFileSync(file).subarray(0, 15).toString(), 'SQLite format 3');
    } finally {
      assert.equal(await shop.stop(), 0, shop.output());
    }
  });

  test('that cannot be made stops the shop, saying why', async () => {
    const blocked = path.join(dir, 'a-file');
    fs.writeFileSync(blocked, '');
    await assert.rejects(startShop({ KBP_SHOP_DATA_DIR: blocked }), (err) => {
      assert.match(err.message, /exited \(1\) before listening/);
      assert.ok(err.message.includes(`node-shop: cannot start: cannot create the data directory ${blocked} ` +
        '(KBP_SHOP_DATA_DIR): a file of that name is in the way\n'), err.message);
      return true;
    });
    assert.equal(fs.readFileSync(blocked, 'utf8'), '', 'the file in the way is left as it was');
  });
});

describe('a restart on the default store', () => {
  const token = newToken();
  let dir;
  let browser;

  before(async () => {
    dir = newDataDir();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    removeDataDir(dir);
  });

  const newPage = async () => (await browser.newContext()).newPage();

  test('keeps the carts, intents, orders and jobs', async () => {
    const env = { KBP_SHOP_DATA_DIR: dir, KBP_SHOP_ADMIN_TOKEN: token, ...NO_MAINTENANCE };
    const was = {};
    let shop = await startShop(env);
    try {
      const page = await newPage();
      was.journals = await flows.available(page, shop, 'lokta-journal');
      was.shawls = await flows.available(page, shop, 'pashmina-shawl');

      // An order, its receipt sent.
      was.paid = await flows.buy(page, shop, 'lokta-journal', 3);
      await page.locator('#order-number').waitFor({ timeout: 15000 });
      was.number = await page.locator('#order-number').textContent();
      await waitFor('the receipt', () => shop.output().includes(`receipt for ${was.number} `));

      // A payment left open: its intent holds a shawl.
      const leaver = await newPage();
      await flows.addToCart(leaver, shop, 'pashmina-shawl', 1);
      await flows.checkout(leaver);
      was.open = await flows.pay(leaver, 'pending');

      // A cart that never went to checkout.
      const browsing = await newPage();
      await flows.addToCart(browsing, shop, 'tea-250g', 2);
      was.cart = [...shop.output().matchAll(/cart: (cart_[0-9a-f]+) opened/g)].pop()[1];

      const admin = await newPage();
      await flows.adminLogin(admin, shop, token);
      was.jobs = await jobRows(admin, shop);
      assert.deepEqual(was.jobs.map((j) => `${j.kind} ${j.state}`).sort(),
        ['finalize_order completed', 'send_receipt completed']);
    } finally {
      assert.equal(await shop.stop(), 0, shop.output());
    }

    shop = await startShop(env);
    try {
      const admin = await newPage();
      await flows.adminLogin(admin, shop, token);
      assert.deepEqual(await jobRows(admin, shop), was.jobs);
      await admin.goto(`${shop.url}/admin/orders?number=${was.number}`);
      assert.match(await admin.locator('#order li[data-sku="lokta-journal"]').textContent(), /^3 × lokta-journal/);
      await screenshot(admin, 'restart-order');
      const { metrics } = await flows.adminMetrics(admin, shop);
      assert.deepEqual([metrics.orders, metrics.intents.succeeded, metrics.intents.pending], [1, 1, 1]);

      const page = await newPage();
      assert.deepEqual(await flows.orderStatus(page, shop, was.paid), { stage: 'confirmed', final: true, order_number: was.number });
      assert.deepEqual(await flows.orderStatus(page, shop, was.open), { stage: 'verifying', final: false, order_number: null });
      assert.equal(await flows.available(page, shop, 'lokta-journal'), was.journals - 3);
      assert.equal(await flows.available(page, shop, 'pashmina-shawl'), was.shawls - 1, 'the open payment still holds its stock');
    } finally {
      assert.equal(await shop.stop(), 0, shop.output());
    }

    // A restart signs shoppers out (sessions live in the process), so no
    // page shows the cart any more: the store still holds it.
    const p = new Pipeline({ storage: `sqlite:${path.join(dir, 'shop.db')}` });
    try {
      const cart = await p.cartGet(was.cart);
      assert.deepEqual(cart.items.map((i) => [i.sku, i.qty]), [['tea-250g', 2]]);
    } finally {
      await p.close();
    }
  });
});
