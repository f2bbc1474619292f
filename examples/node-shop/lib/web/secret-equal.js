// SPDX-License-Identifier: MIT
'use strict';

const crypto = require('node:crypto');

/**
 * Compares a secret with what a client sent in constant time. Both sides are
 * hashed first: timingSafeEqual needs equal lengths, and comparing lengths
 * directly would tell an attacker the secret's length.
 */
function secretEqual(expected, given) {
  if (typeof given !== 'string' || typeof expected !== 'string') return false;
  const digest = (s) => crypto.createHash('sha256').update(s, 'utf8').digest();
  return crypto.timingSafeEqual(digest(expected), digest(given));
}

module.exports = { secretEqual };
