// SPDX-License-Identifier: MIT
// The operator's side in a real browser: sign-in and its refusals, CSRF,
// retrying a receipt that failed while the mail relay was down, the job
// table's filters, paging and actions, live metrics, /metrics and /healthz,
// and no admin token in any page, URL or log line.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startShop, launchBrowser, screenshot, waitFor, newToken } = require('./harness');
const { startMailRelay } = require('./mail-relay');
const flows = require('./flows');

describe('admin', () => {
  const token = newToken();
  let shop;
  let relay;
  let browser;
  let admin;
  const seen = { urls: [], pages: [] }; // everything the browser was sent to and shown

  async function newPage() {
    const context = await browser.newContext();
    context.on('request', (r) => seen.urls.push(r.url()));
    context.on('response', async (r) => {
      if ((r.headers()['content-type'] || '').startsWith('text/html')) seen.pages.push(await r.text().catch(() => ''));
    });
    return context.newPage();
  }

  /** The job rows of the admin page at `query`, reloaded until match(rows) holds. */
  async function jobsUntil(what, query, match, timeoutMs = 15000) {
    return waitFor(what, async () => {
      await admin.goto(`${shop.url}/admin/jobs?${query}`);
      const rows = await admin.locator('table.jobs tbody tr').evaluateAll((trs) => trs.map((tr) => ({
        id: tr.dataset.job, kind: tr.dataset.kind, state: tr.dataset.state,
        error: tr.querySelector('.last-error').textContent,
      })));
      return match(rows);
    }, timeoutMs, 250);
  }

  before(async () => {
    relay = await startMailRelay();
    shop = await startShop({
      KBP_SHOP_ADMIN_TOKEN: token,
      KBP_SHOP_RECEIPT_URL: relay.url,
      KBP_SHOP_RECEIPT_ATTEMPTS: '2',
      KBP_SHOP_BACKOFF_UNIT_MS: '20',
    });
    browser = await launchBrowser();
    admin = await newPage();
  });

  after(async () => {
    await browser?.close();
    if (shop) assert.equal(await shop.stop(), 0, shop.output());
    await relay?.close();
  });

  test('without the token the admin pages and actions are refused', async () => {
    const page = await newPage();
    const res = await page.goto(`${shop.url}/admin/jobs`);
    assert.equal(res.status(), 401);
    assert.equal(await page.locator('h1').textContent(), 'Admin sign-in');
    assert.equal(await page.locator('table.jobs').count(), 0);
    await screenshot(page, 'admin-refused');

    await page.locator('input[name=token]').fill(`${token}x`);
    const [login] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/login')),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    assert.equal(login.status(), 401);
    assert.match(await page.locator('.notice').textContent(), /not right/);

    for (const path of ['/admin/metrics.json', '/admin/orders', '/metrics']) {
      assert.equal((await page.request.get(`${shop.url}${path}`)).status(), 401, path);
    }
    const retry = await page.request.post(`${shop.url}/admin/jobs/retry`, { form: { id: 'job_x', csrf: 'x' } });
    assert.equal(retry.status(), 401);
    const wrongBearer = await page.request.get(`${shop.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrongBearer.status(), 401);
  });

  test('signed in, an admin POST without the session\'s CSRF token is refused', async () => {
    await flows.adminLogin(admin, shop, token);
    await screenshot(admin, 'admin-jobs');
    for (const form of [{ action: 'pause' }, { action: 'pause', csrf: 'forged' }]) {
      const res = await admin.request.post(`${shop.url}/admin/worker`, { form });
      assert.equal(res.status(), 403);
    }
    assert.equal((await flows.adminMetrics(admin, shop)).worker.running, true);
  });

  test('a receipt that failed while the mail relay was down is retried by the admin and completes', async () => {
    relay.down = true;
    const page = await newPage();
    await flows.buy(page, shop, 'tea-250g', 1);
    await page.locator('#order-number').waitFor({ timeout: 15000 });
    const number = await page.locator('#order-number').textContent();

    const [failed] = await jobsUntil('the receipt job to fail', 'state=failed&kind=send_receipt',
      (rows) => rows.length > 0 && rows);
    assert.match(failed.error, /mail relay answered HTTP 503/);
    assert.equal(await admin.locator(`tr[data-job="${failed.id}"] td:nth-child(4)`).textContent(), '2 / 2');
    await screenshot(admin, 'admin-job-failed');
    assert.equal(relay.receipts.length, 0);

    relay.down = false;
    await flows.adminClick(admin, admin.locator(`tr[data-job="${failed.id}"]`).getByRole('button', { name: 'Retry' }));
    assert.equal(await admin.locator('.flash').textContent(), `Job ${failed.id} is queued to run again.`);
    await jobsUntil('the retried receipt to complete', 'kind=send_receipt',
      (rows) => rows.find((r) => r.id === failed.id && r.state === 'completed'));
    await screenshot(admin, 'admin-job-retried');
    assert.deepEqual(relay.receipts.map((r) => r.order_number), [number]);
    assert.equal(relay.receipts[0].items[0].sku, 'tea-250g');
  });

  test('a job held back by a paused worker can be canceled, then retried', async () => {
    await admin.goto(`${shop.url}/admin/jobs`);
    await flows.adminClick(admin, admin.getByRole('button', { name: 'Pause worker' }));
    const page = await newPage();
    await flows.buy(page, shop, 'lokta-journal', 1);
    const [receipt] = await jobsUntil('the receipt to wait', 'state=available&kind=send_receipt', (rows) => rows.length && rows);
    const row = () => admin.locator(`tr[data-job="${receipt.id}"]`);
    await flows.adminClick(admin, row().getByRole('button', { name: 'Cancel' }));
    assert.equal(await admin.locator('.flash').textContent(), `Job ${receipt.id} is canceled.`);
    await admin.goto(`${shop.url}/admin/jobs?kind=send_receipt`);
    assert.equal(await row().getAttribute('data-state'), 'canceled');

    await flows.adminClick(admin, admin.getByRole('button', { name: 'Resume worker' }));
    await page.locator('#order-number').waitFor({ timeout: 15000 });
    await flows.adminClick(admin, row().getByRole('button', { name: 'Retry' }));
    await jobsUntil('the receipt to be sent', 'kind=send_receipt',
      (rows) => rows.find((r) => r.id === receipt.id && r.state === 'completed'));

    await flows.adminClick(admin, admin.getByRole('button', { name: 'Requeue stale jobs' }));
    assert.equal(await admin.locator('.flash').textContent(), '0 stale jobs were requeued.');

    // What the library refuses (a completed job cannot be canceled) is a message, not an error page.
    const csrf = await admin.locator('input[name=csrf]').first().inputValue();
    const res = await admin.request.post(`${shop.url}/admin/jobs/cancel`,
      { form: { csrf, id: receipt.id, back: '/admin/jobs?kind=send_receipt' }, maxRedirects: 0 });
    assert.equal(res.status(), 303);
    await admin.goto(`${shop.url}${res.headers().location}`);
    assert.match(await admin.locator('.flash-error').textContent(), /completed|cancel/i);
    assert.equal(await row().getAttribute('data-state'), 'completed');
  });

  test('the job table filters by state and kind and pages through', async () => {
    await admin.goto(`${shop.url}/admin/jobs`);
    await admin.selectOption('select[name=state]', 'completed');
    await admin.selectOption('select[name=kind]', 'finalize_order');
    await admin.locator('input[name=limit]').fill('1');
    await Promise.all([admin.waitForURL(/limit=1/), admin.getByRole('button', { name: 'Filter' }).click()]);
    const first = await admin.locator('table.jobs tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset));
    assert.equal(first.length, 1);
    assert.deepEqual([first[0].kind, first[0].state], ['finalize_order', 'completed']);

    await Promise.all([admin.waitForURL(/after=/), admin.getByRole('link', { name: 'Next page' }).click()]);
    const second = await admin.locator('table.jobs tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset));
    assert.equal(second.length, 1);
    assert.notEqual(second[0].job, first[0].job);
    assert.deepEqual([second[0].kind, second[0].state], ['finalize_order', 'completed']);
    await screenshot(admin, 'admin-jobs-page-2');
    await Promise.all([admin.waitForURL((u) => !u.search.includes('after=')),
      admin.getByRole('link', { name: 'First page' }).click()]);
    assert.equal(await admin.locator('table.jobs tbody tr').first().getAttribute('data-job'), first[0].job);

    for (const query of ['state=bogus', 'limit=0', 'limit=101', 'kind=%3Cb%3E', 'after=a%20b']) {
      const res = await admin.goto(`${shop.url}/admin/jobs?${query}`);
      assert.equal(res.status(), 400, query);
    }
  });

  test('the metrics and the health badge refresh by themselves', async () => {
    await admin.goto(`${shop.url}/admin/jobs`);
    assert.equal(await admin.locator('#health').getAttribute('data-level'), 'ok');
    assert.match(await admin.locator('.thresholds').innerText(), /more than 5 jobs stuck/);
    const orders = Number(await admin.locator('[data-metric=orders]').textContent());
    const page = await newPage();
    await flows.buy(page, shop, 'tea-250g', 1);
    await page.locator('#order-number').waitFor({ timeout: 15000 });
    await admin.locator('[data-metric=orders]').filter({ hasText: String(orders + 1) }).waitFor({ timeout: 12000 });
    await screenshot(admin, 'admin-metrics-live');
  });

  test('/metrics is Prometheus text for the token, /healthz is open JSON', async () => {
    const page = await newPage();
    const metrics = await page.request.get(`${shop.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(metrics.status(), 200);
    assert.equal(metrics.headers()['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const text = await metrics.text();
    assert.match(text, /^# TYPE kbp_orders gauge$/m);
    assert.match(text, /^kbp_orders [1-9][0-9]*$/m);
    assert.match(text, /^kbp_jobs\{state="failed"\} 0$/m);

    const health = await page.request.get(`${shop.url}/healthz`);
    assert.equal(health.status(), 200);
    const body = await health.json();
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.thresholds, { stuckCritical: 5, failedHourWarning: 10, finalizeP95WarningMs: 10000 });
  });

  test('the admin token appears in no page, URL or log line', async () => {
    assert.ok(seen.pages.length > 10 && seen.urls.length > 10);
    for (const html of seen.pages) assert.ok(!html.includes(token), 'a page holds the admin token');
    for (const url of seen.urls) assert.ok(!url.includes(token), `a URL holds the admin token: ${url}`);
    assert.ok(shop.output().includes('admin signed in'));
    assert.ok(!shop.output().includes(token), 'the log holds the admin token');
  });
});
