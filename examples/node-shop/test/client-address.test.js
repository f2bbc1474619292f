// SPDX-License-Identifier: MIT
// The address the per-client limits count: the peer's, or behind trusted
// proxies the one the outermost of them saw; what a client writes into
// X-Forwarded-For itself is never believed.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { clientAddresses } = require('../lib/web/client');

const req = (forwarded) => ({
  socket: { remoteAddress: '10.0.0.1' },
  headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
});

test('without trusted proxies the peer is the client, whatever it claims', () => {
  const clientOf = clientAddresses(0);
  assert.equal(clientOf(req()), '10.0.0.1');
  assert.equal(clientOf(req('192.0.2.9')), '10.0.0.1');
});

test('behind trusted proxies the client is the entry the outermost one appended', () => {
  assert.equal(clientAddresses(1)(req('192.0.2.9')), '192.0.2.9');
  assert.equal(clientAddresses(1)(req('203.0.113.66, 192.0.2.9')), '192.0.2.9', 'a forged first entry is ignored');
  assert.equal(clientAddresses(2)(req('203.0.113.66, 192.0.2.9,10.0.0.2')), '192.0.2.9');
  assert.equal(clientAddresses(2)(req('10.0.0.2')), '10.0.0.1', 'too few entries: the peer');
  assert.equal(clientAddresses(1)(req()), '10.0.0.1');
});
