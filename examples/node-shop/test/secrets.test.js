// SPDX-License-Identifier: MIT
// A password in KBP_SHOP_STORAGE is in nothing the shop prints when it starts:
// not when the library cannot parse or reach the URI (libpq quotes such
// strings back), and not when it works (on KBP_TEST_PG_URI, which trusts
// local connections, so the password is never checked; without it that case
// skips, or fails when KBP_REQUIRE_PG=1).
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { startShop } = require('./harness');

const PG_URI = process.env.KBP_TEST_PG_URI || '';
const REQUIRE_PG = process.env.KBP_REQUIRE_PG === '1';

const PW = 'S3cr3t-Pw-xyzzy';
// Every form below holds both pieces, in the password only.
const PIECES = ['S3cr3t', 'xyzzy'];

const URIS_WITH_PASSWORD = [
  `postgresql://shop:${PW}@[::1/db`,
  `postgresql://shop:${PW}@[]/db`,
  `postgresql://shop:${PW}%zz@127.0.0.1:1/db`,
  `postgresql://shop:${PW}@127.0.0.1:1/db`,
  `postgresql://shop@127.0.0.1:1/db?password=${PW}&bogus=1`,
  'postgresql://shop:S3cr3t/Pw@xyzzy@127.0.0.1:1/db',
  'host=127.0.0.1 port=1 password=S3cr3t Pw-xyzzy',
];

function assertNoPassword(text) {
  for (const piece of PIECES) assert.ok(!text.includes(piece), `the password is printed:\n${text}`);
}

describe('the storage password', () => {
  test('the search can fail', () => {
    assert.throws(() => assertNoPassword(`planted ${PW}`), /the password is printed/);
  });

  URIS_WITH_PASSWORD.forEach((uri, i) => {
    test(`is not printed when the shop cannot start on storage form ${i}`, async () => {
      await assert.rejects(startShop({ KBP_SHOP_STORAGE: uri }), (err) => {
        assert.match(err.message, /exited \(1\) before listening/);
        assert.match(err.message, /node-shop: cannot start: .*(cannot connect to PostgreSQL: |no PostgreSQL support)/);
        assertNoPassword(err.message);
        return true;
      });
    });
  });

  test('is not printed by a shop that works', { skip: !PG_URI && !REQUIRE_PG && 'KBP_TEST_PG_URI is not set' }, async () => {
    assert.ok(PG_URI, 'KBP_REQUIRE_PG=1 requires KBP_TEST_PG_URI');
    const shop = await startShop({
      KBP_SHOP_STORAGE: `${PG_URI}&password=${PW}`,
      KBP_SHOP_STORAGE_SCHEMA: `shop_secrets_${process.pid}`,
    });
    try {
      assert.match(shop.output(), /storage: postgres\n/);
    } finally {
      assert.equal(await shop.stop(), 0);
    }
    assertNoPassword(shop.output());
  });
});
