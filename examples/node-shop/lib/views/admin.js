// SPDX-License-Identifier: MIT
'use strict';

const { html, money, time } = require('../web/html');
const { page } = require('./layout');
const health = require('../health');

const JOB_STATES = ['available', 'running', 'completed', 'failed', 'canceled'];
const JOB_KINDS = ['finalize_order', 'reconcile_payment', 'send_receipt'];

function login(message) {
  return page({
    title: 'Admin sign-in',
    section: 'admin',
    body: html`<p class="notice">${message}</p>
<form method="post" action="/admin/login" class="login">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit" class="primary">Sign in</button>
</form>`,
  });
}

function csrfField(csrf) {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

/** A one-button form posting to an admin action, then back to `back`. */
function action(path, label, { csrf, back, fields = {}, cls = '' }) {
  return html`<form method="post" action="${path}" class="inline">
${csrfField(csrf)}<input type="hidden" name="back" value="${back}">
${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<button type="submit" class="${cls}">${label}</button></form>`;
}

function metric(label, key, value) {
  return html`<dt>${label}</dt><dd data-metric="${key}">${value}</dd>`;
}

function live(h, worker, ctx) {
  const m = h.metrics;
  return html`<section class="live" id="live" data-url="/admin/metrics.json">
<p>Health <span id="health" class="badge badge-${h.level}" data-level="${h.level}">${h.level.toUpperCase()}</span>
<span class="hint">refreshes every 5 s</span></p>
<ul id="findings">${h.findings.map((f) => html`<li class="finding-${f.level}">${f.message}</li>`)}</ul>
<ul class="thresholds" aria-label="Health thresholds">${health.DESCRIPTIONS.map((d) => html`<li>${d}</li>`)}</ul>
<dl class="metrics">
${JOB_STATES.map((s) => metric(`Jobs ${s}`, `jobs.${s}`, m.jobs[s]))}
${metric('Stuck', 'jobs_stuck', m.jobs_stuck)}
${metric('Failed in the last hour', 'jobs_failed_last_hour', m.jobs_failed_last_hour)}
${metric('Oldest available (ms)', 'oldest_available_age_ms', m.oldest_available_age_ms)}
${metric('Orders', 'orders', m.orders)}
${metric('Paid without order', 'paid_intents_without_order', m.paid_intents_without_order)}
${metric('Needs refund', 'needs_refund', m.needs_refund)}
${metric('Order creation p50 / p95 (ms)', 'finalize', `${m.finalize_p50_ms} / ${m.finalize_p95_ms}`)}
</dl>
<p>Worker: <strong id="worker-state">${worker.running ? 'running' : 'paused'}</strong> (${worker.threads} threads)
${action('/admin/worker', worker.running ? 'Pause worker' : 'Resume worker',
    { ...ctx, fields: { action: worker.running ? 'pause' : 'resume' } })}
${action('/admin/jobs/requeue-stale', 'Requeue stale jobs', ctx)}</p>
</section>`;
}

function filterForm(filter) {
  const option = (value, current, label = value) =>
    html`<option value="${value}"${value === current ? html` selected` : ''}>${label}</option>`;
  const kinds = filter.kind && !JOB_KINDS.includes(filter.kind) ? [...JOB_KINDS, filter.kind] : JOB_KINDS;
  return html`<form method="get" action="/admin/jobs" class="filter">
<label>State <select name="state">${option('', filter.state ?? '', 'any')}${JOB_STATES.map((s) => option(s, filter.state))}</select></label>
<label>Kind <select name="kind">${option('', filter.kind ?? '', 'any')}${kinds.map((k) => option(k, filter.kind))}</select></label>
<label>Created since (UTC) <input type="datetime-local" name="since" value="${filter.since ?? ''}"></label>
<label>Per page <input type="number" name="limit" value="${filter.limit}" min="1" max="100"></label>
<button type="submit">Filter</button>
</form>`;
}

function jobRow(job, ctx) {
  const fields = { id: job.id };
  return html`<tr data-job="${job.id}" data-kind="${job.kind}" data-state="${job.state}">
<td class="id">${job.id}</td><td>${job.kind}</td><td class="state">${job.state}</td>
<td>${job.attempts} / ${job.max_attempts}</td><td>${time(job.run_at)}</td><td>${time(job.updated_at)}</td>
<td class="last-error">${job.last_error}</td>
<td>${job.state === 'failed' || job.state === 'canceled' ? action('/admin/jobs/retry', 'Retry', { ...ctx, fields }) : null}
${job.state === 'available' || job.state === 'failed' ? action('/admin/jobs/cancel', 'Cancel', { ...ctx, fields, cls: 'danger' }) : null}</td>
</tr>`;
}

function pageLinks(filter, nextAfter) {
  const query = (after) => {
    const q = new URLSearchParams();
    if (filter.state) q.set('state', filter.state);
    if (filter.kind) q.set('kind', filter.kind);
    if (filter.since) q.set('since', filter.since);
    q.set('limit', String(filter.limit));
    if (after) q.set('after', after);
    return `/admin/jobs?${q}`;
  };
  return html`<p class="paging">${filter.after ? html`<a href="${query(null)}" rel="first">First page</a>` : null}
${nextAfter ? html`<a href="${query(nextAfter)}" rel="next">Next page</a>` : null}</p>`;
}

/** ctx: { csrf, back } for the action forms. */
function jobs({ list, filter, health: h, worker, flash, ctx }) {
  return page({
    title: 'Jobs',
    section: 'admin',
    scripts: ['admin-live.js'],
    body: html`${flash ? html`<p class="flash flash-${flash.kind}" role="status">${flash.text}</p>` : null}
${live(h, worker, ctx)}
${filterForm(filter)}
<table class="jobs">
<thead><tr><th>Job</th><th>Kind</th><th>State</th><th>Attempts</th><th>Runs at</th><th>Updated</th><th>Last error</th><th></th></tr></thead>
<tbody>${list.jobs.map((j) => jobRow(j, ctx))}</tbody>
</table>
${list.jobs.length === 0 ? html`<p class="empty">No jobs match.</p>` : null}
${pageLinks(filter, list.next_after)}
<form method="post" action="/admin/logout">${csrfField(ctx.csrf)}<button type="submit">Sign out</button></form>`,
  });
}

function order(number, found) {
  return page({
    title: 'Orders',
    section: 'admin',
    body: html`<form method="get" action="/admin/orders" class="filter">
<label>Order number <input name="number" value="${number ?? ''}" placeholder="ORD-…" required></label>
<button type="submit">Look up</button>
</form>
${number && !found ? html`<p class="empty">There is no order ${number}.</p>` : null}
${found ? html`<dl class="order" id="order" data-order-number="${found.order_number}">
<dt>Order</dt><dd>${found.order_number} (${found.id})</dd>
<dt>Status</dt><dd>${found.status}, fulfillment ${found.fulfillment_status}</dd>
<dt>Customer</dt><dd>${found.customer_id}</dd>
<dt>Payment</dt><dd>${found.intent_id}</dd>
<dt>Total</dt><dd>${money(found.total_minor, found.currency)}</dd>
<dt>Created</dt><dd>${time(found.created_at)}</dd>
<dt>Items</dt><dd><ul>${found.items.map((i) => html`<li data-sku="${i.sku}">${i.qty} × ${i.sku} (${i.vendor_id}) at ${money(i.unit_price_minor, found.currency)}</li>`)}</ul></dd>
</dl>` : null}`,
  });
}

module.exports = { login, jobs, order, JOB_STATES };
