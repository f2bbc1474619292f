-- SPDX-License-Identifier: MIT
--
-- libkbpipeline PostgreSQL storage: one function per storage operation.
--
-- The C side calls each kbp_… function as a single `SELECT kbp_…(…)` in
-- autocommit, so each is one transaction (READ COMMITTED). Every one returns
-- {"code": <0 or a negative KBP_E… code>, "message": <text or null>, "data": …}
-- and mirrors the memory backend (lib/storage/memory) rule for rule and
-- message for message. A business error is returned, never raised, and is
-- decided before anything is written (payment_apply keeps its audit row).
--
-- Time is always the p_now parameter (bigint milliseconds); nothing reads a
-- clock. Every value is a parameter; there is no dynamic SQL.
--
-- Row locks are taken in one global order so that concurrent steps cannot
-- deadlock: advisory locks (idempotency key, gateway transaction), then the
-- intent, then the cart, then products in sku order. Rows whose key does not
-- change are locked FOR NO KEY UPDATE, which does not block foreign-key checks.
--
-- kbp__… functions are internal helpers.

-- {"code","message","data"}
CREATE FUNCTION kbp__res(p_code integer, p_message text, p_data jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('code', p_code, 'message', p_message, 'data', p_data)
$$;

CREATE FUNCTION kbp__notify(p_topic text)
RETURNS void LANGUAGE sql AS $$
	SELECT pg_notify(current_schema() || '.' || p_topic, '')
$$;

CREATE FUNCTION kbp__intent_status_name(p_status smallint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_status WHEN 0 THEN 'pending' WHEN 1 THEN 'succeeded' WHEN 2 THEN 'failed'
	                     WHEN 3 THEN 'expired' WHEN 4 THEN 'canceled' ELSE 'unknown' END
$$;

CREATE FUNCTION kbp__job_state_name(p_state smallint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_state WHEN 0 THEN 'available' WHEN 1 THEN 'running' WHEN 2 THEN 'completed'
	                    WHEN 3 THEN 'failed' WHEN 4 THEN 'cancelled' ELSE 'unknown' END
$$;

CREATE FUNCTION kbp__intent_json(i intents)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', i.id,
		'cart_id', i.cart_id,
		'customer_id', i.customer_id,
		'cart_version', i.cart_version,
		'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
		                              'sku', it.sku, 'vendor_id', it.vendor_id, 'qty', it.qty,
		                              'unit_price_minor', it.unit_price_minor) ORDER BY it.pos)
		                   FROM intent_items it WHERE it.intent_id = i.id), '[]'::jsonb),
		'amount_minor', i.amount_minor,
		'currency', i.currency,
		'gateway', i.gateway,
		'gateway_ref', i.gateway_ref,
		'redirect', i.redirect,
		'idempotency_key', i.idempotency_key,
		'status', i.status,
		'status_reason', i.status_reason,
		'needs_refund', i.needs_refund,
		'created_at', i.created_at,
		'expires_at', i.expires_at,
		'updated_at', i.updated_at)
$$;

CREATE FUNCTION kbp__verification_json(v verifications)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object(
		'id', v.id,
		'gateway', v.gateway,
		'gateway_ref', v.gateway_ref,
		'external_txn_id', v.external_txn_id,
		'intent_id', v.intent_id,
		'amount_minor', v.amount_minor,
		'outcome', v.outcome,
		'reason', v.reason,
		'duplicate', false,
		'intent_status', v.intent_status,
		'needs_refund', v.needs_refund,
		'at', v.at)
$$;

CREATE FUNCTION kbp__order_json(o orders)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', o.id,
		'order_number', o.order_number,
		'intent_id', o.intent_id,
		'customer_id', o.customer_id,
		'total_minor', o.total_minor,
		'currency', o.currency,
		'status', o.status,
		'fulfillment_status', o.fulfillment_status,
		'created_at', o.created_at,
		'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
		                              'sku', it.sku, 'vendor_id', it.vendor_id, 'qty', it.qty,
		                              'unit_price_minor', it.unit_price_minor) ORDER BY it.pos)
		                   FROM order_items it WHERE it.order_id = o.id), '[]'::jsonb))
$$;

-- The payload travels as JSON text (a string), as kbp_job.payload is.
CREATE FUNCTION kbp__job_json(j jobs)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object(
		'id', j.id,
		'kind', j.kind,
		'payload', j.payload::text,
		'state', j.state,
		'priority', j.priority,
		'attempts', j.attempts,
		'max_attempts', j.max_attempts,
		'run_at', j.run_at,
		'lease_until', j.lease_until,
		'locked_by', j.locked_by,
		'unique_key', j.unique_key,
		'last_error', j.last_error,
		'errors', j.errors,
		'created_at', j.created_at,
		'updated_at', j.updated_at,
		'finished_at', j.finished_at)
$$;

-- Gives back an intent's reservation. The caller holds the intent's lock.
CREATE FUNCTION kbp__intent_release(p_intent_id text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM products p
	 WHERE p.id IN (SELECT it.sku FROM intent_items it WHERE it.intent_id = p_intent_id)
	 ORDER BY p.id FOR NO KEY UPDATE;
	UPDATE products p SET reserved = p.reserved - it.qty
	  FROM intent_items it
	 WHERE it.intent_id = p_intent_id AND p.id = it.sku;
END
$$;

-- Reserves an intent's items again if every product is active and available:
-- all lines or none. The caller holds the intent's lock.
CREATE FUNCTION kbp__intent_try_reserve(p_intent_id text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM products p
	 WHERE p.id IN (SELECT it.sku FROM intent_items it WHERE it.intent_id = p_intent_id)
	 ORDER BY p.id FOR NO KEY UPDATE;
	IF EXISTS (SELECT 1 FROM intent_items it JOIN products p ON p.id = it.sku
	            WHERE it.intent_id = p_intent_id
	              AND (NOT p.active OR p.on_hand - p.reserved < it.qty)) THEN
		RETURN false;
	END IF;
	UPDATE products p SET reserved = p.reserved + it.qty
	  FROM intent_items it
	 WHERE it.intent_id = p_intent_id AND p.id = it.sku;
	RETURN true;
END
$$;

-- ---------------------------------------------------------------- catalog

CREATE FUNCTION kbp_vendor_put(p_id text, p_name text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO vendors AS v (id, name, created_at, updated_at)
	VALUES (p_id, p_name, p_now, p_now)
	ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at;
	RETURN kbp__res(0, NULL, NULL);
END
$$;

CREATE FUNCTION kbp_vendor_get(p_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v vendors;
BEGIN
	SELECT * INTO v FROM vendors WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('vendor ''%s'' does not exist', p_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, jsonb_build_object('id', v.id, 'name', v.name));
END
$$;

-- Creates or replaces a product; the reserved count is kept.
CREATE FUNCTION kbp_product_put(p_id text, p_vendor_id text, p_name text, p_price_minor bigint,
                                p_currency text, p_on_hand bigint, p_active boolean, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_reserved bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM vendors WHERE id = p_vendor_id) THEN
		RETURN kbp__res(-3, format('vendor ''%s'' does not exist', p_vendor_id), NULL);
	END IF;
	SELECT reserved INTO v_reserved FROM products WHERE id = p_id FOR NO KEY UPDATE;
	IF FOUND AND p_on_hand < v_reserved THEN
		RETURN kbp__res(-4, format('on_hand %s is below the %s units reserved for ''%s''',
		                           p_on_hand, v_reserved, p_id), NULL);
	END IF;
	INSERT INTO products AS p (id, vendor_id, name, price_minor, currency, on_hand, reserved,
	                           active, created_at, updated_at)
	VALUES (p_id, p_vendor_id, p_name, p_price_minor, coalesce(p_currency, 'NPR'), p_on_hand, 0,
	        p_active, p_now, p_now)
	ON CONFLICT (id) DO UPDATE
	   SET vendor_id = EXCLUDED.vendor_id, name = EXCLUDED.name,
	       price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency,
	       on_hand = EXCLUDED.on_hand, active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
	 WHERE p.reserved <= EXCLUDED.on_hand;
	IF NOT FOUND THEN
		-- Created by a concurrent call and reserved from since: refuse like the check above.
		SELECT reserved INTO v_reserved FROM products WHERE id = p_id;
		RETURN kbp__res(-4, format('on_hand %s is below the %s units reserved for ''%s''',
		                           p_on_hand, v_reserved, p_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, NULL);
END
$$;

CREATE FUNCTION kbp_product_get(p_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	p products;
BEGIN
	SELECT * INTO p FROM products WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('product ''%s'' does not exist', p_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, jsonb_build_object(
		'id', p.id, 'vendor_id', p.vendor_id, 'name', p.name, 'price_minor', p.price_minor,
		'currency', p.currency, 'on_hand', p.on_hand, 'reserved', p.reserved,
		'available', p.on_hand - p.reserved, 'active', p.active));
END
$$;

CREATE FUNCTION kbp_product_set_active(p_id text, p_active boolean, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	UPDATE products SET active = p_active, updated_at = p_now WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('product ''%s'' does not exist', p_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, NULL);
END
$$;

-- ------------------------------------------------------------------ carts

-- Sets one line's quantity (0 removes it), creating the cart on first use.
CREATE FUNCTION kbp_cart_set_item(p_cart_id text, p_customer_id text, p_sku text, p_qty bigint,
                                  p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_active boolean;
	v_customer text;
	v_lines integer;
	v_version bigint;
BEGIN
	-- The product first, so that a refused first line leaves no cart.
	IF p_qty <> 0 THEN
		SELECT active INTO v_active FROM products WHERE id = p_sku;
		IF NOT FOUND THEN
			RETURN kbp__res(-3, format('product ''%s'' does not exist', p_sku), NULL);
		END IF;
		IF NOT v_active THEN
			RETURN kbp__res(-6, format('product ''%s'' is not active', p_sku), NULL);
		END IF;
	END IF;
	SELECT customer_id INTO v_customer FROM carts WHERE id = p_cart_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		IF p_qty = 0 THEN
			RETURN kbp__res(-3, format('cart ''%s'' does not exist', p_cart_id), NULL);
		END IF;
		INSERT INTO carts (id, customer_id, version, created_at, updated_at)
		VALUES (p_cart_id, p_customer_id, 0, p_now, p_now)
		ON CONFLICT (id) DO NOTHING;
		SELECT customer_id INTO v_customer FROM carts WHERE id = p_cart_id FOR NO KEY UPDATE;
	END IF;
	IF v_customer <> p_customer_id THEN
		RETURN kbp__res(-4, format('cart ''%s'' belongs to another customer', p_cart_id), NULL);
	END IF;
	IF p_qty = 0 THEN
		DELETE FROM cart_items WHERE cart_id = p_cart_id AND sku = p_sku;
		IF NOT FOUND THEN
			RETURN kbp__res(-3, format('''%s'' is not in cart ''%s''', p_sku, p_cart_id), NULL);
		END IF;
	ELSE
		UPDATE cart_items SET qty = p_qty WHERE cart_id = p_cart_id AND sku = p_sku;
		IF NOT FOUND THEN
			SELECT count(*) INTO v_lines FROM cart_items WHERE cart_id = p_cart_id;
			IF v_lines >= 100 THEN
				RETURN kbp__res(-11, 'a cart holds at most 100 lines', NULL);
			END IF;
			INSERT INTO cart_items (cart_id, sku, qty) VALUES (p_cart_id, p_sku, p_qty);
		END IF;
	END IF;
	UPDATE carts SET version = version + 1, updated_at = p_now
	 WHERE id = p_cart_id
	RETURNING version INTO v_version;
	RETURN kbp__res(0, NULL, jsonb_build_object('version', v_version));
END
$$;

CREATE FUNCTION kbp_cart_get(p_cart_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	c carts;
BEGIN
	SELECT * INTO c FROM carts WHERE id = p_cart_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('cart ''%s'' does not exist', p_cart_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, jsonb_build_object(
		'id', c.id, 'customer_id', c.customer_id, 'version', c.version,
		'items', coalesce((SELECT jsonb_agg(jsonb_build_object('sku', ci.sku, 'qty', ci.qty)
		                                    ORDER BY ci.pos)
		                   FROM cart_items ci WHERE ci.cart_id = p_cart_id), '[]'::jsonb)));
END
$$;

-- ---------------------------------------------------------------- intents

-- DESIGN §4.1: validate the cart, reserve every line and insert the intent, or
-- do nothing. The same idempotency key with the same parameters returns the
-- existing intent (EEXISTS); with different ones, ECONFLICT.
CREATE FUNCTION kbp_intent_create(p_id text, p_cart_id text, p_gateway text,
                                  p_idempotency_key text, p_success_url text,
                                  p_failure_url text, p_expires_at bigint, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_existing intents;
	v_intent intents;
	v_cart carts;
	v_line record;
	v_lines integer := 0;
	v_currency text;
	v_cost numeric;
	v_total numeric := 0;
BEGIN
	-- Two calls with one key: the second waits here, then finds the first's intent.
	PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.intent_key'),
	                              hashtext(p_idempotency_key));
	SELECT * INTO v_existing FROM intents WHERE idempotency_key = p_idempotency_key;
	IF FOUND THEN
		IF v_existing.cart_id <> p_cart_id OR v_existing.gateway <> p_gateway
		   OR v_existing.success_url IS DISTINCT FROM p_success_url
		   OR v_existing.failure_url IS DISTINCT FROM p_failure_url THEN
			RETURN kbp__res(-4, 'idempotency key was used with different parameters', NULL);
		END IF;
		RETURN kbp__res(-18, format('intent %s already exists for this key', v_existing.id),
		                kbp__intent_json(v_existing));
	END IF;

	SELECT * INTO v_cart FROM carts WHERE id = p_cart_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('cart ''%s'' does not exist', p_cart_id), NULL);
	END IF;
	PERFORM 1 FROM products p
	 WHERE p.id IN (SELECT ci.sku FROM cart_items ci WHERE ci.cart_id = p_cart_id)
	 ORDER BY p.id FOR NO KEY UPDATE;

	-- Every check, in cart order, before anything is written.
	FOR v_line IN
		SELECT ci.sku, ci.qty, p.id AS product_id, p.price_minor, p.currency,
		       p.on_hand - p.reserved AS available, p.active
		  FROM cart_items ci LEFT JOIN products p ON p.id = ci.sku
		 WHERE ci.cart_id = p_cart_id
		 ORDER BY ci.pos
	LOOP
		v_lines := v_lines + 1;
		IF v_line.product_id IS NULL THEN
			RETURN kbp__res(-3, format('product ''%s'' does not exist', v_line.sku), NULL);
		END IF;
		IF NOT v_line.active THEN
			RETURN kbp__res(-6, format('product ''%s'' is not active', v_line.sku), NULL);
		END IF;
		IF v_lines = 1 THEN
			v_currency := v_line.currency;
		ELSIF v_currency <> v_line.currency THEN
			RETURN kbp__res(-1, format('cart mixes currencies %s and %s', v_currency,
			                           v_line.currency), NULL);
		END IF;
		v_cost := v_line.qty::numeric * v_line.price_minor;
		v_total := v_total + v_cost;
		-- KBP_AMOUNT_MAX: 2^53 - 1, so that every amount stays exact as a JSON number.
		IF v_total > 9007199254740991 THEN
			RETURN kbp__res(-13, 'cart total exceeds 9007199254740991 minor units', NULL);
		END IF;
		IF v_line.available < v_line.qty THEN
			RETURN kbp__res(-5, format('''%s'' is out of stock: %s available, %s wanted',
			                           v_line.sku, v_line.available, v_line.qty), NULL);
		END IF;
	END LOOP;
	IF v_lines = 0 THEN
		RETURN kbp__res(-7, format('cart ''%s'' is empty', p_cart_id), NULL);
	END IF;
	IF v_total <= 0 THEN
		RETURN kbp__res(-1, 'cart total must be positive', NULL);
	END IF;

	INSERT INTO intents (id, cart_id, customer_id, cart_version, amount_minor, currency, gateway,
	                     idempotency_key, success_url, failure_url, status, created_at, expires_at,
	                     updated_at)
	VALUES (p_id, p_cart_id, v_cart.customer_id, v_cart.version, v_total::bigint, v_currency,
	        p_gateway, p_idempotency_key, p_success_url, p_failure_url, 0, p_now, p_expires_at,
	        p_now)
	RETURNING * INTO v_intent;
	INSERT INTO intent_items (intent_id, pos, sku, vendor_id, qty, unit_price_minor)
	SELECT p_id, row_number() OVER (ORDER BY ci.pos), ci.sku, p.vendor_id, ci.qty, p.price_minor
	  FROM cart_items ci JOIN products p ON p.id = ci.sku
	 WHERE ci.cart_id = p_cart_id;
	UPDATE products p SET reserved = p.reserved + ci.qty
	  FROM cart_items ci
	 WHERE ci.cart_id = p_cart_id AND p.id = ci.sku;
	RETURN kbp__res(0, NULL, kbp__intent_json(v_intent));
END
$$;

-- Stores the gateway's reference and redirect of a pending, unprepared intent.
CREATE FUNCTION kbp_intent_attach(p_id text, p_gateway_ref text, p_redirect text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v intents;
BEGIN
	SELECT * INTO v FROM intents WHERE id = p_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('intent ''%s'' does not exist', p_id), NULL);
	END IF;
	IF v.gateway_ref IS NOT NULL OR v.status <> 0 THEN
		RETURN kbp__res(-8, format('intent ''%s'' is already prepared', p_id), NULL);
	END IF;
	IF EXISTS (SELECT 1 FROM intents WHERE gateway = v.gateway AND gateway_ref = p_gateway_ref) THEN
		RETURN kbp__res(-4, 'gateway reference is already in use', NULL);
	END IF;
	UPDATE intents SET gateway_ref = p_gateway_ref, redirect = p_redirect, updated_at = p_now
	 WHERE id = p_id;
	RETURN kbp__res(0, NULL, NULL);
END
$$;

CREATE FUNCTION kbp_intent_get(p_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v intents;
BEGIN
	SELECT * INTO v FROM intents WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('intent ''%s'' does not exist', p_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, kbp__intent_json(v));
END
$$;

-- pending -> canceled, releasing the reservation.
CREATE FUNCTION kbp_intent_cancel(p_id text, p_reason text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v intents;
BEGIN
	SELECT * INTO v FROM intents WHERE id = p_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('intent ''%s'' does not exist', p_id), NULL);
	END IF;
	IF v.status <> 0 THEN
		RETURN kbp__res(-8, format('intent ''%s'' is %s, not pending', p_id,
		                           kbp__intent_status_name(v.status)), NULL);
	END IF;
	PERFORM kbp__intent_release(p_id);
	UPDATE intents SET status = 4, status_reason = p_reason, updated_at = p_now WHERE id = p_id;
	PERFORM kbp__notify('orders');
	RETURN kbp__res(0, NULL, NULL);
END
$$;

-- --------------------------------------------------------------- payments

-- Records one verification and applies it to the intent found by
-- (gateway, gateway_ref), mirroring mem_payment_apply:
--   a replay of an accepted (gateway, external_txn_id): that row, duplicate, nothing written;
--   p_reject_reason: rejected with p_reject_code;
--   no intent: ENOTFOUND; completed with another amount or currency: EAMOUNT;
--   completed: pending -> succeeded (+ finalize_order job); expired -> succeeded if every
--     line can be reserved again, else needs_refund and "paid_after_expiry"; failed,
--     canceled or succeeded: needs_refund and "paid_after_<status>" / "paid_after_success";
--   pending/ambiguous: EPENDING; failed/canceled/expired: EDECLINED (a pending intent
--     fails with "declined", its stock released); not_found: ENOTFOUND;
--   refunded: EDECLINED, rejected; anything else: EGATEWAY.
-- The audit row is written for every outcome but the duplicate.
CREATE FUNCTION kbp_payment_apply(p_verification_id text, p_gateway text, p_gateway_ref text,
                                  p_external_txn_id text, p_amount_minor bigint,
                                  p_currency text, p_status integer, p_reject_reason text,
                                  p_reject_code integer, p_raw bytea, p_job_id text,
                                  p_job_max_attempts integer, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_in intents;
	v_found boolean := false;
	v_first verifications;
	v_row verifications;
	v_data jsonb;
	v_code integer := 0;
	v_outcome smallint := 1;
	v_reason text;
	v_st smallint;
	v_job_id text;
	v_txn_checked boolean := p_external_txn_id IS NOT NULL AND p_reject_reason IS NULL;
BEGIN
	IF v_txn_checked THEN
		-- One gateway transaction at a time: a parallel replay waits, then is a duplicate.
		PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.payment_txn'),
		                              hashtext(p_gateway || E'\n' || p_external_txn_id));
		SELECT * INTO v_first FROM verifications
		 WHERE gateway = p_gateway AND external_txn_id = p_external_txn_id AND outcome = 0;
		IF FOUND THEN
			v_data := kbp__verification_json(v_first) || jsonb_build_object('duplicate', true);
			IF p_gateway_ref IS NOT NULL THEN
				SELECT * INTO v_in FROM intents
				 WHERE gateway = p_gateway AND gateway_ref = p_gateway_ref;
				IF FOUND THEN
					v_data := v_data || jsonb_build_object('intent_status', v_in.status,
					                                       'needs_refund', v_in.needs_refund);
				END IF;
			END IF;
			RETURN kbp__res(0, NULL, v_data);
		END IF;
	END IF;

	IF p_gateway_ref IS NOT NULL THEN
		SELECT * INTO v_in FROM intents
		 WHERE gateway = p_gateway AND gateway_ref = p_gateway_ref
		   FOR NO KEY UPDATE;
		v_found := FOUND;
	END IF;

	IF p_reject_reason IS NOT NULL THEN
		v_code := p_reject_code;
		v_reason := p_reject_reason;
	ELSIF NOT v_found THEN
		v_code := -3;
		v_reason := 'no intent matches this gateway reference';
	ELSE
		CASE
		WHEN p_status = 1 THEN  -- completed
			IF p_amount_minor <> v_in.amount_minor
			   OR (p_currency IS NOT NULL AND p_currency <> v_in.currency) THEN
				v_code := -10;
				v_reason := format('amount mismatch: gateway reports %s %s, intent is %s %s',
				                   p_amount_minor, coalesce(p_currency, v_in.currency),
				                   v_in.amount_minor, v_in.currency);
			ELSE
				v_outcome := 0;
				v_st := v_in.status;
				IF v_st = 3 AND NOT kbp__intent_try_reserve(v_in.id) THEN
					UPDATE intents
					   SET needs_refund = true, status_reason = 'paid_after_expiry',
					       updated_at = p_now
					 WHERE id = v_in.id
					RETURNING * INTO v_in;
					v_reason := 'paid_after_expiry';
					PERFORM kbp__notify('orders');
				ELSIF v_st IN (0, 3) THEN
					INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at,
					                  unique_key, created_at, updated_at)
					VALUES (p_job_id, 'finalize_order', jsonb_build_object('intent_id', v_in.id),
					        0, 0, p_job_max_attempts, p_now, v_in.id, p_now, p_now)
					ON CONFLICT (unique_key) WHERE state IN (0, 1) DO NOTHING
					RETURNING id INTO v_job_id;
					IF v_job_id IS NULL THEN
						-- A live job already finalizes this intent: it is the one to follow.
						SELECT id INTO v_job_id FROM jobs
						 WHERE unique_key = v_in.id AND state IN (0, 1);
					END IF;
					UPDATE intents
					   SET status = 1,
					       status_reason = CASE WHEN v_st = 3 THEN 'paid_after_expiry' END,
					       paid_at = p_now, finalize_job_id = v_job_id, updated_at = p_now
					 WHERE id = v_in.id
					RETURNING * INTO v_in;
					PERFORM kbp__notify('jobs');
					PERFORM kbp__notify('orders');
				ELSE
					-- failed, canceled, or already paid by another transaction.
					UPDATE intents SET needs_refund = true, updated_at = p_now
					 WHERE id = v_in.id
					RETURNING * INTO v_in;
					v_reason := 'paid_after_' || CASE WHEN v_st = 1 THEN 'success'
					                                  ELSE kbp__intent_status_name(v_st) END;
					PERFORM kbp__notify('orders');
				END IF;
			END IF;
		WHEN p_status IN (0, 8) THEN  -- pending, ambiguous
			v_code := -19;
			v_outcome := 2;
			v_reason := 'gateway reports the payment '
			            || CASE WHEN p_status = 0 THEN 'pending' ELSE 'ambiguous' END;
		WHEN p_status IN (2, 3, 4) THEN  -- failed, canceled, expired
			IF v_in.status = 0 THEN
				PERFORM kbp__intent_release(v_in.id);
				UPDATE intents SET status = 2, status_reason = 'declined', updated_at = p_now
				 WHERE id = v_in.id
				RETURNING * INTO v_in;
				PERFORM kbp__notify('orders');
			END IF;
			v_code := -20;
			v_outcome := 3;
			v_reason := 'gateway reports the payment '
			            || CASE p_status WHEN 2 THEN 'failed' WHEN 3 THEN 'canceled' ELSE 'expired' END;
		WHEN p_status = 5 THEN  -- not_found
			v_code := -3;
			v_reason := 'gateway has no record of this payment';
		WHEN p_status IN (6, 7) THEN  -- refunded, partially refunded
			v_code := -20;
			v_reason := 'gateway reports the payment refunded';
		ELSE
			v_code := -16;
			v_reason := 'gateway status is unknown';
		END CASE;
	END IF;

	INSERT INTO verifications (id, gateway, gateway_ref, external_txn_id, intent_id, amount_minor,
	                           currency, gateway_status, outcome, reason, intent_status,
	                           needs_refund, at, raw)
	VALUES (p_verification_id, p_gateway, p_gateway_ref, p_external_txn_id,
	        CASE WHEN v_found THEN v_in.id END, p_amount_minor, p_currency, p_status, v_outcome,
	        v_reason, CASE WHEN v_found THEN v_in.status ELSE 0 END,
	        CASE WHEN v_found THEN v_in.needs_refund ELSE false END, p_now, p_raw)
	RETURNING * INTO v_row;
	RETURN kbp__res(v_code, CASE WHEN v_code <> 0 THEN v_reason END,
	                kbp__verification_json(v_row));
END
$$;

-- The audit rows of one intent, oldest first; NULL lists the rows that matched no intent.
CREATE FUNCTION kbp_verifications_list(p_intent_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_list jsonb;
BEGIN
	IF p_intent_id IS NULL THEN
		SELECT jsonb_agg(kbp__verification_json(v) ORDER BY v.seq) INTO v_list
		  FROM verifications v WHERE v.intent_id IS NULL;
	ELSE
		SELECT jsonb_agg(kbp__verification_json(v) ORDER BY v.seq) INTO v_list
		  FROM verifications v WHERE v.intent_id = p_intent_id;
	END IF;
	RETURN kbp__res(0, NULL, coalesce(v_list, '[]'::jsonb));
END
$$;

-- ----------------------------------------------------------------- orders

-- DESIGN §4.3: the order of a succeeded intent, from its snapshot; the
-- reservation becomes a sale; the purchased quantities leave the cart.
CREATE FUNCTION kbp_order_finalize(p_intent_id text, p_order_id text, p_order_number text,
                                   p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_in intents;
	v_order orders;
	v_cart_version bigint;
	v_cart_found boolean;
BEGIN
	SELECT * INTO v_in FROM intents WHERE id = p_intent_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('intent ''%s'' does not exist', p_intent_id), NULL);
	END IF;
	SELECT * INTO v_order FROM orders WHERE intent_id = p_intent_id;
	IF FOUND THEN
		RETURN kbp__res(-18, format('intent ''%s'' already has order %s', p_intent_id,
		                            v_order.order_number), kbp__order_json(v_order));
	END IF;
	IF v_in.status <> 1 THEN
		RETURN kbp__res(-8, format('intent ''%s'' is %s, not succeeded', p_intent_id,
		                           kbp__intent_status_name(v_in.status)), NULL);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM intent_items WHERE intent_id = p_intent_id) THEN
		RETURN kbp__res(-7, format('intent ''%s'' has no items: no order is created',
		                           p_intent_id), NULL);
	END IF;
	IF EXISTS (SELECT 1 FROM orders WHERE order_number = p_order_number) THEN
		RETURN kbp__res(-4, format('order number %s is taken', p_order_number), NULL);
	END IF;

	SELECT version INTO v_cart_version FROM carts WHERE id = v_in.cart_id FOR NO KEY UPDATE;
	v_cart_found := FOUND;
	PERFORM 1 FROM products p
	 WHERE p.id IN (SELECT it.sku FROM intent_items it WHERE it.intent_id = p_intent_id)
	 ORDER BY p.id FOR NO KEY UPDATE;

	INSERT INTO orders (id, order_number, intent_id, customer_id, total_minor, currency, status,
	                    fulfillment_status, created_at, finalize_ms)
	VALUES (p_order_id, p_order_number, p_intent_id, v_in.customer_id, v_in.amount_minor,
	        v_in.currency, 'confirmed', 'pending', p_now, p_now - coalesce(v_in.paid_at, p_now))
	RETURNING * INTO v_order;
	INSERT INTO order_items (order_id, pos, sku, vendor_id, qty, unit_price_minor)
	SELECT p_order_id, it.pos, it.sku, it.vendor_id, it.qty, it.unit_price_minor
	  FROM intent_items it WHERE it.intent_id = p_intent_id;
	UPDATE products p SET on_hand = p.on_hand - it.qty, reserved = p.reserved - it.qty
	  FROM intent_items it
	 WHERE it.intent_id = p_intent_id AND p.id = it.sku;

	-- The cart keeps what the shopper added after paying; the purchased units leave it.
	IF v_cart_found THEN
		IF v_cart_version = v_in.cart_version THEN
			DELETE FROM cart_items WHERE cart_id = v_in.cart_id;
		ELSE
			DELETE FROM cart_items ci USING intent_items it
			 WHERE ci.cart_id = v_in.cart_id AND it.intent_id = p_intent_id
			   AND it.sku = ci.sku AND ci.qty <= it.qty;
			UPDATE cart_items ci SET qty = ci.qty - it.qty
			  FROM intent_items it
			 WHERE ci.cart_id = v_in.cart_id AND it.intent_id = p_intent_id AND it.sku = ci.sku;
		END IF;
		UPDATE carts SET version = version + 1, updated_at = p_now WHERE id = v_in.cart_id;
	END IF;
	PERFORM kbp__notify('orders');
	RETURN kbp__res(0, NULL, kbp__order_json(v_order));
END
$$;

-- By order number, or by intent when p_order_number is NULL.
CREATE FUNCTION kbp_order_get(p_order_number text, p_intent_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	o orders;
BEGIN
	IF p_order_number IS NOT NULL THEN
		SELECT * INTO o FROM orders WHERE order_number = p_order_number;
		IF NOT FOUND THEN
			RETURN kbp__res(-3, format('no order numbered ''%s''', p_order_number), NULL);
		END IF;
	ELSE
		SELECT * INTO o FROM orders WHERE intent_id = p_intent_id;
		IF NOT FOUND THEN
			RETURN kbp__res(-3, format('no order for intent ''%s''', p_intent_id), NULL);
		END IF;
	END IF;
	RETURN kbp__res(0, NULL, kbp__order_json(o));
END
$$;

CREATE FUNCTION kbp_order_facts(p_intent_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_in intents;
	v_order orders;
	v_job jobs;
	v_has_job boolean := false;
BEGIN
	SELECT * INTO v_in FROM intents WHERE id = p_intent_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('intent ''%s'' does not exist', p_intent_id), NULL);
	END IF;
	SELECT * INTO v_order FROM orders WHERE intent_id = p_intent_id;
	IF v_in.finalize_job_id IS NOT NULL THEN
		SELECT * INTO v_job FROM jobs WHERE id = v_in.finalize_job_id;
		v_has_job := FOUND;
	END IF;
	RETURN kbp__res(0, NULL, jsonb_build_object(
		'intent_status', v_in.status,
		'intent_reason', v_in.status_reason,
		'needs_refund', v_in.needs_refund,
		'order_id', v_order.id,
		'order_number', v_order.order_number,
		'job_state', CASE WHEN v_has_job THEN v_job.state ELSE -1 END,
		'job_error', CASE WHEN v_has_job THEN v_job.last_error END));
END
$$;

-- ------------------------------------------------------------------- jobs

-- A live (available or running) job holding the unique key: EEXISTS and its id.
CREATE FUNCTION kbp_job_enqueue(p_id text, p_kind text, p_payload text, p_unique_key text,
                                p_priority integer, p_run_at bigint, p_max_attempts integer,
                                p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_id text;
	v_holder text;
BEGIN
	-- The holder may finish between the conflict and the look-up: then try again.
	FOR attempt IN 1..16 LOOP
		INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at, unique_key,
		                  created_at, updated_at)
		VALUES (p_id, p_kind, coalesce(p_payload, '{}')::jsonb, 0, p_priority, p_max_attempts,
		        p_run_at, p_unique_key, p_now, p_now)
		ON CONFLICT (unique_key) WHERE state IN (0, 1) DO NOTHING
		RETURNING id INTO v_id;
		IF v_id IS NOT NULL THEN
			PERFORM kbp__notify('jobs');
			RETURN kbp__res(0, NULL, jsonb_build_object('id', v_id));
		END IF;
		SELECT id INTO v_holder FROM jobs WHERE unique_key = p_unique_key AND state IN (0, 1);
		IF FOUND THEN
			RETURN kbp__res(-18, format('job %s already holds unique key ''%s''', v_holder,
			                            p_unique_key), jsonb_build_object('id', v_holder));
		END IF;
	END LOOP;
	RAISE EXCEPTION 'unique key % keeps changing hands', p_unique_key
		USING ERRCODE = 'serialization_failure';
END
$$;

-- Due available jobs -> running under p_worker's lease, in priority, run_at,
-- enqueue order; jobs another transaction is taking are skipped.
CREATE FUNCTION kbp_jobs_acquire(p_worker text, p_max integer, p_lease_ms bigint, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_list jsonb;
BEGIN
	IF p_max <= 0 THEN
		RETURN kbp__res(0, NULL, '[]'::jsonb);
	END IF;
	WITH picked AS (
		SELECT id FROM jobs
		 WHERE state = 0 AND run_at <= p_now
		 ORDER BY priority, run_at, seq
		 LIMIT p_max
		   FOR UPDATE SKIP LOCKED
	), taken AS (
		UPDATE jobs j
		   SET state = 1, attempts = j.attempts + 1, lease_until = p_now + p_lease_ms,
		       locked_by = p_worker, updated_at = p_now
		  FROM picked
		 WHERE j.id = picked.id
		RETURNING j
	)
	SELECT jsonb_agg(kbp__job_json(t.j) ORDER BY (t.j).priority, (t.j).run_at, (t.j).seq)
	  INTO v_list FROM taken t;
	RETURN kbp__res(0, NULL, coalesce(v_list, '[]'::jsonb));
END
$$;

-- Diagnoses why p_id is not running under p_worker.
CREATE FUNCTION kbp__job_not_held(p_id text, p_worker text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM jobs WHERE id = p_id) THEN
		RETURN kbp__res(-3, format('job ''%s'' does not exist', p_id), NULL);
	END IF;
	RETURN kbp__res(-8, format('job ''%s'' is no longer held by %s', p_id, p_worker), NULL);
END
$$;

CREATE FUNCTION kbp_job_complete(p_id text, p_worker text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	UPDATE jobs SET state = 2, finished_at = p_now, updated_at = p_now, lease_until = 0
	 WHERE id = p_id AND state = 1 AND locked_by = p_worker;
	IF NOT FOUND THEN
		RETURN kbp__job_not_held(p_id, p_worker);
	END IF;
	RETURN kbp__res(0, NULL, NULL);
END
$$;

-- The attempt failed: its error joins the history; the job goes back to
-- available at p_retry_at, or is dead (failed) when p_retry_at < 0 or its
-- attempts are exhausted.
CREATE FUNCTION kbp_job_fail(p_id text, p_worker text, p_error text, p_retry_at bigint,
                             p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_state smallint;
BEGIN
	UPDATE jobs
	   SET errors = errors || jsonb_build_array(jsonb_build_object(
	                   'attempt', attempts, 'at', p_now, 'message', p_error)),
	       last_error = p_error,
	       state = CASE WHEN p_retry_at < 0 OR attempts >= max_attempts THEN 3 ELSE 0 END,
	       run_at = CASE WHEN p_retry_at < 0 OR attempts >= max_attempts THEN run_at
	                     ELSE p_retry_at END,
	       finished_at = CASE WHEN p_retry_at < 0 OR attempts >= max_attempts THEN p_now
	                          ELSE finished_at END,
	       lease_until = 0,
	       updated_at = p_now
	 WHERE id = p_id AND state = 1 AND locked_by = p_worker
	RETURNING state INTO v_state;
	IF NOT FOUND THEN
		RETURN kbp__job_not_held(p_id, p_worker);
	END IF;
	PERFORM kbp__notify(CASE WHEN v_state = 0 THEN 'jobs' ELSE 'orders' END);
	RETURN kbp__res(0, NULL, NULL);
END
$$;

CREATE FUNCTION kbp_job_get(p_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	j jobs;
BEGIN
	SELECT * INTO j FROM jobs WHERE id = p_id;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('job ''%s'' does not exist', p_id), NULL);
	END IF;
	RETURN kbp__res(0, NULL, kbp__job_json(j));
END
$$;

-- Newest first (created_at, then enqueue order), filtered; p_after is the
-- next_after of the previous page.
CREATE FUNCTION kbp_jobs_list(p_state integer, p_kind text, p_since bigint, p_limit integer,
                              p_after text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_limit integer := CASE WHEN p_limit IS NULL OR p_limit <= 0 THEN 100 ELSE p_limit END;
	v_cursor_created bigint := 9223372036854775807;
	v_cursor_seq bigint := 9223372036854775807;
	v_jobs jsonb;
	v_next text;
BEGIN
	IF p_after IS NOT NULL THEN
		SELECT created_at, seq INTO v_cursor_created, v_cursor_seq FROM jobs WHERE id = p_after;
		IF NOT FOUND THEN
			RETURN kbp__res(-1, format('paging cursor ''%s'' is not a job', p_after), NULL);
		END IF;
	END IF;
	SELECT jsonb_agg(kbp__job_json(x.j) ORDER BY x.n) FILTER (WHERE x.n <= v_limit),
	       max((x.j).id) FILTER (WHERE x.n = v_limit AND x.more)
	  INTO v_jobs, v_next
	  FROM (SELECT p.j, row_number() OVER () AS n, count(*) OVER () > v_limit AS more
	          FROM (SELECT j FROM jobs j
	                 WHERE (p_state IS NULL OR p_state < 0 OR j.state = p_state)
	                   AND (p_kind IS NULL OR j.kind = p_kind)
	                   AND j.created_at >= coalesce(p_since, 0)
	                   AND (j.created_at, j.seq) < (v_cursor_created, v_cursor_seq)
	                 ORDER BY j.created_at DESC, j.seq DESC
	                 LIMIT v_limit + 1) p) x;
	RETURN kbp__res(0, NULL, jsonb_build_object('jobs', coalesce(v_jobs, '[]'::jsonb),
	                                            'next_after', v_next));
END
$$;

-- failed or cancelled -> available now, with at least one attempt left.
CREATE FUNCTION kbp_job_retry(p_id text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v jobs;
	v_holder text;
BEGIN
	SELECT * INTO v FROM jobs WHERE id = p_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('job ''%s'' does not exist', p_id), NULL);
	END IF;
	IF v.state NOT IN (3, 4) THEN
		RETURN kbp__res(-8, format('job ''%s'' is %s; only failed or cancelled jobs are retried',
		                           p_id, kbp__job_state_name(v.state)), NULL);
	END IF;
	IF v.unique_key IS NOT NULL THEN
		SELECT id INTO v_holder FROM jobs WHERE unique_key = v.unique_key AND state IN (0, 1);
		IF FOUND THEN
			RETURN kbp__res(-4, format('job %s already holds unique key ''%s''', v_holder,
			                           v.unique_key), NULL);
		END IF;
	END IF;
	UPDATE jobs
	   SET state = 0, run_at = p_now, finished_at = 0, updated_at = p_now,
	       max_attempts = CASE WHEN max_attempts <= attempts THEN attempts + 1
	                           ELSE max_attempts END
	 WHERE id = p_id;
	PERFORM kbp__notify('jobs');
	PERFORM kbp__notify('orders');
	RETURN kbp__res(0, NULL, NULL);
END
$$;

-- available or failed -> cancelled.
CREATE FUNCTION kbp_job_cancel(p_id text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v jobs;
BEGIN
	SELECT * INTO v FROM jobs WHERE id = p_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res(-3, format('job ''%s'' does not exist', p_id), NULL);
	END IF;
	IF v.state NOT IN (0, 3) THEN
		RETURN kbp__res(-8, format('job ''%s'' is %s; only available or failed jobs are cancelled',
		                           p_id, kbp__job_state_name(v.state)), NULL);
	END IF;
	UPDATE jobs SET state = 4, finished_at = p_now, updated_at = p_now, lease_until = 0
	 WHERE id = p_id;
	PERFORM kbp__notify('orders');
	RETURN kbp__res(0, NULL, NULL);
END
$$;

-- Running jobs whose lease passed go back to available at p_now (the attempt
-- counts, its error is recorded), or to failed when attempts are exhausted.
-- Jobs being completed right now are locked and skipped.
CREATE FUNCTION kbp__jobs_rescue(p_now bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_total bigint;
	v_available bigint;
BEGIN
	WITH lapsed AS (
		SELECT id FROM jobs
		 WHERE state = 1 AND lease_until < p_now
		 ORDER BY id
		   FOR NO KEY UPDATE SKIP LOCKED
	), settled AS (
		UPDATE jobs j
		   SET errors = j.errors || jsonb_build_array(jsonb_build_object(
		                   'attempt', j.attempts, 'at', p_now,
		                   'message', 'lease expired while held by ' || coalesce(j.locked_by, 'unknown'))),
		       last_error = 'lease expired while held by ' || coalesce(j.locked_by, 'unknown'),
		       state = CASE WHEN j.attempts >= j.max_attempts THEN 3 ELSE 0 END,
		       run_at = CASE WHEN j.attempts >= j.max_attempts THEN j.run_at ELSE p_now END,
		       finished_at = CASE WHEN j.attempts >= j.max_attempts THEN p_now ELSE j.finished_at END,
		       lease_until = 0,
		       updated_at = p_now
		  FROM lapsed
		 WHERE j.id = lapsed.id
		RETURNING j.state
	)
	SELECT count(*), count(*) FILTER (WHERE state = 0) INTO v_total, v_available FROM settled;
	IF v_total > 0 THEN
		INSERT INTO job_rescues (at, count) VALUES (p_now, v_total);
		IF v_available > 0 THEN
			PERFORM kbp__notify('jobs');
		END IF;
		IF v_available < v_total THEN
			PERFORM kbp__notify('orders');
		END IF;
	END IF;
	RETURN v_total;
END
$$;

CREATE FUNCTION kbp_jobs_rescue(p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN kbp__res(0, NULL, jsonb_build_object('count', kbp__jobs_rescue(p_now)));
END
$$;

-- ------------------------------------------------------ maintenance, metrics

-- One elected pass: expire pending intents (releasing their stock), rescue
-- lapsed leases, prune completed/cancelled jobs finished before p_prune_before.
CREATE FUNCTION kbp_maintenance(p_now bigint, p_prune_before bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_ids text[];
	v_expired bigint := 0;
	v_rescued bigint;
	v_pruned bigint;
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtext(current_schema() || '.maintenance')) THEN
		RETURN kbp__res(0, NULL, jsonb_build_object('ran', false, 'intents_expired', 0,
		                                            'jobs_rescued', 0, 'jobs_pruned', 0));
	END IF;

	-- Intents another transaction holds are skipped: that one decides them,
	-- and the next pass sees what is left.
	SELECT array_agg(id) INTO v_ids
	  FROM (SELECT id FROM intents
	         WHERE status = 0 AND expires_at <= p_now
	         ORDER BY id
	           FOR NO KEY UPDATE SKIP LOCKED) d;
	IF v_ids IS NOT NULL THEN
		PERFORM 1 FROM products p
		 WHERE p.id IN (SELECT it.sku FROM intent_items it WHERE it.intent_id = ANY (v_ids))
		 ORDER BY p.id FOR NO KEY UPDATE;
		UPDATE products p SET reserved = p.reserved - s.qty
		  FROM (SELECT it.sku, sum(it.qty) AS qty FROM intent_items it
		         WHERE it.intent_id = ANY (v_ids) GROUP BY it.sku) s
		 WHERE p.id = s.sku;
		UPDATE intents SET status = 3, status_reason = 'expired', updated_at = p_now
		 WHERE id = ANY (v_ids);
		v_expired := cardinality(v_ids);
		PERFORM kbp__notify('orders');
	END IF;

	v_rescued := kbp__jobs_rescue(p_now);

	DELETE FROM jobs WHERE state IN (2, 4) AND finished_at < p_prune_before;
	GET DIAGNOSTICS v_pruned = ROW_COUNT;
	DELETE FROM job_rescues WHERE at < p_now - 3600000;

	RETURN kbp__res(0, NULL, jsonb_build_object('ran', true, 'intents_expired', v_expired,
	                                            'jobs_rescued', v_rescued,
	                                            'jobs_pruned', v_pruned));
END
$$;

-- The kbp_metrics fields. Percentiles use the memory backend's nearest-rank
-- rule over the 1024 most recent orders.
CREATE FUNCTION kbp_metrics(p_now bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_jobs bigint[] := ARRAY[0, 0, 0, 0, 0];
	v_intents bigint[] := ARRAY[0, 0, 0, 0, 0];
	v_row record;
	v_stuck bigint;
	v_failed_hour bigint;
	v_oldest bigint;
	v_rescued bigint;
	v_needs_refund bigint;
	v_orders bigint;
	v_without_items bigint;
	v_paid_without_order bigint;
	v_rejected bigint;
	v_latency bigint[];
	v_n integer;
BEGIN
	FOR v_row IN SELECT state, count(*) AS n FROM jobs GROUP BY state LOOP
		v_jobs[v_row.state + 1] := v_row.n;
	END LOOP;
	SELECT count(*) INTO v_stuck FROM jobs WHERE state = 1 AND lease_until < p_now;
	SELECT count(*) INTO v_failed_hour FROM jobs
	 WHERE state = 3 AND finished_at >= p_now - 3600000;
	SELECT coalesce(max(p_now - run_at), 0) INTO v_oldest FROM jobs
	 WHERE state = 0 AND run_at <= p_now;
	SELECT coalesce(sum(count), 0) INTO v_rescued FROM job_rescues WHERE at >= p_now - 3600000;

	FOR v_row IN SELECT status, count(*) AS n FROM intents GROUP BY status LOOP
		v_intents[v_row.status + 1] := v_row.n;
	END LOOP;
	SELECT count(*) INTO v_needs_refund FROM intents WHERE needs_refund;
	SELECT count(*) INTO v_orders FROM orders;
	SELECT count(*) INTO v_without_items FROM orders o
	 WHERE NOT EXISTS (SELECT 1 FROM order_items it WHERE it.order_id = o.id);
	SELECT count(*) INTO v_paid_without_order FROM intents i
	 WHERE i.status = 1 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.intent_id = i.id);
	SELECT count(*) INTO v_rejected FROM verifications WHERE outcome = 1;

	SELECT array_agg(r.finalize_ms ORDER BY r.finalize_ms) INTO v_latency
	  FROM (SELECT finalize_ms FROM orders ORDER BY seq DESC LIMIT 1024) r;
	v_n := coalesce(cardinality(v_latency), 0);

	RETURN kbp__res(0, NULL, jsonb_build_object(
		'jobs', to_jsonb(v_jobs),
		'jobs_stuck', v_stuck,
		'jobs_failed_last_hour', v_failed_hour,
		'oldest_available_age_ms', greatest(v_oldest, 0),
		'jobs_rescued_last_hour', v_rescued,
		'intents', to_jsonb(v_intents),
		'orders', v_orders,
		'orders_without_items', v_without_items,
		'paid_intents_without_order', v_paid_without_order,
		'needs_refund', v_needs_refund,
		'verifications_rejected', v_rejected,
		'finalize_p50_ms', CASE WHEN v_n = 0 THEN 0 ELSE v_latency[greatest((v_n * 50 + 99) / 100, 1)] END,
		'finalize_p95_ms', CASE WHEN v_n = 0 THEN 0 ELSE v_latency[greatest((v_n * 95 + 99) / 100, 1)] END,
		'finalize_p99_ms', CASE WHEN v_n = 0 THEN 0 ELSE v_latency[greatest((v_n * 99 + 99) / 100, 1)] END));
END
$$;
