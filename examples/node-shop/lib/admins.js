// SPDX-License-Identifier: MIT
// Who may use the admin pages: whoever signed in with KBP_SHOP_ADMIN_TOKEN.
// The token is posted once, compared in constant time, and exchanged for a
// session id in a SameSite=Strict cookie; it never travels in a URL and is
// never written anywhere. Without a token configured, admin is off.
'use strict';

const { Sessions } = require('./web/sessions');
const { secretEqual } = require('./web/secret-equal');
const { HttpError } = require('./web/http');

const HOUR_MS = 3600000;

class Admins {
  #token;
  #sessions;
  #loginPage;

  /** loginPage(message) renders the sign-in form that a refusal shows. */
  constructor({ token, secure, loginPage }) {
    this.#token = token;
    this.#loginPage = loginPage;
    this.#sessions = new Sessions({
      cookie: 'admin_session', sameSite: 'Strict', secure, idleMs: HOUR_MS, lifetimeMs: 8 * HOUR_MS, max: 1000,
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

  /** Signs in with the posted token; true when it was right. */
  login(req, res, form) {
    this.requireEnabled();
    if (!secretEqual(this.#token, form.get('token'))) return false;
    this.#sessions.create(req, res, { flash: null });
    return true;
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
    if (auth.startsWith('Bearer ') && secretEqual(this.#token, auth.slice(7))) return;
    this.session(req);
  }
}

module.exports = { Admins };
