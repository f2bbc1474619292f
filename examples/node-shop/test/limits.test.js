// SPDX-License-Identifier: MIT
// The shop against one client that misbehaves, over loopback (no browser):
// cookieless requests open no session, so they cannot push a shopper's
// out; wrong admin tokens earn a growing wait; a request trickled in is
// cut off at its deadline; one address cannot hold every connection.
// Each client connects from its own 127.0.0.x address.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startShop, newToken } = require('./harness');
const { request, Visitor, csrfOf, errorOf, trickle } = require('./client');

const portOf = (shop) => Number(new URL(shop.url).port);

describe('a shop with short timeouts and sign-in backoff', () => {
  const token = newToken();
  let shop;

  before(async () => {
    shop = await startShop({
      KBP_SHOP_ADMIN_TOKEN: token,
      KBP_SHOP_LOGIN_FREE_FAILURES: '2',
      KBP_SHOP_LOGIN_BACKOFF_MS: '1000',
      KBP_SHOP_HEADERS_TIMEOUT_MS: '600',
      KBP_SHOP_BODY_TIMEOUT_MS: '800',
      KBP_SHOP_REQUEST_TIMEOUT_MS: '1500',
    });
  });

  after(async () => {
    if (shop) assert.equal(await shop.stop(), 0, shop.output());
  });

  test('10,001 cookieless GETs open no session, and a shopper\'s cart survives them', async () => {
    const shopper = new Visitor(shop.url, '127.0.0.2');
    const catalog = await shopper.get('/');
    assert.equal((await shopper.post('/cart/add', { csrf: csrfOf(catalog.body), sku: 'tea-250g', qty: '2' })).status, 303);
    assert.ok(shopper.cookies.has('shop_session'), 'adding to the cart opens a session');

    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let next = 0;
    const sessionsSet = [];
    const crawl = async () => {
      while (next < 10001) {
        const path = next++ % 2 ? '/cart' : '/';
        const res = await request(`${shop.url}${path}`, { agent, localAddress: '127.0.0.1' });
        assert.equal(res.status, 200);
        if ((res.headers['set-cookie'] ?? []).some((c) => c.startsWith('shop_session='))) sessionsSet.push(path);
      }
    };
    await Promise.all(Array.from({ length: 8 }, crawl));
    agent.destroy();
    assert.equal(sessionsSet.length, 0, 'a cookieless GET opened a session');

    const cart = await shopper.get('/cart');
    assert.match(cart.body, /<tr data-sku="tea-250g">/);
    assert.match(cart.body, /name="qty" value="2"/);
    const update = await shopper.post('/cart/update', { csrf: csrfOf(cart.body), sku: 'tea-250g', qty: '3' });
    assert.equal(update.status, 303, 'the shopper\'s form still works');
  });

  test('a visitor\'s add to the cart needs the token of the page it was shown', async () => {
    const visitor = new Visitor(shop.url, '127.0.0.2');
    const page = await visitor.get('/');
    const token = csrfOf(page.body);
    const stranger = new Visitor(shop.url, '127.0.0.2');
    for (const [who, form] of [[visitor, { sku: 'tea-250g', qty: '1' }], [visitor, { csrf: 'x', sku: 'tea-250g', qty: '1' }],
      [stranger, { csrf: token, sku: 'tea-250g', qty: '1' }]]) {
      const res = await who.post('/cart/add', form);
      assert.equal(res.status, 403);
      assert.equal(errorOf(res.body), 'This form has expired. Reload the page and try again.');
    }
    assert.ok(!visitor.cookies.has('shop_session') && !stranger.cookies.has('shop_session'));
    const bad = await visitor.post('/cart/add', { csrf: token, sku: 'tea-250g', qty: '0' });
    assert.equal(bad.status, 400);
    assert.ok(!visitor.cookies.has('shop_session'), 'bad input opened a session');
  });

  test('wrong admin tokens earn a growing wait per address, answered 429 with Retry-After', async () => {
    const attacker = new Visitor(shop.url, '127.0.0.3');
    const guesses = ['a', 'b', 'c'].map((c) => `guess-${c}-${newToken()}`);
    for (const guess of guesses) {
      const res = await attacker.post('/admin/login', { token: guess });
      assert.equal(res.status, 401, 'two free failures, and the one that earns the first wait');
    }
    const refused = await attacker.post('/admin/login', { token });
    assert.equal(refused.status, 429, 'while it waits even the right token is refused');
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(refused.body, /Too many wrong tokens from your address\. Try again in 1 s\./);
    const scrape = await attacker.get('/metrics', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(scrape.status, 429, 'a bearer token is a guess too');

    const other = new Visitor(shop.url, '127.0.0.4');
    assert.equal((await other.post('/admin/login', { token })).status, 303, 'another address is not held back');

    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await attacker.post('/admin/login', { token: guesses[0] })).status, 401);
    const doubled = await attacker.post('/admin/login', { token });
    assert.equal(doubled.status, 429);
    assert.equal(doubled.headers['retry-after'], '2', 'each further failure doubles the wait');
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await attacker.post('/admin/login', { token })).status, 303);

    const log = shop.output();
    assert.match(log, /admin sign-in refused for 127\.0\.0\.3: wrong token\n/);
    assert.match(log, /admin sign-in refused for 127\.0\.0\.3: wrong token, next try in 1 s\n/);
    assert.match(log, /admin sign-in refused for 127\.0\.0\.3: too many wrong tokens, next try in 1 s\n/);
    assert.match(log, /admin bearer token refused for 127\.0\.0\.3: too many wrong tokens/);
    for (const guess of guesses) assert.ok(!log.includes(guess), 'the log holds a submitted token');
    assert.ok(!log.includes(token), 'the log holds the admin token');
  });

  test('a form body trickled in is answered 408 and its connection closed at the body deadline', async () => {
    const head = `POST /cart/add HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      'Content-Length: 100\r\n\r\n';
    const r = await trickle(portOf(shop), '127.0.0.5', { head, trickle: 'x'.repeat(100), everyMs: 200, giveUpMs: 8000 });
    assert.ok(r.closedAfterMs !== null, 'the connection is still open after 8 s');
    // The deadline is 0.8 s; the rest is slack for a busy machine.
    assert.ok(r.closedAfterMs >= 700 && r.closedAfterMs < 3000, `closed after ${r.closedAfterMs} ms`);
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
    assert.match(r.answer, /The form did not arrive in time/);
  });

  test('a body no route reads is cut off at the request deadline', async () => {
    const head = 'POST /nowhere HTTP/1.1\r\nHost: shop\r\nContent-Length: 100\r\n\r\n';
    const r = await trickle(portOf(shop), '127.0.0.5', { head, trickle: 'x'.repeat(100), everyMs: 200, giveUpMs: 8000 });
    assert.ok(r.closedAfterMs !== null, 'the connection is still open after 8 s');
    assert.ok(r.closedAfterMs >= 1400 && r.closedAfterMs < 4000, `closed after ${r.closedAfterMs} ms (deadline 1.5 s)`);
    assert.match(r.answer, /^HTTP\/1\.1 404 /, 'answered before the body was read');
  });

  test('headers trickled in are cut off at the headers deadline', async () => {
    const r = await trickle(portOf(shop), '127.0.0.5',
      { head: 'G', trickle: 'ET / HTTP/1.1\r\nHost: shop\r\nX-Slow: 1234567890\r\n\r\n', everyMs: 200, giveUpMs: 8000 });
    assert.ok(r.closedAfterMs !== null, 'the connection is still open after 8 s');
    assert.ok(r.closedAfterMs >= 500 && r.closedAfterMs < 3000, `closed after ${r.closedAfterMs} ms (deadline 0.6 s)`);
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
  });
});

describe('a shop with connection caps', () => {
  let shop;

  before(async () => {
    shop = await startShop({ KBP_SHOP_MAX_CONNECTIONS: '5', KBP_SHOP_MAX_CONNECTIONS_PER_CLIENT: '3' });
  });

  after(async () => {
    if (shop) assert.equal(await shop.stop(), 0, shop.output());
  });

  /** Opens a connection and waits 500 ms: resolves to it if still open, else to null. */
  function hold(localAddress) {
    const port = portOf(shop);
    return new Promise((resolve) => {
      const socket = require('node:net').connect({ port, host: '127.0.0.1', localAddress });
      socket.on('error', () => {});
      const timer = setTimeout(() => resolve(socket), 500);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
  }

  test('one address holds at most its share of connections, and all together at most the cap', async () => {
    const first = await Promise.all(['127.0.0.6', '127.0.0.6', '127.0.0.6'].map(hold));
    assert.ok(first.every(Boolean), 'an address may hold its 3 connections');
    assert.equal(await hold('127.0.0.6'), null, 'a 4th from the same address is closed');
    const second = await Promise.all(['127.0.0.7', '127.0.0.7'].map(hold));
    assert.ok(second.every(Boolean), 'another address is still served');
    assert.equal(await hold('127.0.0.8'), null, 'past 5 in all, every address waits');
    for (const s of [...first, ...second]) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const res = await request(`${shop.url}/healthz`, { localAddress: '127.0.0.8' });
    assert.equal(res.status, 200, 'a connection closed frees its place');
  });
});
