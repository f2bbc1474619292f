'use strict';
/*
 * The peers of kbp-bench's job queue scenarios: graphile-worker and pg-boss,
 * on the same server and with the same N, printed as one JSON document.
 *
 *   node peers.js [--jobs N] [--latency-samples N] URI
 *
 * For each peer configuration, on a schema of its own (dropped at the end):
 *  - enqueue: N no-op jobs in one batch call (graphile's addJobs, pg-boss's
 *    insert), while the workers are already running and idle;
 *  - drain: from the moment that call returns (or the first handler starts,
 *    if earlier) until no job of the N is left unfinished in the database;
 *  - start latency: one job at a time, from the add call to its handler's
 *    start on the idle running worker, for at most --latency-samples jobs
 *    or LATENCY_BUDGET_MS, whichever comes first.
 * Enqueuing in one statement keeps the drain apart from the enqueue: no job
 * is visible to a worker before the whole batch commits.
 *
 * The packages come from the package-lock.json beside this file, installed
 * with `npm ci` (tests/bench/peers/install.sh) into KBP_PEERS_MODULES (a
 * directory holding node_modules) or into this directory.
 */
const path = require('node:path');
const { createRequire } = require('node:module');
const crypto = require('node:crypto');

const modules = createRequire(
  path.resolve(process.env.KBP_PEERS_MODULES || __dirname, 'package.json'));
const graphile = modules('graphile-worker');
const PgBoss = modules('pg-boss');
const { Pool } = modules('pg');

const DEFAULT_JOBS = 2000;             /* kbp-bench's queue N on PostgreSQL */
const DEFAULT_LATENCY_SAMPLES = 1000;
const LATENCY_BUDGET_MS = 10000;       /* as kbp-bench's */
const JOB_WAIT_MS = 10000;
const DRAIN_BUDGET_MS = 120000;
const SETTLE_MS = 200;                 /* lets a just-started worker reach its idle wait */

const GRAPHILE_CONFIGS = [
  {
    name: 'best',
    about: 'localQueue 500, completeJobBatchDelay 0, concurrency 24',
    options: { concurrency: 24 },
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } },
  },
  { name: 'defaults', about: 'the library defaults (concurrency 1, no batching)', options: {}, preset: {} },
];

/* pg-boss polls (0.5 s at least) and has no teamSize since 10.0: several work() loops instead. */
const PGBOSS_CONFIG = {
  name: 'batched',
  about: 'batchSize 200, 4 work() loops, pollingIntervalSeconds 0.5 (its minimum)',
  batchSize: 200,
  loops: 4,
  pollingIntervalSeconds: 0.5,
};

function usage(message) {
  if (message)
    process.stderr.write(`peers.js: ${message}\n`);
  process.stderr.write('usage: node peers.js [--jobs N] [--latency-samples N] URI\n');
  process.exit(2);
}

function count(name, value) {
  const n = Number(value);

  if (!Number.isInteger(n) || n < 1 || n > 10000000)
    usage(`${name} needs a number from 1 to 10000000`);
  return n;
}

function parseArgs(argv) {
  const cfg = { jobs: DEFAULT_JOBS, latencySamples: DEFAULT_LATENCY_SAMPLES, uri: null };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];

    if (a === '--jobs')
      cfg.jobs = count(a, argv[++i]);
    else if (a === '--latency-samples')
      cfg.latencySamples = count(a, argv[++i]);
    else if (a === '-h' || a === '--help')
      usage();
    else if (a.startsWith('-'))
      usage(`unknown option '${a}'`);
    else if (cfg.uri)
      usage(`unexpected argument '${a}'`);
    else
      cfg.uri = a;
  }
  if (!cfg.uri)
    usage('the PostgreSQL URI is missing');
  return cfg;
}

const nowNs = () => process.hrtime.bigint();
const usBetween = (a, b) => Number(b - a) / 1e3;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/* Rounds for printing without binary noise (0.1 + 0.2). */
const round = (v, unit) => Number((Math.round(v / unit) * unit).toFixed(6));

function percentiles(samplesUs) {
  const s = [...samplesUs].sort((a, b) => a - b);
  const rank = (q) => s[Math.min(s.length, Math.max(1, Math.ceil(q * s.length))) - 1];

  if (s.length === 0)
    return { samples: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  return {
    samples: s.length,
    p50: round(rank(0.5), 0.1),
    p95: round(rank(0.95), 0.1),
    p99: round(rank(0.99), 0.1),
    max: round(s[s.length - 1], 0.1),
  };
}

function rate(jobs, us) {
  return us > 0 ? round(jobs / (us / 1e6), 1) : 0;
}

/* Counts handler starts; resolves waiters once a count is reached. */
class Counter {
  constructor() {
    this.n = 0;
    this.first = null;
    this.waiters = [];
  }

  hit() {
    if (this.first === null)
      this.first = nowNs();
    this.n++;
    this.waiters = this.waiters.filter((w) => {
      if (this.n < w.n)
        return true;
      w.resolve();
      return false;
    });
  }

  reach(n, ms, what) {
    if (this.n >= n)
      return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: ${this.n} of ${n} jobs ran within ${ms} ms`)), ms);

      this.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }
}

async function waitDrained(pool, sql, what) {
  const deadline = Date.now() + DRAIN_BUDGET_MS;

  for (;;) {
    const left = Number((await pool.query(sql)).rows[0].n);

    if (left === 0)
      return nowNs();
    if (Date.now() > deadline)
      throw new Error(`${what}: ${left} jobs still unfinished after ${DRAIN_BUDGET_MS} ms`);
    await sleep(1);
  }
}

/*
 * enqueue(): adds the N jobs in one call; unfinishedSql counts the ones not
 * completed yet. The workers run already.
 */
async function measureDrain(cfg, pool, counter, enqueue, unfinishedSql, what) {
  const before = counter.n;
  const t0 = nowNs();
  let t1, end;

  await enqueue();
  t1 = nowNs();
  await counter.reach(before + cfg.jobs, DRAIN_BUDGET_MS, what);
  end = await waitDrained(pool, unfinishedSql, what);
  const start = counter.first !== null && counter.first < t1 ? counter.first : t1;
  const enqueueUs = usBetween(t0, t1), drainUs = usBetween(start, end);

  return {
    enqueue: { jobs: cfg.jobs, batch: cfg.jobs, seconds: round(enqueueUs / 1e6, 0.0001),
               jobs_per_s: rate(cfg.jobs, enqueueUs) },
    drain: { jobs: counter.n - before, seconds: round(drainUs / 1e6, 0.0001),
             jobs_per_s: rate(counter.n - before, drainUs) },
  };
}

/* One job at a time: add() then wait for the handler, whose start the probe records. */
async function measureStart(cfg, probe, add, what) {
  const samples = [];
  const budgetEnd = Date.now() + LATENCY_BUDGET_MS;

  while (samples.length < cfg.latencySamples && Date.now() < budgetEnd) {
    const started = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: a probe job did not start within ${JOB_WAIT_MS} ms`)),
                               JOB_WAIT_MS);

      probe.next = (t) => { clearTimeout(timer); resolve(t); };
    });
    const t0 = nowNs();

    await add();
    samples.push(usBetween(t0, await started));
  }
  return percentiles(samples);
}

const quietLogger = new graphile.Logger(() => () => {});

async function graphileConfig(cfg, schema, conf) {
  const counter = new Counter();
  const probe = { next: null };
  const taskList = {
    noop: async () => { counter.hit(); },
    probe: async () => { const t = nowNs(); if (probe.next) probe.next(t); },
  };
  const runner = await graphile.run({
    connectionString: cfg.uri, schema, taskList, noHandleSignals: true, logger: quietLogger,
    ...conf.options, preset: conf.preset,
  });
  const utils = await graphile.makeWorkerUtils({ connectionString: cfg.uri, schema, logger: quietLogger });
  const pool = new Pool({ connectionString: cfg.uri, max: 1 });

  try {
    const specs = Array.from({ length: cfg.jobs }, () => ({ identifier: 'noop', payload: {} }));
    await sleep(SETTLE_MS);
    const unfinished = `SELECT count(*) AS n FROM "${schema}"._private_jobs`;
    const r = await measureDrain(cfg, pool, counter, () => utils.addJobs(specs), unfinished,
      `graphile-worker ${conf.name}`);
    r.enqueue.api = 'addJobs';
    await sleep(SETTLE_MS);
    const latency = await measureStart(cfg, probe, () => utils.addJob('probe', {}),
      `graphile-worker ${conf.name}`);
    // The last probe's completion is batched: let it reach the table before
    // the schema is dropped under a runner still flushing it.
    await waitDrained(pool, unfinished, `graphile-worker ${conf.name}`);
    return { name: conf.name, about: conf.about, ...r, start_latency_us: latency };
  } finally {
    await pool.end();
    await utils.release();
    await runner.stop();
    await runner.promise;
  }
}

async function runGraphile(cfg, admin, tag) {
  const schema = `kbp_peers_${tag}_graphile`;
  const configs = [];

  try {
    for (const conf of GRAPHILE_CONFIGS)
      configs.push(await graphileConfig(cfg, schema, conf));
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
  return { package: 'graphile-worker', version: packageVersion('graphile-worker'), configs };
}

async function pgbossConfig(cfg, boss, schema, conf) {
  const counter = new Counter();
  const probe = { next: null };
  const pool = new Pool({ connectionString: cfg.uri, max: 1 });
  const workOptions = { batchSize: conf.batchSize, pollingIntervalSeconds: conf.pollingIntervalSeconds };

  try {
    await boss.createQueue('noop');
    await boss.createQueue('probe');
    for (let i = 0; i < conf.loops; i++)
      await boss.work('noop', workOptions, async (jobs) => { for (let k = 0; k < jobs.length; k++) counter.hit(); });
    await boss.work('probe', { batchSize: 1, pollingIntervalSeconds: conf.pollingIntervalSeconds },
      async () => { const t = nowNs(); if (probe.next) probe.next(t); });
    const jobs = Array.from({ length: cfg.jobs }, () => ({ name: 'noop', data: {} }));
    await sleep(SETTLE_MS);
    const r = await measureDrain(cfg, pool, counter, () => boss.insert(jobs),
      `SELECT count(*) AS n FROM "${schema}".job WHERE name = 'noop' AND state < 'completed'`,
      `pg-boss ${conf.name}`);
    r.enqueue.api = 'insert';
    const latency = await measureStart(cfg, probe, () => boss.send('probe', {}), `pg-boss ${conf.name}`);
    return { name: conf.name, about: conf.about, ...r, start_latency_us: latency };
  } finally {
    await pool.end();
  }
}

async function runPgBoss(cfg, admin, tag) {
  const schema = `kbp_peers_${tag}_pgboss`;
  const boss = new PgBoss({ connectionString: cfg.uri, schema, supervise: false, schedule: false, max: 8 });
  let failure = null;

  boss.on('error', (e) => { failure = failure || e; });
  try {
    await boss.start();
    const config = await pgbossConfig(cfg, boss, schema, PGBOSS_CONFIG);
    if (failure)
      throw failure;
    return { package: 'pg-boss', version: packageVersion('pg-boss'), configs: [config] };
  } finally {
    await boss.stop({ graceful: false, wait: true, timeout: 5000 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

function packageVersion(name) {
  return modules(`${name}/package.json`).version;
}

async function main() {
  const cfg = parseArgs(process.argv.slice(2));
  const tag = crypto.randomBytes(4).toString('hex');
  const admin = new Pool({ connectionString: cfg.uri, max: 1 });
  const t0 = nowNs();
  const out = {
    benchmark: 'peers',
    node: process.version,
    jobs: cfg.jobs,
    latency_samples: cfg.latencySamples,
    latency_budget_ms: LATENCY_BUDGET_MS,
    measured: 'enqueue: N no-op jobs in one batch call; drain: from that call\'s return until none ' +
              'is left unfinished; start latency: add call to handler start, one job at a time',
  };

  try {
    await admin.query("SET client_min_messages = warning");
    out.peers = [await runGraphile(cfg, admin, tag), await runPgBoss(cfg, admin, tag)];
  } finally {
    await admin.end();
  }
  out.wall_seconds = round(usBetween(t0, nowNs()) / 1e6, 0.01);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`peers.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
