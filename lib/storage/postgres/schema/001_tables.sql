-- SPDX-License-Identifier: MIT
--
-- libkbpipeline PostgreSQL storage: tables.
--
-- Applied by the migration runner inside one transaction, with search_path set
-- to the target schema: names are never schema-qualified here. Every time is
-- bigint milliseconds since the Unix epoch, passed in by the library's clock.
-- The invariants of DESIGN §3 are enforced here as well as in the functions
-- of 002_functions.sql, so that a bug in a function fails loudly instead of
-- corrupting stock or money.
--
-- Enumerations are smallints with the values of the public C enums:
--   intent status   0 pending, 1 succeeded, 2 failed, 3 expired, 4 canceled
--   job state       0 available, 1 running, 2 completed, 3 failed, 4 cancelled
--   verification    0 accepted, 1 rejected, 2 pending, 3 declined

CREATE TABLE vendors (
	id          text PRIMARY KEY,
	name        text NOT NULL,
	created_at  bigint NOT NULL,
	updated_at  bigint NOT NULL
);

CREATE TABLE products (
	id           text PRIMARY KEY,
	vendor_id    text NOT NULL REFERENCES vendors (id),
	name         text NOT NULL,
	price_minor  bigint NOT NULL,
	currency     text NOT NULL,
	on_hand      bigint NOT NULL,
	reserved     bigint NOT NULL DEFAULT 0,
	active       boolean NOT NULL,
	created_at   bigint NOT NULL,
	updated_at   bigint NOT NULL,
	-- The backstop against overselling: no statement can reserve more than is on hand.
	CONSTRAINT products_stock_check CHECK (0 <= reserved AND reserved <= on_hand),
	CONSTRAINT products_price_check CHECK (price_minor >= 0),
	CONSTRAINT products_currency_check CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE TABLE carts (
	id           text PRIMARY KEY,
	customer_id  text NOT NULL,
	version      bigint NOT NULL DEFAULT 0,
	created_at   bigint NOT NULL,
	updated_at   bigint NOT NULL
);

CREATE TABLE cart_items (
	cart_id  text NOT NULL REFERENCES carts (id),
	sku      text NOT NULL REFERENCES products (id),
	qty      bigint NOT NULL CHECK (qty > 0),
	-- Insertion order: a changed quantity keeps its place, a re-added line goes last.
	pos      bigint GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (cart_id, sku)
);

CREATE INDEX cart_items_order ON cart_items (cart_id, pos);

CREATE TABLE intents (
	id               text PRIMARY KEY,
	cart_id          text NOT NULL REFERENCES carts (id),
	customer_id      text NOT NULL,
	cart_version     bigint NOT NULL,
	amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
	currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	gateway          text NOT NULL,
	gateway_ref      text,
	redirect         text,
	idempotency_key  text NOT NULL UNIQUE,
	success_url      text,
	failure_url      text,
	status           smallint NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 4),
	status_reason    text,
	needs_refund     boolean NOT NULL DEFAULT false,
	paid_at          bigint,
	finalize_job_id  text,
	created_at       bigint NOT NULL,
	expires_at       bigint NOT NULL,
	updated_at       bigint NOT NULL,
	CONSTRAINT intents_gateway_ref_key UNIQUE (gateway, gateway_ref),
	-- A succeeded intent was paid at a known time (finalize latency is measured from it).
	CONSTRAINT intents_paid_check CHECK (status <> 1 OR paid_at IS NOT NULL)
);

-- Maintenance: pending intents by expiry.
CREATE INDEX intents_pending_expiry ON intents (expires_at) WHERE status = 0;

-- The snapshot the shopper pays for, in cart order.
CREATE TABLE intent_items (
	intent_id         text NOT NULL REFERENCES intents (id),
	pos               integer NOT NULL,
	sku               text NOT NULL REFERENCES products (id),
	vendor_id         text NOT NULL,
	qty               bigint NOT NULL CHECK (qty > 0),
	unit_price_minor  bigint NOT NULL CHECK (unit_price_minor >= 0),
	PRIMARY KEY (intent_id, pos)
);

-- The append-only audit of every verification that reached storage.
CREATE TABLE verifications (
	seq              bigint GENERATED ALWAYS AS IDENTITY,
	id               text PRIMARY KEY,
	gateway          text NOT NULL,
	gateway_ref      text,
	external_txn_id  text,
	intent_id        text REFERENCES intents (id),
	amount_minor     bigint NOT NULL,
	currency         text,
	gateway_status   smallint,           -- the kbp_gateway_status the lookup returned
	outcome          smallint NOT NULL CHECK (outcome BETWEEN 0 AND 3),
	reason           text,
	intent_status    smallint NOT NULL DEFAULT 0,
	needs_refund     boolean NOT NULL DEFAULT false,
	at               bigint NOT NULL,
	raw              bytea
);

-- One accepted verification per gateway transaction: what makes a replayed callback a no-op.
CREATE UNIQUE INDEX verifications_accepted_txn ON verifications (gateway, external_txn_id)
	WHERE outcome = 0;
CREATE INDEX verifications_by_intent ON verifications (intent_id, seq);
CREATE INDEX verifications_unmatched ON verifications (seq) WHERE intent_id IS NULL;
CREATE INDEX verifications_rejected ON verifications (seq) WHERE outcome = 1;

CREATE TABLE orders (
	seq                 bigint GENERATED ALWAYS AS IDENTITY,
	id                  text PRIMARY KEY,
	order_number        text NOT NULL UNIQUE,
	intent_id           text NOT NULL UNIQUE REFERENCES intents (id),
	customer_id         text NOT NULL,
	total_minor         bigint NOT NULL CHECK (total_minor > 0),
	currency            text NOT NULL,
	status              text NOT NULL DEFAULT 'confirmed',
	fulfillment_status  text NOT NULL DEFAULT 'pending',
	created_at          bigint NOT NULL,
	-- payment accepted -> order created, for the finalize latency percentiles
	finalize_ms         bigint NOT NULL
);

-- The most recent orders, for the latency percentiles.
CREATE INDEX orders_recent ON orders (seq);

CREATE TABLE order_items (
	order_id          text NOT NULL REFERENCES orders (id),
	pos               integer NOT NULL,
	sku               text NOT NULL,
	vendor_id         text NOT NULL,
	qty               bigint NOT NULL CHECK (qty > 0),
	unit_price_minor  bigint NOT NULL CHECK (unit_price_minor >= 0),
	PRIMARY KEY (order_id, pos)
);

-- Jobs are small rows that churn: completed and cancelled ones are pruned by
-- maintenance, and every index but the primary key and the listing index is
-- partial, so a row only sits in the indexes of the states it is in.
CREATE TABLE jobs (
	seq           bigint GENERATED ALWAYS AS IDENTITY,
	id            text PRIMARY KEY,
	kind          text NOT NULL,
	payload       jsonb NOT NULL DEFAULT '{}',
	state         smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 4),
	priority      smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 100),
	attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	max_attempts  integer NOT NULL CHECK (max_attempts >= 0),
	run_at        bigint NOT NULL,
	lease_until   bigint NOT NULL DEFAULT 0,
	locked_by     text,
	unique_key    text,
	last_error    text,
	errors        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(errors) = 'array'),
	created_at    bigint NOT NULL,
	updated_at    bigint NOT NULL,
	finished_at   bigint NOT NULL DEFAULT 0,
	CONSTRAINT jobs_payload_check CHECK (jsonb_typeof(payload) = 'object')
) WITH (fillfactor = 90);

-- Acquisition: FOR UPDATE SKIP LOCKED in this order.
CREATE INDEX jobs_available ON jobs (priority, run_at, seq) WHERE state = 0;
-- At most one live job per unique key.
CREATE UNIQUE INDEX jobs_live_unique ON jobs (unique_key) WHERE state IN (0, 1);
-- Rescue of lapsed leases.
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 1;
-- Pruning (completed, cancelled) and failures in the last hour (failed).
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state >= 2;
-- Listing, newest first, with a stable cursor.
CREATE INDEX jobs_listing ON jobs (created_at, seq);

-- When leases were rescued, for jobs_rescued_last_hour; maintenance prunes it.
CREATE TABLE job_rescues (
	at     bigint NOT NULL,
	count  integer NOT NULL CHECK (count > 0)
);

CREATE INDEX job_rescues_at ON job_rescues (at);
