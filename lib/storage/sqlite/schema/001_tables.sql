-- SPDX-License-Identifier: MIT
--
-- libkbpipeline SQLite storage: tables.
--
-- Applied by the migration runner (migrate.c) inside one BEGIN IMMEDIATE
-- transaction, and recorded in kbp_schema_version. The backend only stores
-- (storage interface version 3, records): the pipeline's rules run in the
-- library, so this file holds tables, keys and the invariants that guard
-- stock and money, never a state transition. Every time is an integer of
-- milliseconds since the Unix epoch passed in by the library's clock.
--
-- Enumerations are integers with the values of the public C enums, written
-- {{KBP_…}}: embed_sql.py puts in the value the C headers give the name.

CREATE TABLE vendors (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE products (
	id           TEXT PRIMARY KEY,
	vendor_id    TEXT NOT NULL,
	name         TEXT NOT NULL,
	price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
	currency     TEXT NOT NULL CHECK (length(currency) = 3),
	on_hand      INTEGER NOT NULL,
	reserved     INTEGER NOT NULL DEFAULT 0,
	available    INTEGER GENERATED ALWAYS AS (on_hand - reserved) VIRTUAL,
	active       INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	-- The backstop against overselling: no write can reserve more than is on hand.
	CHECK (0 <= reserved AND reserved <= on_hand)
) STRICT;

CREATE TABLE carts (
	id           TEXT PRIMARY KEY,
	customer_id  TEXT NOT NULL,
	version      INTEGER NOT NULL
) STRICT;

CREATE TABLE cart_items (
	cart_id  TEXT NOT NULL REFERENCES carts (id),
	pos      INTEGER NOT NULL,
	sku      TEXT NOT NULL,
	qty      INTEGER NOT NULL CHECK (qty > 0),
	PRIMARY KEY (cart_id, pos)
) STRICT, WITHOUT ROWID;

CREATE TABLE intents (
	id                  TEXT PRIMARY KEY,
	cart_id             TEXT NOT NULL,
	customer_id         TEXT NOT NULL,
	cart_version        INTEGER NOT NULL,
	amount_minor        INTEGER NOT NULL,
	currency            TEXT NOT NULL,
	gateway             TEXT NOT NULL,
	gateway_ref         TEXT,
	redirect            TEXT,
	idempotency_key     TEXT NOT NULL UNIQUE,
	success_url         TEXT,
	failure_url         TEXT,
	status              INTEGER NOT NULL
	                    CHECK (status BETWEEN 0 AND {{KBP_INTENT_STATUS_COUNT}} - 1),
	status_reason       TEXT,
	needs_refund        INTEGER NOT NULL,
	paid_at             INTEGER NOT NULL,
	finalize_job_id     TEXT,
	reconcile_marked    INTEGER NOT NULL,
	created_at          INTEGER NOT NULL,
	expires_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	UNIQUE (gateway, gateway_ref)
) STRICT;

-- Maintenance scans: pending intents by expiry, unsettled ones by age.
CREATE INDEX intents_pending_expiry ON intents (expires_at) WHERE status = {{KBP_INTENT_PENDING}};
CREATE INDEX intents_unsettled ON intents (created_at)
	WHERE gateway_ref IS NOT NULL AND needs_refund = 0 AND reconcile_marked = 0
	  AND status IN ({{KBP_INTENT_PENDING}}, {{KBP_INTENT_EXPIRED}});

-- The snapshot the shopper pays for, in cart order.
CREATE TABLE intent_items (
	intent_id         TEXT NOT NULL REFERENCES intents (id),
	pos               INTEGER NOT NULL,
	sku               TEXT NOT NULL,
	vendor_id         TEXT NOT NULL,
	qty               INTEGER NOT NULL CHECK (qty > 0),
	unit_price_minor  INTEGER NOT NULL CHECK (unit_price_minor >= 0),
	PRIMARY KEY (intent_id, pos)
) STRICT, WITHOUT ROWID;

-- The append-only audit of every verification that reached storage; rowid is its order.
CREATE TABLE verifications (
	id               TEXT NOT NULL UNIQUE,
	gateway          TEXT NOT NULL,
	gateway_ref      TEXT,
	external_txn_id  TEXT,
	intent_id        TEXT,
	amount_minor     INTEGER NOT NULL,
	outcome          INTEGER NOT NULL CHECK (outcome BETWEEN 0 AND {{KBP_VERIFICATION_DECLINED}}),
	reason           TEXT,
	duplicate        INTEGER NOT NULL,
	intent_status    INTEGER NOT NULL,
	needs_refund     INTEGER NOT NULL,
	at               INTEGER NOT NULL,
	raw              BLOB,
	raw_sha256       TEXT
) STRICT;

-- One accepted verification per gateway transaction: what makes a replayed callback a no-op.
CREATE UNIQUE INDEX verifications_accepted_txn ON verifications (gateway, external_txn_id)
	WHERE outcome = {{KBP_VERIFICATION_ACCEPTED}} AND external_txn_id IS NOT NULL;
CREATE INDEX verifications_by_intent ON verifications (intent_id);
CREATE INDEX verifications_orphan_rejections ON verifications (at)
	WHERE outcome = {{KBP_VERIFICATION_REJECTED}} AND intent_id IS NULL;

-- rowid is creation order, for the most recent orders' latency.
CREATE TABLE orders (
	id                  TEXT NOT NULL UNIQUE,
	order_number        TEXT NOT NULL UNIQUE,
	intent_id           TEXT NOT NULL UNIQUE,
	customer_id         TEXT NOT NULL,
	total_minor         INTEGER NOT NULL,
	currency            TEXT NOT NULL,
	status              TEXT NOT NULL,
	fulfillment_status  TEXT NOT NULL,
	created_at          INTEGER NOT NULL,
	-- payment accepted -> order created, for the finalize latency percentiles
	finalize_ms         INTEGER NOT NULL
) STRICT;

CREATE TABLE order_items (
	order_id          TEXT NOT NULL,
	pos               INTEGER NOT NULL,
	sku               TEXT NOT NULL,
	vendor_id         TEXT NOT NULL,
	qty               INTEGER NOT NULL,
	unit_price_minor  INTEGER NOT NULL,
	PRIMARY KEY (order_id, pos)
) STRICT, WITHOUT ROWID;

-- rowid is enqueue order, the last tie-breaker of acquisition and listing.
CREATE TABLE jobs (
	id            TEXT NOT NULL UNIQUE,
	kind          TEXT NOT NULL,
	payload       TEXT NOT NULL,
	state         INTEGER NOT NULL CHECK (state BETWEEN 0 AND {{KBP_JOB_STATE_COUNT}} - 1),
	priority      INTEGER NOT NULL,
	attempts      INTEGER NOT NULL,
	max_attempts  INTEGER NOT NULL,
	run_at        INTEGER NOT NULL,
	lease_until   INTEGER NOT NULL,
	locked_by     TEXT,
	unique_key    TEXT,
	last_error    TEXT,
	errors        TEXT NOT NULL,           -- a JSON array of {attempt, at, message}
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	finished_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX jobs_available ON jobs (priority, run_at) WHERE state = {{KBP_JOB_AVAILABLE}};
-- At most one live job per unique key.
CREATE UNIQUE INDEX jobs_live_unique ON jobs (unique_key)
	WHERE state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}});
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = {{KBP_JOB_RUNNING}};
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state >= {{KBP_JOB_COMPLETED}};
CREATE INDEX jobs_listing ON jobs (created_at);

-- When leases were rescued, for jobs_rescued_last_hour; maintenance prunes it.
CREATE TABLE job_rescues (
	at     INTEGER NOT NULL,
	count  INTEGER NOT NULL CHECK (count > 0)
) STRICT;

CREATE INDEX job_rescues_at ON job_rescues (at);

