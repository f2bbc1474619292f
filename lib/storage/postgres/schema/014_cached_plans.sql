-- Plans kept for the session. A function in LANGUAGE sql that the planner
-- cannot inline is parsed and planned again in every transaction that calls
-- it; PL/pgSQL keeps its plans for the connection's life. The helpers that
-- every step of an order calls (the JSON of what a step reads, the writes of
-- stock and audit, the batch completion of jobs and the notifications) are
-- the same statements in PL/pgSQL, with the same results.

CREATE OR REPLACE FUNCTION kbp__res(p_code integer, p_message text, p_data jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN jsonb_build_object('code', p_code, 'message', p_message, 'data', p_data);
END
$$;

CREATE OR REPLACE FUNCTION kbp__intent_json(i intents)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN jsonb_build_object(
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
		'updated_at', i.updated_at);
END
$$;

CREATE OR REPLACE FUNCTION kbp__intent_record_json(i intents)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN kbp__intent_json(i) || jsonb_build_object(
		'success_url', i.success_url,
		'failure_url', i.failure_url,
		'paid_at', coalesce(i.paid_at, 0),
		'finalize_job_id', i.finalize_job_id,
		'reconcile_marked', i.reconcile_scheduled);
END
$$;

CREATE OR REPLACE FUNCTION kbp__order_json(o orders)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN jsonb_build_object(
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
		                   FROM order_items it WHERE it.order_id = o.id), '[]'::jsonb));
END
$$;

CREATE OR REPLACE FUNCTION kbp__job_json(j jobs)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN jsonb_build_object(
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
		'finished_at', j.finished_at);
END
$$;

CREATE OR REPLACE FUNCTION kbp__verification_json(v verifications)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN jsonb_build_object(
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
		'at', v.at);
END
$$;

CREATE OR REPLACE FUNCTION kbp__cart_json(c carts)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN jsonb_build_object(
		'id', c.id, 'customer_id', c.customer_id, 'version', c.version,
		'items', coalesce((SELECT jsonb_agg(jsonb_build_object('sku', ci.sku, 'qty', ci.qty)
		                                    ORDER BY ci.pos)
		                   FROM cart_items ci WHERE ci.cart_id = c.id), '[]'::jsonb));
END
$$;

CREATE OR REPLACE FUNCTION kbp__product_json(p products)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN jsonb_build_object(
		'id', p.id, 'vendor_id', p.vendor_id, 'name', p.name, 'price_minor', p.price_minor,
		'currency', p.currency, 'on_hand', p.on_hand, 'reserved', p.reserved,
		'available', p.on_hand - p.reserved, 'active', p.active);
END
$$;

CREATE OR REPLACE FUNCTION kbp__notify(p_topic text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF p_topic <> 'orders' THEN
		PERFORM pg_notify(current_schema() || '.' || p_topic, '');
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION kbp__notify_order(p_intent_id text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify(current_schema() || '.orders', p_intent_id);
END
$$;

-- The products are locked already (kbp_facts); still in id order, so that two
-- steps never wait for each other's products.
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
		 WHERE id = d.sku;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION kbp__apply_verification(v jsonb, p_raw bytea)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO verifications (id, gateway, gateway_ref, external_txn_id, intent_id, amount_minor,
	                           outcome, reason, intent_status, needs_refund, at, raw, raw_sha256)
	VALUES (v->>'id', v->>'gateway', v->>'gateway_ref', v->>'external_txn_id', v->>'intent_id',
	        (v->>'amount_minor')::bigint, (v->>'outcome')::smallint, v->>'reason',
	        (v->>'intent_status')::smallint, (v->>'needs_refund')::boolean, (v->>'at')::bigint,
	        p_raw, v->>'raw_sha256');
END
$$;

CREATE OR REPLACE FUNCTION kbp_jobs_complete(p_ids text[], p_worker text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_done bigint;
BEGIN
	UPDATE jobs
	   SET state = {{KBP_JOB_COMPLETED}}, finished_at = p_now, updated_at = p_now, lease_until = 0
	 WHERE id = ANY (p_ids) AND state = {{KBP_JOB_RUNNING}} AND locked_by = p_worker;
	GET DIAGNOSTICS v_done = ROW_COUNT;
	RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('count', v_done));
END
$$;
