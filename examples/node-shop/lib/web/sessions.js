// SPDX-License-Identifier: MIT
// Cookie sessions kept in memory: the cookie holds only a random id, and
// each session has its own CSRF token that every form of the session posts.
'use strict';

const crypto = require('node:crypto');
const { secretEqual } = require('./secret-equal');

const randomToken = () => crypto.randomBytes(32).toString('base64url');

function cookies(req) {
  const out = new Map();
  for (const part of (req.headers.cookie || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

class Sessions {
  #map = new Map(); // id -> session, oldest first
  #cookie;
  #attributes;
  #idleMs;
  #lifetimeMs;
  #max;

  /**
   * sameSite: 'Lax' lets a shopper come back from a gateway's page with the
   * cart; 'Strict' keeps admin sessions out of every cross-site request.
   */
  constructor({ cookie, sameSite, secure, idleMs, lifetimeMs, max }) {
    this.#cookie = cookie;
    this.#attributes = `Path=/; HttpOnly; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
    this.#idleMs = idleMs;
    this.#lifetimeMs = lifetimeMs;
    this.#max = max;
  }

  /** The request's live session, or null. */
  get(req) {
    const id = cookies(req).get(this.#cookie);
    const session = id && this.#map.get(id);
    if (!session) return null;
    const now = Date.now();
    if (now - session.seenAt > this.#idleMs || now - session.createdAt > this.#lifetimeMs) {
      this.#map.delete(id);
      return null;
    }
    session.seenAt = now;
    return session;
  }

  /** A new session with `data`, its cookie set on res; any older one of the request ends. */
  create(req, res, data) {
    this.#end(req);
    const id = randomToken();
    const now = Date.now();
    const session = { ...data, csrf: randomToken(), createdAt: now, seenAt: now };
    this.#map.set(id, session);
    // Memory stays bounded whoever opens sessions: the oldest go first.
    while (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value);
    res.setHeader('set-cookie', `${this.#cookie}=${id}; ${this.#attributes}; Max-Age=${Math.floor(this.#lifetimeMs / 1000)}`);
    return session;
  }

  destroy(req, res) {
    this.#end(req);
    res.setHeader('set-cookie', `${this.#cookie}=; ${this.#attributes}; Max-Age=0`);
  }

  #end(req) {
    const id = cookies(req).get(this.#cookie);
    if (id) this.#map.delete(id);
  }

  static csrfValid(session, given) {
    return session !== null && secretEqual(session.csrf, given);
  }
}

module.exports = { Sessions };
