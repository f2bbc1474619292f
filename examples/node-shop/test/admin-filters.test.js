// SPDX-License-Identifier: MIT
// Every filter of the job table refuses a bad value with a 400 that says
// which field and why, never a 500: on the default store (SQLite), on
// memory, and on PostgreSQL when KBP_TEST_PG_URI is set (the paging cursor
// is checked by the store).
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startShop, newToken } = require('./harness');
const { Visitor, errorOf } = require('./client');

const PG_URI = process.env.KBP_TEST_PG_URI || '';

const KIND = 'The job filter was refused: job kind may contain only a-z, 0-9 and _.-.';
const LONG_KIND = 'The job filter was refused: job kind is longer than 64 bytes.';
const SINCE = 'since must be a date and time in UTC from 1970 on, like 2026-01-31T09:30.';
const LIMIT = 'limit must be a whole number from 1 to 100.';

const REFUSED = [
  ['kind=Abc:@.-', KIND],
  ['kind=%3Cb%3E', KIND],
  [`kind=${'k'.repeat(65)}`, LONG_KIND],
  ['kind=a&kind=b', 'Send kind once.'],
  ['state=sleeping', 'state must be one of available, running, completed, failed, canceled.'],
  ['limit=0', LIMIT],
  ['limit=101', LIMIT],
  ['limit=ten', LIMIT],
  ['after=a%20b', 'after is not a valid identifier.'],
  ['after=job_nosuchjob', 'The job filter was refused: paging cursor \'job_nosuchjob\' is not a job.'],
  ['since=yesterday', SINCE],
  ['since=2026-02-30', SINCE],
  ['since=2026-01-31T24:00', SINCE],
  ['since=1969-12-31T23:59', SINCE],
];

const BACKENDS = [['SQLite, the default', {}], ['memory', { KBP_SHOP_STORAGE: 'memory:' }]];
if (PG_URI) BACKENDS.push(['PostgreSQL', { KBP_SHOP_STORAGE: PG_URI, KBP_SHOP_STORAGE_SCHEMA: `shop_filters_${process.pid}` }]);

for (const [backend, env] of BACKENDS) {
  describe(`the job table's filters on ${backend}`, () => {
    const token = newToken();
    let shop;
    let admin;

    before(async () => {
      shop = await startShop({ KBP_SHOP_ADMIN_TOKEN: token, ...env });
      admin = new Visitor(shop.url, '127.0.0.9');
      assert.equal((await admin.post('/admin/login', { token })).status, 303);
    });

    after(async () => {
      if (shop) assert.equal(await shop.stop(), 0, shop.output());
    });

    test('a bad value of each filter is a 400 that names it', async () => {
      for (const [query, message] of REFUSED) {
        const res = await admin.get(`/admin/jobs?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(errorOf(res.body), message, query);
      }
      assert.doesNotMatch(shop.output(), /error on GET/);
    });

    test('good values of each filter are a page of jobs', async () => {
      for (const query of ['kind=send_receipt', 'kind=no.such-kind_2', 'state=failed', 'limit=1', 'limit=100',
        'since=2026-01-31', 'since=2026-01-31T09:30', 'since=1970-01-01T00:00',
        'state=completed&kind=finalize_order&since=2000-02-29&limit=5']) {
        const res = await admin.get(`/admin/jobs?${query}`);
        assert.equal(res.status, 200, query);
        assert.match(res.body, /<table class="jobs">/, query);
      }
      const page = await admin.get('/admin/jobs?since=2026-01-31T09:30');
      assert.match(page.body, /name="since" value="2026-01-31T09:30"/, 'the form shows the filter');
    });

    test('the canceled state is chosen by its name and by its old spelling', async () => {
      for (const query of ['state=canceled', 'state=cancelled']) {
        const res = await admin.get(`/admin/jobs?${query}`);
        assert.equal(res.status, 200, query);
        assert.match(res.body, /<option value="canceled" selected>/, query);
      }
    });
  });
}
