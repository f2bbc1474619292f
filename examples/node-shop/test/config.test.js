// SPDX-License-Identifier: MIT
// The limits' settings: defaults, overrides, and values that stop the shop.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const config = require('../lib/config');

test('the limits have defaults and can be set', () => {
  const d = config.load({});
  assert.deepEqual([d.sessionsMax, d.sessionsPerClient, d.trustedProxies], [10000, 50, 0]);
  assert.deepEqual(d.loginBackoff, { free: 5, baseMs: 1000, maxMs: 900000 });
  assert.deepEqual([d.headersTimeoutMs, d.bodyTimeoutMs, d.requestTimeoutMs], [10000, 10000, 30000]);
  assert.deepEqual([d.maxConnections, d.maxConnectionsPerClient], [1000, 50]);
  const s = config.load({ KBP_SHOP_SESSIONS_PER_CLIENT: '3', KBP_SHOP_LOGIN_FREE_FAILURES: '0', KBP_SHOP_HEADERS_TIMEOUT_MS: '500' });
  assert.deepEqual([s.sessionsPerClient, s.loginBackoff.free, s.headersTimeoutMs], [3, 0, 500]);
});

test('a bad limit stops the shop with the setting\'s name', () => {
  for (const [env, message] of [
    [{ KBP_SHOP_SESSIONS_PER_CLIENT: '0' }, 'KBP_SHOP_SESSIONS_PER_CLIENT must be a whole number from 1 to 10000000'],
    [{ KBP_SHOP_BODY_TIMEOUT_MS: '10s' }, 'KBP_SHOP_BODY_TIMEOUT_MS must be a whole number from 100 to 3600000'],
    [{ KBP_SHOP_TRUSTED_PROXIES: '11' }, 'KBP_SHOP_TRUSTED_PROXIES must be a whole number from 0 to 10'],
    [{ KBP_SHOP_HEADERS_TIMEOUT_MS: '40000' }, 'KBP_SHOP_REQUEST_TIMEOUT_MS must be at least KBP_SHOP_HEADERS_TIMEOUT_MS'],
  ]) {
    assert.throws(() => config.load(env), (err) => err instanceof config.ConfigError && err.message === message);
  }
});

test('the store is a SQLite file in the data directory unless KBP_SHOP_STORAGE names another', () => {
  const d = config.load({});
  assert.equal(d.dataFile, path.join(__dirname, '..', 'data', 'shop.db'));
  assert.equal(d.storage, `sqlite:${d.dataFile}`);
  const srv = config.load({ KBP_SHOP_DATA_DIR: '/srv/shop/' });
  assert.deepEqual([srv.storage, srv.dataFile], ['sqlite:/srv/shop/shop.db', '/srv/shop/shop.db']);
  assert.equal(config.load({ KBP_SHOP_DATA_DIR: 'state' }).dataFile, path.resolve('state', 'shop.db'));
  for (const storage of ['memory:', 'postgresql://shop@db.internal/shop', 'sqlite:/var/lib/shop/kbp.db']) {
    const s = config.load({ KBP_SHOP_STORAGE: storage });
    assert.deepEqual([s.storage, s.dataFile], [storage, null]);
  }
});

test('a store named twice stops the shop', () => {
  assert.throws(() => config.load({ KBP_SHOP_STORAGE: 'memory:', KBP_SHOP_DATA_DIR: '/srv/shop' }),
    (err) => err instanceof config.ConfigError && err.message === 'set KBP_SHOP_STORAGE or KBP_SHOP_DATA_DIR, not both');
});
