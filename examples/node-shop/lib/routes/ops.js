// SPDX-License-Identifier: MIT
// For machines: Prometheus scrapes /metrics (with the admin token as a
// bearer token: order counts are business data), a load balancer polls
// /healthz (open: it says only how healthy the pipeline is).
'use strict';

const health = require('../health');
const { send, sendJson } = require('../web/http');

function routes(router, app) {
  router.get('/metrics', async ({ req, res }) => {
    app.admins.authorizedScrape(req);
    send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await app.p.metricsPrometheus());
  });

  router.get('/healthz', async ({ res }) => {
    const h = await health.check(app.p);
    sendJson(res, h.level === 'critical' ? 503 : 200, {
      status: h.level,
      findings: h.findings.map((f) => ({ level: f.level, check: f.check, message: f.message })),
      thresholds: health.THRESHOLDS,
    });
  }, { json: true });
}

module.exports = { routes };
