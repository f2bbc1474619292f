// SPDX-License-Identifier: MIT
// Who may use the admin pages: whoever signed in with KBP_SHOP_ADMIN_TOKEN.
// The token is posted once, compared in constant time, and exchanged for a
// session id in a SameSite=Strict cookie; it never travels in a URL and is
// never written anywhere. Without a token configured, admin is off.
// Wrong tokens (signing in, or as a scraper's bearer token) are counted per
// client address: after a few, that address waits ever longer (429).
'use strict';

const { Sessions } = require('./web/sessions');
const { secretEqual } = require('./web/secret-equal');
const { Backoff } = require('./web/backoff');
const { HttpError } = require('./web/http');

const HOUR_MS = 3600000;

class Admins {
  #token;
  #sessions;
  #loginPage;
  #backoff;
  #clientOf;
  #log;

  /**
   * loginPage(message) renders the sign-in form that a refusal shows;
   * backoff: { free, baseMs, maxMs } for wrong tokens; clientOf(req) names the client.
   */
  constructor({ token, secure, loginPage, backoff, clientOf, log }) {
    this.#token = token;
    this.#loginPage = loginPage;
    this.#backoff = new Backoff(backoff);
    this.#clientOf = clientOf;
    this.#log = log;
    this.#sessions = new Sessions({
      cookie: 'admin_session', sameSite: 'Strict', secure, idleMs: HOUR_MS, lifetimeMs: 8 * HOUR_MS, max: 1000,
      perClient: 10, clientOf,
    });
  }

  get enabled() {
    return this.#token !== null;
  }

  requireEnabled() {
    if (!this.enabled) {
      throw new HttpError(403, 'Admin is disabled',
        'The admin pages are off: this shop was started without an admin token.');
    }
  }

  /** Signs in with the posted token; true when it was right, 429 while the client must wait. */
  login(req, res, form) {
    this.requireEnabled();
    if (!this.#tokenRight(req, form.get('token'), 'sign-in')) return false;
    this.#sessions.create(req, res, { flash: null });
    return true;
  }

  // Refuses a client that must wait without looking at what it sent.
  #tokenRight(req, given, what) {
    const client = this.#clientOf(req);
    const waitMs = this.#backoff.waitMs(client);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      this.#log(`admin ${what} refused for ${client}: too many wrong tokens, next try in ${seconds} s`);
      throw new HttpError(429, 'Too many attempts', null,
        this.#loginPage(`Too many wrong tokens from your address. Try again in ${seconds} s.`),
        { 'retry-after': String(seconds) });
    }
    if (secretEqual(this.#token, given)) {
      this.#backoff.succeeded(client);
      return true;
    }
    const earned = this.#backoff.failed(client);
    this.#log(`admin ${what} refused for ${client}: wrong token` +
      `${earned > 0 ? `, next try in ${Math.ceil(earned / 1000)} s` : ''}`);
    return false;
  }

  logout(req, res, form) {
    this.posted(req, form);
    this.#sessions.destroy(req, res);
  }

  /** The signed-in admin's session; refuses the request otherwise. */
  session(req) {
    this.requireEnabled();
    const session = this.#sessions.get(req);
    if (!session) throw new HttpError(401, 'Sign in', null, this.#loginPage('Sign in to see the admin pages.'));
    return session;
  }

  /** The admin who posted `form`, refused unless it carries the session's CSRF token. */
  posted(req, form) {
    const session = this.session(req);
    if (!Sessions.csrfValid(session, form.get('csrf'))) {
      throw new HttpError(403, 'Form expired', 'This admin form has expired. Reload the page and try again.');
    }
    return session;
  }

  /** For scrapers: an admin session, or `Authorization: Bearer <token>`. */
  authorizedScrape(req) {
    this.requireEnabled();
    const auth = req.headers.authorization || '';
    if (auth.startsWith('Bearer ') && this.#tokenRight(req, auth.slice(7), 'bearer token')) return;
    this.session(req);
  }
}

module.exports = { Admins };
