// SPDX-License-Identifier: MIT
// Sessions are bounded per client address: one address opening sessions
// ends only its own oldest, never another address's.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Sessions } = require('../lib/web/sessions');

function client(address) {
  const req = { headers: {}, socket: { remoteAddress: address } };
  const res = { setHeader: (name, value) => { req.headers.cookie = value.split(';')[0]; } };
  return { req, res };
}

function sessions(max, perClient) {
  return new Sessions({
    cookie: 's', sameSite: 'Lax', secure: false, idleMs: 60000, lifetimeMs: 60000, max, perClient,
    clientOf: (req) => req.socket.remoteAddress,
  });
}

test('one address\'s sessions end its own oldest, not another address\'s', () => {
  const s = sessions(10, 3);
  const shopper = client('192.0.2.1');
  s.create(shopper.req, shopper.res, { who: 'shopper' });

  const opened = [];
  for (let i = 0; i < 1000; i++) {
    const c = client('198.51.100.7');
    s.create(c.req, c.res, { i });
    opened.push(c);
  }
  assert.equal(s.get(shopper.req)?.who, 'shopper');
  assert.equal(s.size, 4);
  assert.deepEqual(opened.map((c) => s.get(c.req)?.i ?? null).filter((i) => i !== null), [997, 998, 999]);
});

test('past the cap in all, the oldest session of any address ends', () => {
  const s = sessions(3, 3);
  const all = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((a) => {
    const c = client(a);
    s.create(c.req, c.res, { a });
    return c;
  });
  assert.equal(s.size, 3);
  assert.deepEqual(all.map((c) => s.get(c.req)?.a ?? null), [null, '192.0.2.2', '192.0.2.3', '192.0.2.4']);
});

test('a new session of a request ends its old one, and a destroyed one is gone', () => {
  const s = sessions(10, 2);
  const c = client('192.0.2.1');
  s.create(c.req, c.res, { n: 1 });
  s.create(c.req, c.res, { n: 2 });
  assert.equal(s.size, 1);
  const other = client('192.0.2.1');
  s.create(other.req, other.res, { n: 3 });
  assert.equal(s.get(c.req)?.n, 2, 'replacing a session does not count against its address twice');
  s.destroy(c.req, c.res);
  assert.equal(s.get(c.req), null);
  assert.equal(s.size, 1);
});
