/* SPDX-License-Identifier: MIT */
/*
 * The statements the backend prepares on each connection, by pg_stmt: most
 * call one of the schema's functions (schema/); the others are plain SQL
 * the server plans once, where a PL/pgSQL function's per-statement cost
 * showed in the profile.
 */
#include "storage/postgres/pg_internal.h"

/* A job row j as the JSON js_job_fill reads. */
#define JOB_JSON                                                                                \
	"json_build_object('id', j.id, 'kind', j.kind, 'payload', j.payload::text,"                 \
	" 'state', j.state, 'priority', j.priority, 'attempts', j.attempts,"                        \
	" 'max_attempts', j.max_attempts, 'run_at', j.run_at, 'lease_until', j.lease_until,"        \
	" 'locked_by', j.locked_by, 'unique_key', j.unique_key, 'last_error', j.last_error,"        \
	" 'errors', j.errors, 'created_at', j.created_at, 'updated_at', j.updated_at,"              \
	" 'finished_at', j.finished_at)"

/* jobs_live_unique's predicate, which ON CONFLICT must name to infer that index (migration 020). */
#define JOB_KEY_LIVE "state IN (0, 1) AND unique_key IS NOT NULL"

const pg_stmt_def pg_stmts[ST_COUNT] = {
	[ST_VENDOR_PUT] = { "vendor_put", "SELECT kbp_vendor_put($1,$2,$3)", 3, -1, 1, 0, PG_KEY_NONE },
	[ST_VENDOR_GET] = { "vendor_get", "SELECT kbp_vendor_get($1)", 1, -1, 1, 0, PG_KEY_NONE },
	[ST_PRODUCT_PUT] = { "product_put", "SELECT kbp_product_put($1,$2,$3,$4,$5,$6,$7,$8)", 8, -1, 1, 0, PG_KEY_NONE },
	[ST_PRODUCT_GET] = { "product_get", "SELECT kbp_product_get($1)", 1, -1, 1, 0, PG_KEY_NONE },
	[ST_PRODUCT_SET_ACTIVE] = { "product_set_active", "SELECT kbp_product_set_active($1,$2,$3)", 3, -1, 1, 0, PG_KEY_NONE },
	[ST_CART_GET] = { "cart_get", "SELECT kbp_cart_get($1)", 1, -1, 1, 0, PG_KEY_NONE },
	[ST_VERIFICATIONS_LIST] = { "verifications_list", "SELECT kbp_verifications_list($1)", 1, -1, 1, 0, PG_KEY_NONE },
	[ST_ORDER_GET] = { "order_get", "SELECT kbp_order_get($1,$2)", 2, -1, 1, 0, PG_KEY_NONE },
	[ST_JOB_ENQUEUE] = { "job_enqueue", "SELECT kbp_job_enqueue($1,$2,$3,$4,$5,$6,$7,$8)", 8, -1, 0, PG_WAKE_JOBS, PG_KEY_NONE },
	/*
	 * The worker's hot statements are plain SQL answering as the schema's
	 * functions do ({"code","data"}): as PL/pgSQL, with a function call per
	 * job for its JSON, they cost several times as much.
	 * $1 worker, $2 max, $3 lease_ms, $4 now: the first available jobs in
	 * queue order, leased. The update finds the rows it locked by their
	 * physical address, not through the primary key again (a fifth of the
	 * statement's time for 64 jobs): locked, a row cannot move before the
	 * update, and a row whose locked version the statement's snapshot cannot
	 * see is skipped, left available for the next round.
	 */
	[ST_JOBS_ACQUIRE] = { "jobs_acquire",
		"WITH j AS (UPDATE jobs j SET state = 1, attempts = j.attempts + 1,"
		"  lease_until = $4::bigint + $3::bigint, locked_by = $1, updated_at = $4::bigint"
		"  WHERE j.ctid = ANY (ARRAY(SELECT ctid FROM jobs WHERE state = 0"
		"   AND run_at <= $4::bigint ORDER BY priority, run_at, seq"
		"   LIMIT greatest($2::integer, 0) FOR UPDATE SKIP LOCKED)) AND j.state = 0"
		"  RETURNING j.*)"
		" SELECT json_build_object('code', 0, 'data', coalesce(json_agg(" JOB_JSON
		"  ORDER BY j.priority, j.run_at, j.seq), '[]'::json)) FROM j",
		4, -1, 0, 0, PG_KEY_NONE },
	[ST_JOB_COMPLETE] = { "job_complete", "SELECT kbp_job_complete($1,$2,$3)", 3, -1, 0, 0, PG_KEY_NONE },
	[ST_JOB_GET] = { "job_get", "SELECT kbp_job_get($1)", 1, -1, 1, 0, PG_KEY_NONE },
	[ST_JOBS_LIST] = { "jobs_list", "SELECT kbp_jobs_list($1,$2,$3,$4,$5)", 5, -1, 1, 0, PG_KEY_NONE },
	[ST_MAINTENANCE] = { "maintenance", "SELECT kbp_maintenance($1,$2)", 2, -1, 1, PG_WAKE_JOBS | PG_WAKE_ORDERS, PG_KEY_NONE },
	[ST_METRICS] = { "metrics", "SELECT kbp_metrics($1)", 1, -1, 1, 0, PG_KEY_NONE },
	/*
	 * $1 ids (text[]), $2 worker, $3 now: those of the worker's jobs still
	 * running complete. The commit does not wait for the WAL to reach the
	 * disk (synchronous_commit off for this transaction alone): a server
	 * that crashes may forget the last completions, and those jobs are
	 * rescued and run again, as when a worker dies before completing them,
	 * which handlers already allow for. The wait cost a batch of 64 about a
	 * tenth of its time.
	 */
	[ST_JOBS_COMPLETE] = { "jobs_complete",
		"WITH done AS (UPDATE jobs SET state = 2, finished_at = $3::bigint,"
		"  updated_at = $3::bigint, lease_until = 0"
		"  WHERE id = ANY ($1::text[]) AND state = 1 AND locked_by = $2 RETURNING 1)"
		" SELECT json_build_object('code', 0, 'data',"
		"  json_build_object('count', (SELECT count(*) FROM done)))"
		" FROM (SELECT set_config('synchronous_commit', 'off', true)) AS quiet",
		3, -1, 1, 0, PG_KEY_NONE },
	[ST_DOCTOR] = { "doctor", "SELECT kbp_doctor($1,$2,$3)", 3, -1, 1, 0, PG_KEY_NONE },
	[ST_JOBS_EXTEND] = { "jobs_extend", "SELECT kbp_jobs_extend($1,$2,$3,$4)", 4, -1, 1, 0, PG_KEY_NONE },
	/*
	 * kbp_job_enqueue's unique_key rule for a batch in one statement: ON
	 * CONFLICT skips a job whose key a live job holds, one inserted earlier
	 * in the batch included, and the id answered is that holder's. A holder
	 * committed after the statement's snapshot leaves a NULL id, which the
	 * caller settles with job_enqueue.
	 */
	[ST_JOBS_INSERT] = { "jobs_insert",
		"WITH x AS (SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb)"
		"  AS (id text, kind text, payload text, unique_key text, priority integer,"
		"      run_at bigint, max_attempts integer)) WITH ORDINALITY"
		"  AS x(id, kind, payload, unique_key, priority, run_at, max_attempts, ord)),"
		" ins AS (INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at,"
		"                          unique_key, created_at, updated_at)"
		"  SELECT id, kind, payload::jsonb, 0, priority, max_attempts, run_at, unique_key, $2, $2"
		"    FROM x ORDER BY ord"
		"  ON CONFLICT (unique_key) WHERE " JOB_KEY_LIVE " DO NOTHING RETURNING id, unique_key)"
		" SELECT kbp__res(0, NULL, jsonb_build_object("
		"   'created', (SELECT count(*) FROM ins),"
		"   'ids', (SELECT jsonb_agg(coalesce(i.id, h.id, j.id) ORDER BY x.ord) FROM x"
		"     LEFT JOIN ins i ON i.id = x.id"
		"     LEFT JOIN ins h ON i.id IS NULL AND h.unique_key = x.unique_key"
		"     LEFT JOIN jobs j ON i.id IS NULL AND h.id IS NULL AND j.unique_key = x.unique_key"
		"                     AND j.state IN (0, 1)))),"
		" (SELECT kbp__notify('jobs') FROM ins LIMIT 1)",
		2, -1, 0, PG_WAKE_JOBS, PG_KEY_NONE },
	/* Records: run inside a transaction that records.c opens, so never replayed on their own. */
	[ST_FACTS] = { "facts", "SELECT kbp_facts($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)", 13, -1,
		       0, 0, PG_KEY_NONE },
	/*
	 * An order's status, polled by every waiter: the intent, its order and
	 * its finalize_order job without their lines, in one statement the
	 * server plans once (kbp_facts runs a dozen PL/pgSQL statements).
	 */
	[ST_FACTS_STATUS] = { "facts_status",
		"SELECT json_build_object("
		" 'intent', json_build_object('id', i.id, 'cart_id', i.cart_id,"
		"  'customer_id', i.customer_id, 'cart_version', i.cart_version,"
		"  'amount_minor', i.amount_minor, 'currency', i.currency, 'gateway', i.gateway,"
		"  'gateway_ref', i.gateway_ref, 'redirect', i.redirect,"
		"  'idempotency_key', i.idempotency_key, 'status', i.status,"
		"  'status_reason', i.status_reason, 'needs_refund', i.needs_refund,"
		"  'created_at', i.created_at, 'expires_at', i.expires_at, 'updated_at', i.updated_at,"
		"  'success_url', i.success_url, 'failure_url', i.failure_url,"
		"  'paid_at', coalesce(i.paid_at, 0), 'finalize_job_id', i.finalize_job_id,"
		"  'reconcile_marked', i.reconcile_scheduled),"
		" 'order', CASE WHEN o.id IS NOT NULL THEN json_build_object('id', o.id,"
		"  'order_number', o.order_number, 'intent_id', o.intent_id,"
		"  'customer_id', o.customer_id, 'total_minor', o.total_minor, 'currency', o.currency,"
		"  'status', o.status, 'fulfillment_status', o.fulfillment_status,"
		"  'created_at', o.created_at) END,"
		" 'job', CASE WHEN j.id IS NOT NULL THEN " JOB_JSON " END)"
		" FROM intents i"
		" LEFT JOIN orders o ON o.intent_id = i.id"
		" LEFT JOIN jobs j ON j.id = i.finalize_job_id"
		" WHERE i.id = $1",
		1, -1, 0, 0, PG_KEY_NONE },
	/*
	 * What a step decided, written by plain statements sent with its COMMIT
	 * (changes.c), one per record, so that every plan looks rows up by key
	 * (a set-returning function's estimate of 100 rows turned updates into
	 * sequential scans). A record with many fields comes as the JSON
	 * json_write.c builds. The two checks made as rows are written raise
	 * through kbp__raise.
	 */
	[ST_APPLY_INTENT_NEW] = { "apply_intent_new",
		"WITH x AS (SELECT * FROM jsonb_to_record($1::jsonb) AS x(id text, cart_id text,"
		"  customer_id text, cart_version bigint, amount_minor bigint, currency text,"
		"  gateway text, gateway_ref text, redirect text, idempotency_key text,"
		"  success_url text, failure_url text, status smallint, status_reason text,"
		"  needs_refund boolean, paid_at bigint, finalize_job_id text,"
		"  reconcile_marked boolean, created_at bigint, expires_at bigint, updated_at bigint,"
		"  items jsonb)),"
		" ins AS (INSERT INTO intents (id, cart_id, customer_id, cart_version, amount_minor,"
		"  currency, gateway, gateway_ref, redirect, idempotency_key, success_url, failure_url,"
		"  status, status_reason, needs_refund, paid_at, finalize_job_id, reconcile_scheduled,"
		"  created_at, expires_at, updated_at)"
		"  SELECT id, cart_id, customer_id, cart_version, amount_minor, currency, gateway,"
		"  gateway_ref, redirect, idempotency_key, success_url, failure_url, status,"
		"  status_reason, needs_refund, nullif(paid_at, 0), finalize_job_id, reconcile_marked,"
		"  created_at, expires_at, updated_at FROM x)"
		" INSERT INTO intent_items (intent_id, pos, sku, vendor_id, qty, unit_price_minor)"
		" SELECT x.id, e.ord, e.sku, e.vendor_id, e.qty, e.unit_price_minor FROM x,"
		"  ROWS FROM (jsonb_to_recordset(x.items) AS (sku text, vendor_id text, qty bigint,"
		"  unit_price_minor bigint)) WITH ORDINALITY AS e(sku, vendor_id, qty,"
		"  unit_price_minor, ord)",
		1, -1, 0, 0, PG_KEY_NONE },
	[ST_APPLY_INTENT] = { "apply_intent",
		"UPDATE intents i SET gateway_ref = x.gateway_ref, redirect = x.redirect,"
		"  status = x.status, status_reason = x.status_reason, needs_refund = x.needs_refund,"
		"  paid_at = nullif(x.paid_at, 0), finalize_job_id = x.finalize_job_id,"
		"  reconcile_scheduled = x.reconcile_marked, updated_at = x.updated_at"
		" FROM jsonb_to_record($1::jsonb) AS x(gateway_ref text, redirect text,"
		"  status smallint, status_reason text, needs_refund boolean, paid_at bigint,"
		"  finalize_job_id text, reconcile_marked boolean, updated_at bigint)"
		" WHERE i.id = $1::jsonb->>'id'",
		1, -1, 0, 0, PG_KEY_NONE },
	/*
	 * A product's stock moves by ($2, $3). The step read it without a lock:
	 * a move that would leave fewer than none available (another step took
	 * the units since) is a serialization failure, and the library runs the
	 * step again.
	 */
	[ST_APPLY_STOCK] = { "apply_stock",
		"WITH u AS (UPDATE products SET on_hand = on_hand + $2::bigint,"
		"  reserved = reserved + $3::bigint"
		"  WHERE id = $1 AND on_hand + $2::bigint >= reserved + $3::bigint RETURNING 1)"
		" SELECT kbp__raise('40001', format('the stock of %s changed since it was read', $1::text))"
		" WHERE NOT EXISTS (SELECT 1 FROM u)",
		3, -1, 0, 0, PG_KEY_NONE },
	/* The cart moves one version on from the one the step read, or the step lost a race. */
	[ST_APPLY_CART] = { "apply_cart",
		"WITH c AS (INSERT INTO carts AS c (id, customer_id, version, created_at, updated_at)"
		"  SELECT id, customer_id, version, $2::bigint, $2::bigint FROM jsonb_to_record($1::jsonb)"
		"  AS x(id text, customer_id text, version bigint)"
		"  ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,"
		"  updated_at = EXCLUDED.updated_at WHERE c.version = EXCLUDED.version - 1"
		"  RETURNING id),"
		" gone AS (DELETE FROM cart_items WHERE cart_id = $1::jsonb->>'id'"
		"  AND EXISTS (SELECT 1 FROM c))"
		" SELECT kbp__raise('23505', format('cart %s changed concurrently', $1::jsonb->>'id'))"
		" WHERE NOT EXISTS (SELECT 1 FROM c)",
		2, -1, 0, 0, PG_KEY_NONE },
	/* After apply_cart, which removed the lines: a statement cannot both delete and re-insert a key. */
	[ST_APPLY_CART_ITEMS] = { "apply_cart_items",
		"INSERT INTO cart_items (cart_id, sku, qty)"
		" SELECT $1::jsonb->>'id', e.sku, e.qty"
		"  FROM ROWS FROM (jsonb_to_recordset($1::jsonb->'items') AS (sku text, qty bigint))"
		"  WITH ORDINALITY AS e(sku, qty, ord) ORDER BY e.ord",
		1, -1, 0, 0, PG_KEY_NONE },
	[ST_APPLY_ORDER] = { "apply_order",
		"WITH o AS (SELECT * FROM jsonb_to_record($1::jsonb) AS o(id text, order_number text,"
		"  intent_id text, customer_id text, total_minor bigint, currency text, status text,"
		"  fulfillment_status text, created_at bigint, items jsonb)),"
		" ins AS (INSERT INTO orders (id, order_number, intent_id, customer_id, total_minor,"
		"  currency, status, fulfillment_status, created_at, finalize_ms)"
		"  SELECT o.id, o.order_number, o.intent_id, o.customer_id, o.total_minor, o.currency,"
		"  o.status, o.fulfillment_status, o.created_at,"
		"  o.created_at - coalesce((SELECT paid_at FROM intents"
		"                            WHERE id = $1::jsonb->>'intent_id'), 0)"
		"  FROM o)"
		" INSERT INTO order_items (order_id, pos, sku, vendor_id, qty, unit_price_minor)"
		" SELECT o.id, e.ord, e.sku, e.vendor_id, e.qty, e.unit_price_minor FROM o,"
		"  ROWS FROM (jsonb_to_recordset(o.items) AS (sku text, vendor_id text, qty bigint,"
		"  unit_price_minor bigint)) WITH ORDINALITY AS e(sku, vendor_id, qty,"
		"  unit_price_minor, ord)",
		1, -1, 0, 0, PG_KEY_NONE },
	[ST_APPLY_VERIFICATION] = { "apply_verification",
		"INSERT INTO verifications (id, gateway, gateway_ref, external_txn_id, intent_id,"
		"  amount_minor, outcome, reason, intent_status, needs_refund, at, raw, raw_sha256)"
		" SELECT id, gateway, gateway_ref, external_txn_id, intent_id, amount_minor, outcome,"
		"  reason, intent_status, needs_refund, at, $2, raw_sha256"
		" FROM jsonb_to_record($1::jsonb) AS v(id text, gateway text, gateway_ref text,"
		"  external_txn_id text, intent_id text, amount_minor bigint, outcome smallint,"
		"  reason text, intent_status smallint, needs_refund boolean, at bigint,"
		"  raw_sha256 text)",
		2, 1, 0, 0, PG_KEY_NONE },
	/* jobs_insert's unique_key rule; the workers hear of new jobs at the commit. */
	[ST_APPLY_JOBS] = { "apply_jobs",
		"WITH ins AS (INSERT INTO jobs (id, kind, payload, state, priority, max_attempts,"
		"  run_at, unique_key, created_at, updated_at)"
		"  SELECT id, kind, payload::jsonb, 0, priority, max_attempts, run_at, unique_key,"
		"  $2::bigint, $2::bigint"
		"  FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id text, kind text, payload text,"
		"  unique_key text, priority smallint, run_at bigint, max_attempts integer))"
		"  WITH ORDINALITY AS x(id, kind, payload, unique_key, priority, run_at, max_attempts,"
		"  ord) ORDER BY ord"
		"  ON CONFLICT (unique_key) WHERE " JOB_KEY_LIVE " DO NOTHING RETURNING 1)"
		" SELECT pg_notify(current_schema() || '.jobs', '') WHERE EXISTS (SELECT 1 FROM ins)",
		2, -1, 0, 0, PG_KEY_NONE },
	/*
	 * A job's state as the library decided it ($1 id, $2 state, $3 run_at,
	 * $4 max_attempts, $5 error or NULL, $6 now, $7 finished, $8 live): an
	 * error joins the job's history; workers hear of a job that is live again.
	 */
	[ST_APPLY_JOB_WRITE] = { "apply_job_write",
		"WITH u AS (UPDATE jobs j SET state = $2::smallint, run_at = $3::bigint,"
		"  max_attempts = $4::integer, lease_until = 0,"
		"  finished_at = CASE WHEN $7::boolean THEN $6::bigint ELSE 0 END,"
		"  updated_at = $6::bigint, last_error = coalesce($5::text, j.last_error),"
		"  errors = CASE WHEN $5::text IS NULL THEN j.errors ELSE j.errors ||"
		"   jsonb_build_array(jsonb_build_object('attempt', j.attempts, 'at', $6::bigint,"
		"   'message', $5::text)) END"
		"  WHERE j.id = $1)"
		" SELECT pg_notify(current_schema() || '.jobs', '') WHERE $8::boolean",
		8, -1, 0, 0, PG_KEY_NONE },
	[ST_APPLY_RESCUES] = { "apply_rescues",
		"INSERT INTO job_rescues (at, count) VALUES ($2::bigint, $1::integer)",
		2, -1, 0, 0, PG_KEY_NONE },
};

