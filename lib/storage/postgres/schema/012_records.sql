-- Records (storage version 3): the pipeline's rules moved into the library
-- (lib/core/rules.c). This schema now only stores: kbp_facts reads and locks
-- what one step needs, kbp_changes_apply writes what the library decided, in
-- one transaction the library opens. The functions that held the rules go.

DROP FUNCTION kbp_cart_set_item(text, text, text, bigint, bigint);
DROP FUNCTION kbp_intent_create(text, text, text, text, text, text, bigint, bigint);
DROP FUNCTION kbp_intent_attach(text, text, text, bigint);
DROP FUNCTION kbp_intent_get(text);
DROP FUNCTION kbp_intent_cancel(text, text, bigint);
DROP FUNCTION kbp_payment_apply(text, text, text, text, bigint, text, integer, text, integer,
                                bytea, text, integer, bigint);
DROP FUNCTION kbp__payment_judge;
DROP FUNCTION kbp__payment_refuse_amount;
DROP FUNCTION kbp__payment_accept;
DROP FUNCTION kbp_order_finalize(text, text, text, bigint);
DROP FUNCTION kbp_order_facts(text);
DROP FUNCTION kbp_reconcile_schedule(bigint, bigint, integer, text[]);

-- The intent as the library stores it: the public fields and its own.
CREATE FUNCTION kbp__intent_record_json(i intents)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT kbp__intent_json(i) || jsonb_build_object(
		'success_url', i.success_url,
		'failure_url', i.failure_url,
		'paid_at', coalesce(i.paid_at, 0),
		'finalize_job_id', i.finalize_job_id,
		'reconcile_marked', i.reconcile_scheduled)
$$;

CREATE FUNCTION kbp__cart_json(c carts)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id, 'customer_id', c.customer_id, 'version', c.version,
		'items', coalesce((SELECT jsonb_agg(jsonb_build_object('sku', ci.sku, 'qty', ci.qty)
		                                    ORDER BY ci.pos)
		                   FROM cart_items ci WHERE ci.cart_id = c.id), '[]'::jsonb))
$$;

CREATE FUNCTION kbp__product_json(p products)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object(
		'id', p.id, 'vendor_id', p.vendor_id, 'name', p.name, 'price_minor', p.price_minor,
		'currency', p.currency, 'on_hand', p.on_hand, 'reserved', p.reserved,
		'available', p.on_hand - p.reserved, 'active', p.active)
$$;

-- The intents of a maintenance scan, locked; those another transaction holds are skipped.
CREATE FUNCTION kbp__facts_scan(p_scan integer, p_before bigint, p_max integer)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT coalesce(jsonb_agg(kbp__intent_record_json(i)), '[]'::jsonb)
	  FROM (SELECT * FROM intents
	         WHERE (p_scan = {{KBP_SCAN_EXPIRING}} AND status = {{KBP_INTENT_PENDING}}
	                AND expires_at <= p_before)
	            OR (p_scan = {{KBP_SCAN_UNSETTLED}} AND NOT reconcile_scheduled
	                AND gateway_ref IS NOT NULL AND NOT needs_refund
	                AND ((status = {{KBP_INTENT_PENDING}} AND created_at < p_before)
	                     OR status = {{KBP_INTENT_EXPIRED}}))
	         ORDER BY id
	         LIMIT p_max
	           FOR NO KEY UPDATE SKIP LOCKED) i
$$;

-- What one step reads (kbp_facts_query in sys/storage.h), locked when p_lock.
CREATE FUNCTION kbp_facts(p_intent_id text, p_key text, p_gateway text, p_ref text,
                          p_cart_id text, p_sku text, p_accepted_txn text, p_want integer,
                          p_scan integer, p_scan_before bigint, p_scan_max integer,
                          p_lock boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_in intents;
	v_cart carts;
	v_cart_id text := p_cart_id;
	v_skus text[];
	v_res jsonb := '{}'::jsonb;
BEGIN
	IF p_intent_id IS NOT NULL OR p_key IS NOT NULL OR p_ref IS NOT NULL THEN
		IF p_lock THEN
			SELECT * INTO v_in FROM intents
			 WHERE CASE WHEN p_intent_id IS NOT NULL THEN id = p_intent_id
			            WHEN p_key IS NOT NULL THEN idempotency_key = p_key
			            ELSE gateway = p_gateway AND gateway_ref = p_ref END
			   FOR NO KEY UPDATE;
		ELSE
			SELECT * INTO v_in FROM intents
			 WHERE CASE WHEN p_intent_id IS NOT NULL THEN id = p_intent_id
			            WHEN p_key IS NOT NULL THEN idempotency_key = p_key
			            ELSE gateway = p_gateway AND gateway_ref = p_ref END;
		END IF;
		IF v_in.id IS NOT NULL THEN
			v_res := v_res || jsonb_build_object('intent', kbp__intent_record_json(v_in));
		END IF;
	END IF;
	IF v_cart_id IS NULL AND (p_want & {{KBP_FACTS_INTENT_CART}}) <> 0 THEN
		v_cart_id := v_in.cart_id;
	END IF;
	IF v_cart_id IS NOT NULL THEN
		IF p_lock THEN
			SELECT * INTO v_cart FROM carts WHERE id = v_cart_id FOR NO KEY UPDATE;
		ELSE
			SELECT * INTO v_cart FROM carts WHERE id = v_cart_id;
		END IF;
		IF v_cart.id IS NOT NULL THEN
			v_res := v_res || jsonb_build_object('cart', kbp__cart_json(v_cart));
		END IF;
	END IF;
	v_skus := CASE WHEN p_sku IS NULL THEN '{}'::text[] ELSE ARRAY[p_sku] END;
	IF (p_want & {{KBP_FACTS_PRODUCTS}}) <> 0 THEN
		v_skus := v_skus
		       || ARRAY(SELECT sku FROM cart_items WHERE cart_id = v_cart.id)
		       || ARRAY(SELECT sku FROM intent_items WHERE intent_id = v_in.id);
	END IF;
	IF cardinality(v_skus) > 0 THEN
		-- In id order, so that two steps never wait for each other's products.
		v_res := v_res || jsonb_build_object('products', (
			SELECT coalesce(jsonb_agg(kbp__product_json(p)), '[]'::jsonb)
			  FROM (SELECT * FROM products WHERE id = ANY (v_skus) ORDER BY id
			           FOR NO KEY UPDATE) p));
	END IF;
	IF (p_want & {{KBP_FACTS_ORDER}}) <> 0 AND v_in.id IS NOT NULL THEN
		v_res := v_res || coalesce((SELECT jsonb_build_object('order', kbp__order_json(o))
		                              FROM orders o WHERE o.intent_id = v_in.id), '{}'::jsonb);
	END IF;
	IF (p_want & {{KBP_FACTS_JOB}}) <> 0 AND v_in.finalize_job_id IS NOT NULL THEN
		v_res := v_res || coalesce((SELECT jsonb_build_object('job', kbp__job_json(j))
		                              FROM jobs j WHERE j.id = v_in.finalize_job_id), '{}'::jsonb);
	END IF;
	IF p_accepted_txn IS NOT NULL THEN
		v_res := v_res || coalesce((SELECT jsonb_build_object('accepted', kbp__verification_json(v))
		                              FROM verifications v
		                             WHERE v.gateway = p_gateway AND v.external_txn_id = p_accepted_txn
		                               AND v.outcome = {{KBP_VERIFICATION_ACCEPTED}}), '{}'::jsonb);
	END IF;
	IF p_scan <> {{KBP_SCAN_NONE}} AND p_scan_max > 0 THEN
		v_res := v_res || jsonb_build_object('scanned', kbp__facts_scan(p_scan, p_scan_before,
		                                                                 p_scan_max));
	END IF;
	RETURN v_res;
END
$$;

CREATE FUNCTION kbp__apply_intents(p_intents jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	x jsonb;
BEGIN
	FOR x IN SELECT * FROM jsonb_array_elements(p_intents) LOOP
		IF (x->>'new')::boolean THEN
			INSERT INTO intents (id, cart_id, customer_id, cart_version, amount_minor, currency,
			                     gateway, gateway_ref, redirect, idempotency_key, success_url,
			                     failure_url, status, status_reason, needs_refund, paid_at,
			                     finalize_job_id, reconcile_scheduled, created_at, expires_at,
			                     updated_at)
			VALUES (x->>'id', x->>'cart_id', x->>'customer_id', (x->>'cart_version')::bigint,
			        (x->>'amount_minor')::bigint, x->>'currency', x->>'gateway',
			        x->>'gateway_ref', x->>'redirect', x->>'idempotency_key', x->>'success_url',
			        x->>'failure_url', (x->>'status')::smallint, x->>'status_reason',
			        (x->>'needs_refund')::boolean, nullif((x->>'paid_at')::bigint, 0),
			        x->>'finalize_job_id', (x->>'reconcile_marked')::boolean,
			        (x->>'created_at')::bigint, (x->>'expires_at')::bigint,
			        (x->>'updated_at')::bigint);
			INSERT INTO intent_items (intent_id, pos, sku, vendor_id, qty, unit_price_minor)
			SELECT x->>'id', e.ord, e.v->>'sku', e.v->>'vendor_id', (e.v->>'qty')::bigint,
			       (e.v->>'unit_price_minor')::bigint
			  FROM jsonb_array_elements(x->'items') WITH ORDINALITY AS e(v, ord);
		ELSE
			UPDATE intents
			   SET gateway_ref = x->>'gateway_ref', redirect = x->>'redirect',
			       status = (x->>'status')::smallint, status_reason = x->>'status_reason',
			       needs_refund = (x->>'needs_refund')::boolean,
			       paid_at = nullif((x->>'paid_at')::bigint, 0),
			       finalize_job_id = x->>'finalize_job_id',
			       reconcile_scheduled = (x->>'reconcile_marked')::boolean,
			       updated_at = (x->>'updated_at')::bigint
			 WHERE id = x->>'id';
		END IF;
	END LOOP;
END
$$;

CREATE FUNCTION kbp__apply_stock(p_stock jsonb)
RETURNS void LANGUAGE sql AS $$
	WITH d AS (SELECT sku, sum(on_hand) AS on_hand, sum(reserved) AS reserved
	             FROM jsonb_to_recordset(p_stock) AS t(sku text, on_hand bigint, reserved bigint)
	            GROUP BY sku),
	     locked AS (SELECT id FROM products WHERE id IN (SELECT sku FROM d) ORDER BY id
	                   FOR NO KEY UPDATE)
	UPDATE products p SET on_hand = p.on_hand + d.on_hand, reserved = p.reserved + d.reserved
	  FROM d WHERE p.id = d.sku AND p.id IN (SELECT id FROM locked)
$$;

-- A cart's new lines. Every change moves its version on by one, so a version
-- that did not move by one here is a cart another transaction wrote first.
CREATE FUNCTION kbp__apply_cart(p_cart jsonb, p_now bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_id text := p_cart->>'id';
	v_version bigint := (p_cart->>'version')::bigint;
BEGIN
	INSERT INTO carts AS c (id, customer_id, version, created_at, updated_at)
	VALUES (v_id, p_cart->>'customer_id', v_version, p_now, p_now)
	ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
	 WHERE c.version = EXCLUDED.version - 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'unique_violation',
		      MESSAGE = format('cart %s changed concurrently', v_id);
	END IF;
	DELETE FROM cart_items WHERE cart_id = v_id;
	INSERT INTO cart_items (cart_id, sku, qty)
	SELECT v_id, e.v->>'sku', (e.v->>'qty')::bigint
	  FROM jsonb_array_elements(p_cart->'items') WITH ORDINALITY AS e(v, ord)
	 ORDER BY e.ord;
END
$$;

CREATE FUNCTION kbp__apply_order(o jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO orders (id, order_number, intent_id, customer_id, total_minor, currency, status,
	                    fulfillment_status, created_at, finalize_ms)
	SELECT o->>'id', o->>'order_number', o->>'intent_id', o->>'customer_id',
	       (o->>'total_minor')::bigint, o->>'currency', o->>'status', o->>'fulfillment_status',
	       (o->>'created_at')::bigint, (o->>'created_at')::bigint - coalesce(i.paid_at, 0)
	  FROM intents i WHERE i.id = o->>'intent_id';
	INSERT INTO order_items (order_id, pos, sku, vendor_id, qty, unit_price_minor)
	SELECT o->>'id', e.ord, e.v->>'sku', e.v->>'vendor_id', (e.v->>'qty')::bigint,
	       (e.v->>'unit_price_minor')::bigint
	  FROM jsonb_array_elements(o->'items') WITH ORDINALITY AS e(v, ord);
END
$$;

CREATE FUNCTION kbp__apply_verification(v jsonb, p_raw bytea)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO verifications (id, gateway, gateway_ref, external_txn_id, intent_id, amount_minor,
	                           outcome, reason, intent_status, needs_refund, at, raw, raw_sha256)
	VALUES (v->>'id', v->>'gateway', v->>'gateway_ref', v->>'external_txn_id', v->>'intent_id',
	        (v->>'amount_minor')::bigint, (v->>'outcome')::smallint, v->>'reason',
	        (v->>'intent_status')::smallint, (v->>'needs_refund')::boolean, (v->>'at')::bigint,
	        p_raw, v->>'raw_sha256')
$$;

CREATE FUNCTION kbp__apply_jobs(p_jobs jsonb, p_now bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at, unique_key,
	                  created_at, updated_at)
	SELECT e.v->>'id', e.v->>'kind', (e.v->>'payload')::jsonb, {{KBP_JOB_AVAILABLE}},
	       (e.v->>'priority')::smallint, (e.v->>'max_attempts')::integer,
	       (e.v->>'run_at')::bigint, e.v->>'unique_key', p_now, p_now
	  FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS e(v, ord)
	 ORDER BY e.ord
	ON CONFLICT (unique_key) WHERE state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}}) DO NOTHING;
	IF FOUND THEN
		PERFORM kbp__notify('jobs');
	END IF;
END
$$;

-- What one step writes (kbp_changes in sys/storage.h). A unique record that
-- exists already fails with unique_violation, which the library reads as a
-- conflict and answers by running the step again.
CREATE FUNCTION kbp_changes_apply(p jsonb, p_raw bytea)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_now bigint := (p->>'now')::bigint;
BEGIN
	IF p ? 'intents' THEN
		PERFORM kbp__apply_intents(p->'intents');
	END IF;
	IF p ? 'stock' THEN
		PERFORM kbp__apply_stock(p->'stock');
	END IF;
	IF p ? 'cart' THEN
		PERFORM kbp__apply_cart(p->'cart', v_now);
	END IF;
	IF p ? 'order' THEN
		PERFORM kbp__apply_order(p->'order');
	END IF;
	IF p ? 'verification' THEN
		PERFORM kbp__apply_verification(p->'verification', p_raw);
	END IF;
	IF p ? 'jobs' THEN
		PERFORM kbp__apply_jobs(p->'jobs', v_now);
	END IF;
END
$$;

-- Maintenance leaves intents to the library, which expires them after an elected pass.
CREATE OR REPLACE FUNCTION kbp__maintenance_pass(p_now bigint, p_prune_before bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_rescued bigint;
	v_pruned bigint;
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtext(current_schema() || '.maintenance')) THEN
		RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('ran', false, 'intents_expired', 0,
		                                                     'jobs_rescued', 0, 'jobs_pruned', 0));
	END IF;
	v_rescued := kbp__jobs_rescue(p_now);
	DELETE FROM jobs WHERE state IN ({{KBP_JOB_COMPLETED}}, {{KBP_JOB_CANCELED}})
	                   AND finished_at < p_prune_before;
	GET DIAGNOSTICS v_pruned = ROW_COUNT;
	DELETE FROM job_rescues WHERE at < p_now - 3600000;
	RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('ran', true, 'intents_expired', 0,
	                                                     'jobs_rescued', v_rescued,
	                                                     'jobs_pruned', v_pruned));
END
$$;
