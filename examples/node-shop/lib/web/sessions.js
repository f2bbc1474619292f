// SPDX-License-Identifier: MIT
// Cookie sessions kept in memory: the cookie holds only a random id, and
// each session has its own CSRF token that every form of the session posts.
// Memory is bounded twice: per client address, so one client opening
// sessions evicts only its own, and in all.
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
  #map = new Map(); // id -> { session, client }, oldest first
  #byClient = new Map(); // client address -> Set of its session ids, oldest first
  #cookie;
  #attributes;
  #idleMs;
  #lifetimeMs;
  #max;
  #perClient;
  #clientOf;

  /**
   * sameSite: 'Lax' lets a shopper come back from a gateway's page with the
   * cart; 'Strict' keeps admin sessions out of every cross-site request.
   * clientOf(req) names the client a session is counted against.
   */
  constructor({ cookie, sameSite, secure, idleMs, lifetimeMs, max, perClient, clientOf }) {
    this.#cookie = cookie;
    this.#attributes = `Path=/; HttpOnly; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
    this.#idleMs = idleMs;
    this.#lifetimeMs = lifetimeMs;
    this.#max = max;
    this.#perClient = perClient;
    this.#clientOf = clientOf;
  }

  /** How many sessions are held. */
  get size() {
    return this.#map.size;
  }

  /** The request's live session, or null. */
  get(req) {
    const id = cookies(req).get(this.#cookie);
    const entry = id && this.#map.get(id);
    if (!entry) return null;
    const { session } = entry;
    const now = Date.now();
    if (now - session.seenAt > this.#idleMs || now - session.createdAt > this.#lifetimeMs) {
      this.#drop(id);
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
    const client = this.#clientOf(req);
    const session = { ...data, csrf: randomToken(), createdAt: now, seenAt: now };
    const own = this.#byClient.get(client) ?? new Set();
    // A client that opens more sessions than a browser needs ends its own oldest.
    while (own.size >= this.#perClient) this.#drop(own.values().next().value);
    this.#map.set(id, { session, client });
    this.#byClient.set(client, own.add(id));
    while (this.#map.size > this.#max) this.#drop(this.#map.keys().next().value);
    res.setHeader('set-cookie', `${this.#cookie}=${id}; ${this.#attributes}; Max-Age=${Math.floor(this.#lifetimeMs / 1000)}`);
    return session;
  }

  destroy(req, res) {
    this.#end(req);
    res.setHeader('set-cookie', `${this.#cookie}=; ${this.#attributes}; Max-Age=0`);
  }

  #end(req) {
    const id = cookies(req).get(this.#cookie);
    if (id && this.#map.has(id)) this.#drop(id);
  }

  #drop(id) {
    const { client } = this.#map.get(id);
    this.#map.delete(id);
    const own = this.#byClient.get(client);
    own.delete(id);
    if (own.size === 0) this.#byClient.delete(client);
  }

  static csrfValid(session, given) {
    return session !== null && secretEqual(session.csrf, given);
  }
}

module.exports = { Sessions, cookies, randomToken };
