// SPDX-License-Identifier: MIT
// Method and path to handler. Paths are strings or anchored regular
// expressions whose groups become ctx.params.
'use strict';

const { HttpError } = require('./http');

class Router {
  #routes = [];

  /** options.json: the route answers JSON, and so do its errors. */
  add(method, path, handler, options = {}) {
    this.#routes.push({ method, path, handler, json: options.json === true });
    return this;
  }

  get(path, handler, options) {
    return this.add('GET', path, handler, options);
  }

  post(path, handler, options) {
    return this.add('POST', path, handler, options);
  }

  /** The route for a request, with the path's groups; throws 404 or 405. */
  match(method, pathname) {
    let pathKnown = false;
    for (const route of this.#routes) {
      const m = typeof route.path === 'string'
        ? (route.path === pathname ? [] : null)
        : route.path.exec(pathname);
      if (!m) continue;
      pathKnown = true;
      if (route.method === method) return { handler: route.handler, json: route.json, params: m.slice(1) };
    }
    if (pathKnown) throw new HttpError(405, 'Method not allowed', 'This page does not accept that kind of request.');
    throw new HttpError(404, 'Not found', 'There is no page at this address.');
  }
}

module.exports = { Router };
