// SPDX-License-Identifier: MIT
// The request handler: routes, the access log, and one place where every
// failure becomes a page (or JSON), so no request can crash the shop.
'use strict';

const { Router } = require('./web/router');
const { clientAddresses } = require('./web/client');
const { SandboxRefs } = require('./sandbox-refs');
const { Shoppers } = require('./shoppers');
const { Admins } = require('./admins');
const adminViews = require('./views/admin');
const { HttpError, sendHtml, sendJson, readForm } = require('./web/http');
const { errorPage } = require('./views/layout');

const ROUTES = ['shop', 'sandbox', 'payment', 'admin', 'ops', 'static'].map((name) => require(`./routes/${name}`));

function sendError(res, err, json, admin) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (json) {
    sendJson(res, err.status, { error: err.title, detail: err.message }, err.headers);
    return;
  }
  sendHtml(res, err.status, err.page ?? errorPage(err.status, err.title, err.message, admin ? 'admin' : 'shop'),
    err.headers);
}

/**
 * app: { p, config, log, shoppers, admins, worker, sandboxRefs }. A route's
 * handler gets { req, res, url, params, readForm }: readForm() reads the
 * posted form within the body deadline.
 */
function createHandler(app) {
  const router = new Router();
  for (const r of ROUTES) r.routes(router, app);

  return async (req, res) => {
    const started = Date.now();
    // Only the path is logged: query strings carry gateway callbacks and cursors.
    let pathname = '?';
    let json = false;
    try {
      if (!req.url.startsWith('/')) throw new HttpError(400, 'Bad request', 'The request names no path.');
      // A fixed origin: only the path and query come from the request.
      const url = new URL(`http://shop.invalid${req.url}`);
      pathname = url.pathname;
      const route = router.match(req.method, pathname);
      json = route.json;
      await route.handler({
        req, res, url, params: route.params, readForm: () => readForm(req, app.config.bodyTimeoutMs),
      });
    } catch (err) {
      if (!(err instanceof HttpError)) {
        app.log(`error on ${req.method} ${pathname}: ${err.code ?? err.name}: ${err.message}`);
      }
      sendError(res, err instanceof HttpError ? err
        : new HttpError(500, 'Something went wrong', 'The shop could not answer this request. Try again in a moment.'),
      json, pathname.startsWith('/admin'));
    }
    app.log(`${req.method} ${pathname} ${res.statusCode} ${Date.now() - started} ms`);
  };
}

/** The request handler of the shop over an open pipeline, as served at `url`. */
function createShop({ p, config, log, worker, url }) {
  const secure = url.startsWith('https:');
  const clientOf = clientAddresses(config.trustedProxies);
  const app = {
    p, config, log, worker,
    sandboxRefs: new SandboxRefs(),
    shoppers: new Shoppers({ secure, max: config.sessionsMax, perClient: config.sessionsPerClient, clientOf }),
    admins: new Admins({
      token: config.adminToken, secure, loginPage: adminViews.login, backoff: config.loginBackoff, clientOf, log,
    }),
  };
  return createHandler(app);
}

module.exports = { createShop };
