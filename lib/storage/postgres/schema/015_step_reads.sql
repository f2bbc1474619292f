-- Products are locked when they are written, not when they are read.
-- A step read its products FOR NO KEY UPDATE, so a popular product's row
-- stayed locked from the step's first round trip to its commit: a round trip,
-- the library's decision and the commit's flush, with every other shopper of
-- that product waiting behind it. Now the read takes no lock on products, and
-- the stock write checks what it changes: a move that would leave fewer than
-- none available (another step took the units since the read) fails as a
-- serialization failure, which the library answers by running the step again
-- on what is there now (DESIGN §5). The row is then locked only from the
-- write to the commit, both in the step's last round trip.

-- And every statement of the read settles on a plan the server keeps. A
-- statement in PL/pgSQL is planned for its parameters ("custom") until a plan
-- for any parameters ("generic") costs about as much; two statements of
-- kbp_facts never got there and were planned on every call, which
-- pg_stat_statements (track_planning) showed costing more than running them:
-- the intent looked up by id, idempotency key or gateway reference in one
-- WHERE CASE, which no index serves without the parameters, and the products
-- read by id = ANY (array), whose generic plan the planner costs for an array
-- of unknown length. Each lookup is now a statement of its own on one index,
-- and the products are read one by one, so every statement settles on its
-- generic plan.

-- The intent of a step, by id, else idempotency key, else gateway reference.
CREATE FUNCTION kbp__facts_intent(p_intent_id text, p_key text, p_gateway text, p_ref text,
                                  p_lock boolean)
RETURNS intents LANGUAGE plpgsql AS $$
DECLARE
	v_in intents;
BEGIN
	IF p_intent_id IS NOT NULL AND p_lock THEN
		SELECT * INTO v_in FROM intents WHERE id = p_intent_id FOR NO KEY UPDATE;
	ELSIF p_intent_id IS NOT NULL THEN
		SELECT * INTO v_in FROM intents WHERE id = p_intent_id;
	ELSIF p_key IS NOT NULL AND p_lock THEN
		SELECT * INTO v_in FROM intents WHERE idempotency_key = p_key FOR NO KEY UPDATE;
	ELSIF p_key IS NOT NULL THEN
		SELECT * INTO v_in FROM intents WHERE idempotency_key = p_key;
	ELSIF p_lock THEN
		SELECT * INTO v_in FROM intents WHERE gateway = p_gateway AND gateway_ref = p_ref
		   FOR NO KEY UPDATE;
	ELSE
		SELECT * INTO v_in FROM intents WHERE gateway = p_gateway AND gateway_ref = p_ref;
	END IF;
	RETURN v_in;
END
$$;

-- The products of these skus, in id order, each once.
CREATE FUNCTION kbp__facts_products(p_skus text[])
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_sku text;
	v_p products;
	v_res jsonb := '[]'::jsonb;
BEGIN
	FOREACH v_sku IN ARRAY ARRAY(SELECT DISTINCT s FROM unnest(p_skus) AS s ORDER BY s) LOOP
		SELECT * INTO v_p FROM products WHERE id = v_sku;
		IF FOUND THEN
			v_res := v_res || jsonb_build_array(kbp__product_json(v_p));
		END IF;
	END LOOP;
	RETURN v_res;
END
$$;

-- What one step reads (kbp_facts_query in sys/storage.h), locked when p_lock.
CREATE OR REPLACE FUNCTION kbp_facts(p_intent_id text, p_key text, p_gateway text, p_ref text,
                          p_cart_id text, p_sku text, p_accepted_txn text, p_want integer,
                          p_scan integer, p_scan_before bigint, p_scan_max integer,
                          p_lock boolean, p_job_id text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_in intents;
	v_cart carts;
	v_cart_id text := p_cart_id;
	v_skus text[];
	v_res jsonb := '{}'::jsonb;
BEGIN
	IF p_intent_id IS NOT NULL OR p_key IS NOT NULL OR p_ref IS NOT NULL THEN
		v_in := kbp__facts_intent(p_intent_id, p_key, p_gateway, p_ref, p_lock);
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
		-- Read, not locked: kbp__apply_stock checks the stock again as it writes.
		v_res := v_res || jsonb_build_object('products', kbp__facts_products(v_skus));
	END IF;
	IF (p_want & {{KBP_FACTS_ORDER}}) <> 0 AND v_in.id IS NOT NULL THEN
		v_res := v_res || coalesce((SELECT jsonb_build_object('order', kbp__order_json(o))
		                              FROM orders o WHERE o.intent_id = v_in.id), '{}'::jsonb);
	END IF;
	IF (p_want & {{KBP_FACTS_JOB}}) <> 0 AND coalesce(p_job_id, v_in.finalize_job_id) IS NOT NULL THEN
		v_res := v_res || kbp__facts_job(coalesce(p_job_id, v_in.finalize_job_id), p_want, p_lock);
	END IF;
	IF p_accepted_txn IS NOT NULL THEN
		v_res := v_res || coalesce((SELECT jsonb_build_object('accepted', kbp__verification_json(v))
		                              FROM verifications v
		                             WHERE v.gateway = p_gateway AND v.external_txn_id = p_accepted_txn
		                               AND v.outcome = {{KBP_VERIFICATION_ACCEPTED}}), '{}'::jsonb);
	END IF;
	IF p_scan = {{KBP_SCAN_LAPSED_LEASES}} AND p_scan_max > 0 THEN
		v_res := v_res || jsonb_build_object('jobs', kbp__facts_lapsed(p_scan_before, p_scan_max));
	ELSIF p_scan <> {{KBP_SCAN_NONE}} AND p_scan_max > 0 THEN
		v_res := v_res || jsonb_build_object('scanned', kbp__facts_scan(p_scan, p_scan_before,
		                                                                 p_scan_max));
	END IF;
	RETURN v_res;
END
$$;

-- The step's stock moves, in sku order so that two steps never wait for each
-- other, each only where the product still has the units it takes.
CREATE OR REPLACE FUNCTION kbp__apply_stock(p_stock jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	d record;
BEGIN
	FOR d IN SELECT sku, sum(on_hand) AS on_hand, sum(reserved) AS reserved
	           FROM jsonb_to_recordset(p_stock) AS t(sku text, on_hand bigint, reserved bigint)
	          GROUP BY sku
	          ORDER BY sku LOOP
		UPDATE products SET on_hand = on_hand + d.on_hand, reserved = reserved + d.reserved
		 WHERE id = d.sku AND on_hand + d.on_hand >= reserved + d.reserved;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'the stock of % changed since it was read', d.sku
			      USING ERRCODE = 'serialization_failure';
		END IF;
	END LOOP;
END
$$;
