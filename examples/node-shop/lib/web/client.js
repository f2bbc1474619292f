// SPDX-License-Identifier: MIT
// Who is asking: the address a request came from, which the per-client
// limits (sessions, sign-in backoff) are counted by.
'use strict';

/**
 * The client's address as seen by `trustedProxies` reverse proxies in front
 * of the shop (0: none, the peer's address). Each proxy appends the address
 * it was reached from to X-Forwarded-For, so only the last `trustedProxies`
 * entries are theirs; the entries before them are whatever the client sent.
 */
function clientAddresses(trustedProxies) {
  return (req) => {
    const peer = req.socket.remoteAddress ?? 'unknown';
    if (trustedProxies === 0) return peer;
    const hops = String(req.headers['x-forwarded-for'] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    return hops.length >= trustedProxies ? hops[hops.length - trustedProxies] : peer;
  };
}

module.exports = { clientAddresses };
