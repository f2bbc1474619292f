// SPDX-License-Identifier: MIT
// The operator's pages: the job table with its actions, live metrics and
// health, the worker's pause, order lookup. Every action is a POST that
// carries the admin session's CSRF token, and answers with a redirect back.
'use strict';

const health = require('../health');
const views = require('../views/admin');
const { badRequest, sendHtml, sendJson, redirect } = require('../web/http');
const validate = require('../web/validate');

const BACK = /^\/admin\/jobs(\?[A-Za-z0-9_.:@%=&-]*)?$/;

// What a datetime-local field sends (or a date alone), read as UTC like every time on the page.
const SINCE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2}))?$/;

/** The `since` field and the time it names (ms), or nulls. */
function sinceOf(params) {
  const text = validate.field(params, 'since');
  if (!text) return { since: null, sinceMs: 0 };
  const m = SINCE.exec(text);
  const ms = m && Date.UTC(m[1], m[2] - 1, m[3], m[4] ?? 0, m[5] ?? 0);
  // Date.UTC rolls 02-30 over to March: a real date reads back the same.
  if (!m || ms < 0 || new Date(ms).toISOString().slice(0, text.length) !== text) {
    throw badRequest('since must be a date and time in UTC from 1970 on, like 2026-01-31T09:30.');
  }
  return { since: text, sinceMs: ms };
}

// Links saved before the job state took the intent's spelling keep working.
const OLD_JOB_STATES = { cancelled: 'canceled' };

function filterOf(params) {
  const given = validate.field(params, 'state');
  const state = Object.hasOwn(OLD_JOB_STATES, given) ? OLD_JOB_STATES[given] : given;
  if (state && !views.JOB_STATES.includes(state)) throw badRequest(`state must be one of ${views.JOB_STATES.join(', ')}.`);
  return {
    state: state || null,
    // The library judges the kind (jobsOf turns its refusal into a 400): its rule is written once.
    kind: validate.field(params, 'kind') || null,
    ...sinceOf(params),
    limit: validate.int(params, 'limit', 1, 100, 20),
    after: validate.optionalId(params, 'after'),
  };
}

// A cursor that is well formed but names no job (any more) is the visitor's mistake too.
async function jobsOf(app, filter) {
  try {
    return await app.p.jobsList({ ...filter, since: filter.sinceMs });
  } catch (err) {
    if (err.code === 'KBP_EINVAL' || err.code === 'KBP_ETOOBIG') throw badRequest(`The job filter was refused: ${err.message}.`);
    throw err;
  }
}

// Where an action returns to: the job page it was posted from, nothing else.
function backOf(form) {
  const back = validate.field(form, 'back');
  return back && BACK.test(back) ? back : '/admin/jobs';
}

/** Runs an admin POST: fn(form, session) returns the flash text; library refusals become flash errors. */
function adminAction(app, fn) {
  return async ({ req, res, readForm }) => {
    const form = await readForm();
    const session = app.admins.posted(req, form);
    try {
      session.flash = { kind: 'ok', text: await fn(form, session) };
    } catch (err) {
      if (!err.code?.startsWith('KBP_E')) throw err;
      session.flash = { kind: 'error', text: err.message };
    }
    redirect(res, backOf(form));
  };
}

function routes(router, app) {
  router.get('/admin', ({ res }) => redirect(res, '/admin/jobs'));

  router.get('/admin/login', ({ res }) => {
    app.admins.requireEnabled();
    sendHtml(res, 200, views.login('Sign in with the admin token.'));
  });

  router.post('/admin/login', async ({ req, res, readForm }) => {
    if (!app.admins.login(req, res, await readForm())) {
      sendHtml(res, 401, views.login('That token is not right.'));
      return;
    }
    app.log('admin signed in');
    redirect(res, '/admin/jobs');
  });

  router.post('/admin/logout', async ({ req, res, readForm }) => {
    app.admins.logout(req, res, await readForm());
    redirect(res, '/admin/login');
  });

  router.get('/admin/jobs', async ({ req, res, url }) => {
    const session = app.admins.session(req);
    const filter = filterOf(url.searchParams);
    const [list, h] = await Promise.all([jobsOf(app, filter), health.check(app.p)]);
    const flash = session.flash;
    session.flash = null;
    const back = `${url.pathname}${url.search}`;
    sendHtml(res, 200, views.jobs({
      list, filter, flash, health: h, worker: app.worker,
      ctx: { csrf: session.csrf, back: BACK.test(back) ? back : '/admin/jobs' },
    }));
  });

  router.post('/admin/jobs/retry', adminAction(app, async (form) => {
    const id = validate.id(form, 'id');
    await app.p.jobRetry(id);
    app.log(`admin: job ${id} retried`);
    return `Job ${id} is queued to run again.`;
  }));

  router.post('/admin/jobs/cancel', adminAction(app, async (form) => {
    const id = validate.id(form, 'id');
    await app.p.jobCancel(id);
    app.log(`admin: job ${id} canceled`);
    return `Job ${id} is canceled.`;
  }));

  router.post('/admin/jobs/requeue-stale', adminAction(app, async () => {
    const n = await app.p.jobsRescue();
    app.log(`admin: ${n} stale jobs rescued`);
    return `${n} stale job${n === 1 ? ' was' : 's were'} requeued.`;
  }));

  router.post('/admin/worker', adminAction(app, async (form) => {
    if (validate.oneOf(form, 'action', ['pause', 'resume']) === 'pause') await app.worker.pause();
    else await app.worker.resume();
    app.log(`admin: worker ${app.worker.running ? 'resumed' : 'paused'}`);
    return `The worker is ${app.worker.running ? 'running' : 'paused'}.`;
  }));

  router.get('/admin/metrics.json', async ({ req, res }) => {
    app.admins.session(req);
    const h = await health.check(app.p);
    sendJson(res, 200, { health: { level: h.level, findings: h.findings }, metrics: h.metrics,
      worker: { running: app.worker.running } });
  }, { json: true });

  router.get('/admin/orders', async ({ req, res, url }) => {
    app.admins.session(req);
    const number = validate.field(url.searchParams, 'number');
    if (!number) {
      sendHtml(res, 200, views.order(null, null));
      return;
    }
    if (!/^ORD-[A-Z0-9]{1,64}$/.test(number)) throw badRequest('An order number looks like ORD-ABC123.');
    let found = null;
    try {
      found = await app.p.orderGet(number);
    } catch (err) {
      if (err.code !== 'KBP_ENOTFOUND') throw err;
    }
    sendHtml(res, found ? 200 : 404, views.order(number, found));
  });
}

module.exports = { routes };
