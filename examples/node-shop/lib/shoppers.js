// SPDX-License-Identifier: MIT
// A shopper is a session cookie naming a customer and a cart. The ids are
// random and separate from the session id: they appear in the job table
// and in logs, and must not let anyone take over the session.
'use strict';

const crypto = require('node:crypto');
const { Sessions } = require('./web/sessions');
const { HttpError } = require('./web/http');

const DAY_MS = 86400000;

class Shoppers {
  #sessions;

  constructor({ secure }) {
    this.#sessions = new Sessions({
      cookie: 'shop_session', sameSite: 'Lax', secure, idleMs: 7 * DAY_MS, lifetimeMs: 30 * DAY_MS, max: 10000,
    });
  }

  /** The request's shopper, created if there is none (pages with forms need the CSRF token). */
  ensure(req, res) {
    return this.#sessions.get(req) || this.#sessions.create(req, res, {
      customerId: `cus_${crypto.randomBytes(10).toString('hex')}`,
      cartId: `cart_${crypto.randomBytes(10).toString('hex')}`,
    });
  }

  /** The shopper who posted `form`, refused unless the form carries the session's CSRF token. */
  posted(req, form) {
    const session = this.#sessions.get(req);
    if (!Sessions.csrfValid(session, form.get('csrf'))) {
      throw new HttpError(403, 'Form expired', 'This form has expired. Reload the page and try again.');
    }
    return session;
  }
}

module.exports = { Shoppers };
