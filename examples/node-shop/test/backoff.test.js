// SPDX-License-Identifier: MIT
// The sign-in backoff on a test clock: free failures, then a doubling wait
// up to its cap, per client; a success or a long quiet starts afresh.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Backoff } = require('../lib/web/backoff');

function backoff(options = {}) {
  const clock = { ms: 1000000 };
  const b = new Backoff({ free: 2, baseMs: 1000, maxMs: 8000, now: () => clock.ms, ...options });
  return { b, clock };
}

test('after the free failures each one doubles the wait, up to the cap', () => {
  const { b, clock } = backoff();
  const earned = [];
  for (let i = 0; i < 7; i++) {
    earned.push(b.failed('a'));
    clock.ms += 10;
  }
  assert.deepEqual(earned, [0, 0, 1000, 2000, 4000, 8000, 8000]);
  assert.equal(b.waitMs('a'), 7990);
  assert.equal(b.waitMs('b'), 0, 'another client does not wait');
  clock.ms += 7990;
  assert.equal(b.waitMs('a'), 0);
});

test('a success, or a quiet longest wait after the last one, starts afresh', () => {
  const { b, clock } = backoff();
  for (let i = 0; i < 3; i++) b.failed('a');
  b.succeeded('a');
  assert.equal(b.waitMs('a'), 0);
  assert.equal(b.failed('a'), 0);

  for (let i = 0; i < 3; i++) b.failed('c');
  clock.ms += 1000 + 8000;
  assert.equal(b.failed('c'), 2000, 'still counted within a longest wait of the last');
  clock.ms += 2000 + 8001;
  assert.equal(b.failed('c'), 0, 'forgotten after a longest wait of quiet');
});

test('the clients it remembers are bounded, the least recently failed forgotten first', () => {
  const { b } = backoff({ maxClients: 2, free: 0 });
  b.failed('a');
  b.failed('b');
  b.failed('a');
  b.failed('c');
  assert.equal(b.waitMs('b'), 0);
  assert.equal(b.waitMs('a'), 2000);
  assert.equal(b.waitMs('c'), 1000);
});
