'use strict';
/*
 * Puts kbp-bench's PostgreSQL queue figures beside the peers' (peers.js) from
 * one run on one server: the ratio ours / theirs per scenario, and the
 * pgbench baseline.
 *
 *   node compare.js [--json] [--load-at-start "1.0 1.2 1.3"] BENCH_JSON PEERS_JSON
 *
 * Prints the table, or with --json one document holding both inputs, the
 * rows of the table and the load average at the start and at the end.
 */
const fs = require('node:fs');

function usage(message) {
  process.stderr.write(`compare.js: ${message}\n` +
    'usage: node compare.js [--json] [--load-at-start LOADAVG] BENCH_JSON PEERS_JSON\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { json: false, loadAtStart: null, files: [] };

  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json')
      a.json = true;
    else if (argv[i] === '--load-at-start')
      a.loadAtStart = argv[++i];
    else if (argv[i].startsWith('-'))
      usage(`unknown option '${argv[i]}'`);
    else
      a.files.push(argv[i]);
  }
  if (a.files.length !== 2)
    usage('needs the kbp-bench JSON and the peers JSON');
  return a;
}

function load(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    usage(`cannot read ${file}: ${e.message}`);
  }
  return null;
}

function loadAverage() {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return null;
  }
}

function best(items, value) {
  return items.reduce((b, x) => (b === null || value(x) > value(b) ? x : b), null);
}

/* Our figures for each scenario the peers also run, and where each comes from. */
function ours(bench) {
  const pg = bench.postgres;
  const queue = pg.job_queue || [];
  const enq = best(queue.filter((q) => !q.enqueue_batch), (q) => q.enqueue_per_s);
  const batch = best(queue.filter((q) => q.enqueue_batch > 0), (q) => q.enqueue_per_s);
  const drain = best(queue.filter((q) => q.max_jobs > 1), (q) => q.run_per_s);
  const start = pg.job_start_latency && pg.job_start_latency.via_notify
    ? pg.job_start_latency.via_notify.from_enqueue_call_us : null;

  if (!enq || !drain || !start)
    throw new Error('the kbp-bench document has no PostgreSQL job queue or start latency figures');
  return {
    enqueue: { value: enq.enqueue_per_s,
               from: `kbp_job_enqueue, one job per call: the fastest enqueue phase (${enq.name} variant)` },
    batch: { value: batch ? batch.enqueue_per_s : null,
             from: batch ? `kbp_jobs_enqueue, ${batch.enqueue_batch} jobs per call (${batch.name} variant)`
               : 'not in this kbp-bench document' },
    drain: { value: drain.run_per_s, from: `kbp_worker_run_once max_jobs ${drain.max_jobs} (${drain.name})` },
    p50: { value: start.p50 / 1e3, from: 'enqueue on a second handle, LISTEN/NOTIFY wakeup' },
    p99: { value: start.p99 / 1e3, from: 'the same samples' },
  };
}

const SCENARIOS = [
  { key: 'enqueue', label: 'enqueue jobs/s', higherIsBetter: true,
    theirs: (c) => c.enqueue.jobs_per_s },
  { key: 'batch', label: 'batch enqueue jobs/s', higherIsBetter: true,
    theirs: (c) => c.enqueue.jobs_per_s },
  { key: 'drain', label: 'drain jobs/s', higherIsBetter: true, theirs: (c) => c.drain.jobs_per_s },
  { key: 'p50', label: 'start after enqueue p50 ms', higherIsBetter: false,
    theirs: (c) => c.start_latency_us.p50 / 1e3 },
  { key: 'p99', label: 'start after enqueue p99 ms', higherIsBetter: false,
    theirs: (c) => c.start_latency_us.p99 / 1e3 },
];

function columns(peers) {
  return peers.peers.flatMap((p) => p.configs.map((c) => ({
    name: `${p.package} ${p.version} ${c.name}`, short: `${p.package} ${c.name}`, config: c })));
}

function rows(bench, peers) {
  const mine = ours(bench);

  return SCENARIOS.map((s) => ({
    scenario: s.label,
    higher_is_better: s.higherIsBetter,
    kbpipeline: mine[s.key].value,
    kbpipeline_measured: mine[s.key].from,
    peers: columns(peers).map((col) => {
      const theirs = s.theirs(col.config);

      const value = mine[s.key].value;

      return { peer: col.name, value: theirs,
               ratio: theirs > 0 && typeof value === 'number' ? value / theirs : null };
    }),
  }));
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v))
    return '-';
  if (Math.abs(v) >= 100)
    return Math.round(v).toLocaleString('en-US');
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

function table(doc) {
  const pg = doc.kbpipeline.postgres;
  const server = pg.server;
  const heads = ['scenario', 'kbpipeline',
    ...columns(doc.peers).flatMap((c) => [c.short, 'ratio'])];
  const body = doc.comparison.map((r) => [r.scenario, fmt(r.kbpipeline),
    ...r.peers.flatMap((p) => [fmt(p.value), p.ratio === null ? '-' : `${p.ratio.toFixed(2)}x`])]);
  const widths = heads.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join('  ').trimEnd();
  const runs = (pg.baseline.runs || []).map((b) => `${fmt(b.tps)} (${b.clients})`).join(', ');
  const pipe = (pg.pipeline || []).map((p) => `${fmt(p.orders_per_s)} (${p.shoppers})`).join(', ');
  const mixes = (pg.pipeline_sku_mix || [])
    .map((p) => `${p.sku_mix} ${fmt(p.orders_per_s)} (${p.shoppers})`).join(', ');

  return [
    `kbpipeline beside its peers: one run, one server (PostgreSQL ${server.version}; fsync ${server.fsync}, ` +
      `synchronous_commit ${server.synchronous_commit}, full_page_writes ${server.full_page_writes}, ` +
      `shared_buffers ${server.shared_buffers}, max_connections ${server.max_connections})`,
    `N = ${doc.peers.jobs} jobs per queue scenario; ${doc.kbpipeline.cpus} CPUs; load average ` +
      `${doc.load_average.at_start || '?'} at the start, ${doc.load_average.at_end || '?'} at the end`,
    'ratio = kbpipeline / peer (jobs/s: above 1 is faster; ms: below 1 is faster)',
    '',
    line(heads),
    ...body.map(line),
    '',
    `baseline, pgbench one-insert tps (clients): ${runs}`,
    `pipeline orders/s (shoppers): ${pipe}${mixes ? `; by SKU mix: ${mixes}` : ''}`,
    ...doc.comparison.map((r) => `kbpipeline ${r.scenario}: ${r.kbpipeline_measured}`),
    ...columns(doc.peers).map((c) => `${c.name}: ${c.config.about}; enqueue with ${c.config.enqueue.api} ` +
      `of all ${c.config.enqueue.batch} jobs; ${c.config.start_latency_us.samples} start samples`),
  ].join('\n');
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const doc = {
    benchmark: 'kbpipeline-vs-peers',
    load_average: { at_start: a.loadAtStart, at_end: loadAverage() },
    kbpipeline: load(a.files[0]),
    peers: load(a.files[1]),
  };

  doc.comparison = rows(doc.kbpipeline, doc.peers);
  process.stdout.write(a.json ? `${JSON.stringify(doc, null, 2)}\n` : `${table(doc)}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`compare.js: ${e.message}\n`);
  process.exit(1);
}
