// SPDX-License-Identifier: MIT
// A shopper is a session cookie naming a customer and a cart. The ids are
// random and separate from the session id: they appear in the job table
// and in logs, and must not let anyone take over the session.
//
// A session is opened only when a visitor adds to the cart: browsing keeps
// nothing in the shop, so requests without a cookie cannot push real
// shoppers' sessions out. Until then a page's forms carry a token that is
// also set as a cookie and kept nowhere else; a form posted from another
// site cannot name it (the double-submit pattern).
'use strict';

const crypto = require('node:crypto');
const { Sessions, cookies, randomToken } = require('./web/sessions');
const { secretEqual } = require('./web/secret-equal');
const { HttpError } = require('./web/http');

const DAY_MS = 86400000;
const FORM_COOKIE = 'shop_form';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const formExpired = () => new HttpError(403, 'Form expired', 'This form has expired. Reload the page and try again.');

class Shoppers {
  #sessions;
  #formCookie;

  /** max: sessions in all; perClient: sessions of one client address (clientOf(req)). */
  constructor({ secure, max, perClient, clientOf }) {
    this.#sessions = new Sessions({
      cookie: 'shop_session', sameSite: 'Lax', secure, idleMs: 7 * DAY_MS, lifetimeMs: 30 * DAY_MS, max, perClient, clientOf,
    });
    this.#formCookie = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}; Max-Age=${DAY_MS / 1000}`;
  }

  /** How many shoppers' sessions are held. */
  get size() {
    return this.#sessions.size;
  }

  /** The request's shopper, or null: a visitor who has not added to the cart yet. */
  current(req) {
    return this.#sessions.get(req);
  }

  /** The CSRF token for a page's forms: the shopper's, or the visitor's (its cookie set on res). */
  formToken(req, res) {
    const session = this.#sessions.get(req);
    if (session) return session.csrf;
    const known = cookies(req).get(FORM_COOKIE);
    if (known && TOKEN.test(known)) return known;
    const token = randomToken();
    res.setHeader('set-cookie', `${FORM_COOKIE}=${token}; ${this.#formCookie}`);
    return token;
  }

  /** The shopper who posted `form`, refused unless the form carries the session's CSRF token. */
  posted(req, form) {
    const session = this.#sessions.get(req);
    if (!Sessions.csrfValid(session, form.get('csrf'))) throw formExpired();
    return session;
  }

  /**
   * Like posted(), but the form may also carry the visitor's token of a page
   * shown before the session was opened: the shopper, or null for a visitor.
   */
  postedByVisitor(req, form) {
    const session = this.#sessions.get(req);
    if (Sessions.csrfValid(session, form.get('csrf'))) return session;
    const known = cookies(req).get(FORM_COOKIE);
    if (!known || !TOKEN.test(known) || !secretEqual(known, form.get('csrf'))) throw formExpired();
    return session;
  }

  /** A new shopper with an empty cart, for a visitor who adds to it. */
  open(req, res) {
    return this.#sessions.create(req, res, {
      customerId: `cus_${crypto.randomBytes(10).toString('hex')}`,
      cartId: `cart_${crypto.randomBytes(10).toString('hex')}`,
    });
  }
}

module.exports = { Shoppers };
