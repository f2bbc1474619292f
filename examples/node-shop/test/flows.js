// SPDX-License-Identifier: MIT
// What a shopper and an operator do in the browser, step by step, and what
// the tests read back from the shop.
'use strict';

const assert = require('node:assert/strict');

async function addToCart(page, shop, sku, qty) {
  await page.goto(`${shop.url}/`);
  const product = page.locator(`li.product[data-sku="${sku}"]`);
  await product.locator('input[name=qty]').fill(String(qty));
  await product.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForURL(`${shop.url}/cart`);
}

async function checkout(page) {
  await page.getByRole('button', { name: 'Check out and pay' }).click();
  await page.waitForURL(/\/sandbox\/pay\?ref=sbx-/);
}

const ANSWER_BUTTONS = { completed: /^Pay /, failed: 'Decline the payment', pending: 'Leave without paying' };

/** Ends the payment on the sandbox's page; resolves to the intent id of the status page reached. */
async function pay(page, answer = 'completed') {
  await page.getByRole('button', { name: ANSWER_BUTTONS[answer] }).click();
  await page.waitForURL(/\/orders\/pi_[a-z0-9]+$/);
  return new URL(page.url()).pathname.split('/').pop();
}

async function buy(page, shop, sku, qty) {
  await addToCart(page, shop, sku, qty);
  await checkout(page);
  return pay(page, 'completed');
}

async function available(page, shop, sku) {
  await page.goto(`${shop.url}/`);
  return Number(await page.locator(`li.product[data-sku="${sku}"] .stock`).getAttribute('data-available'));
}

async function adminLogin(page, shop, token) {
  await page.goto(`${shop.url}/admin/login`);
  await page.locator('input[name=token]').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${shop.url}/admin/jobs`);
}

/** The admin's JSON view of metrics, health and the worker (needs a signed-in page). */
async function adminMetrics(page, shop) {
  const res = await page.request.get(`${shop.url}/admin/metrics.json`);
  assert.equal(res.status(), 200);
  return res.json();
}

async function orderStatus(page, shop, intentId) {
  const res = await page.request.get(`${shop.url}/orders/${intentId}/status`);
  assert.equal(res.status(), 200);
  return res.json();
}

/** Clicks an admin button and waits for the page it redirects back to. */
async function adminClick(page, button) {
  await Promise.all([page.waitForNavigation(), button.click()]);
}

module.exports = { addToCart, checkout, pay, buy, available, adminLogin, adminMetrics, orderStatus, adminClick };
