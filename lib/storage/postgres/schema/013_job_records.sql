-- Job records: the job queue's rules (which states an operator may retry or
-- cancel, when a failed attempt is the last, what a lapsed lease does) moved
-- into the library (lib/core/rules_jobs.c). kbp_facts also reads a job by id
-- with the live job holding its unique key, and lists lapsed leases;
-- kbp_changes_apply writes job states. Acquiring, completing and renewing
-- leases stay here: they decide nothing but "still held by this worker".

DROP FUNCTION kbp_job_fail(text, text, text, bigint, bigint);
DROP FUNCTION kbp_job_retry(text, bigint);
DROP FUNCTION kbp_job_cancel(text, bigint);
DROP FUNCTION kbp_jobs_rescue(bigint);
DROP FUNCTION kbp_facts(text, text, text, text, text, text, text, integer, integer, bigint,
                        integer, boolean);

-- Maintenance leaves leases to the library too, which rescues them after an elected pass.
CREATE OR REPLACE FUNCTION kbp__maintenance_pass(p_now bigint, p_prune_before bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_pruned bigint;
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtext(current_schema() || '.maintenance')) THEN
		RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('ran', false, 'intents_expired', 0,
		                                                     'jobs_rescued', 0, 'jobs_pruned', 0));
	END IF;
	DELETE FROM jobs WHERE state IN ({{KBP_JOB_COMPLETED}}, {{KBP_JOB_CANCELED}})
	                   AND finished_at < p_prune_before;
	GET DIAGNOSTICS v_pruned = ROW_COUNT;
	DELETE FROM job_rescues WHERE at < p_now - 3600000;
	RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('ran', true, 'intents_expired', 0,
	                                                     'jobs_rescued', 0,
	                                                     'jobs_pruned', v_pruned));
END
$$;

DROP FUNCTION kbp__jobs_rescue(bigint);

-- The job p_job_id, else the intent's finalize_order job, locked; with the
-- live job holding its unique key when asked.
CREATE FUNCTION kbp__facts_job(p_job_id text, p_want integer, p_lock boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_job jobs;
	v_res jsonb := '{}'::jsonb;
BEGIN
	IF p_lock THEN
		SELECT * INTO v_job FROM jobs WHERE id = p_job_id FOR NO KEY UPDATE;
	ELSE
		SELECT * INTO v_job FROM jobs WHERE id = p_job_id;
	END IF;
	IF v_job.id IS NULL THEN
		RETURN v_res;
	END IF;
	v_res := jsonb_build_object('job', kbp__job_json(v_job));
	IF (p_want & {{KBP_FACTS_JOB_HOLDER}}) <> 0 AND v_job.unique_key IS NOT NULL THEN
		v_res := v_res || coalesce((SELECT jsonb_build_object('holder', kbp__job_json(h))
		                              FROM jobs h
		                             WHERE h.unique_key = v_job.unique_key AND h.id <> v_job.id
		                               AND h.state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}})),
		                           '{}'::jsonb);
	END IF;
	RETURN v_res;
END
$$;

-- Running jobs whose lease passed; those being completed right now are locked and skipped.
CREATE FUNCTION kbp__facts_lapsed(p_before bigint, p_max integer)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT coalesce(jsonb_agg(kbp__job_json(j)), '[]'::jsonb)
	  FROM (SELECT * FROM jobs
	         WHERE state = {{KBP_JOB_RUNNING}} AND lease_until < p_before
	         ORDER BY id
	         LIMIT p_max
	           FOR NO KEY UPDATE SKIP LOCKED) j
$$;

-- What one step reads (kbp_facts_query in sys/storage.h), locked when p_lock.
CREATE FUNCTION kbp_facts(p_intent_id text, p_key text, p_gateway text, p_ref text,
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

-- A job's new state (kbp_job_write in sys/storage.h). A job made available
-- while another live job holds its unique key fails with unique_violation.
CREATE FUNCTION kbp__apply_job_writes(p_writes jsonb, p_now bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_rescued bigint;
BEGIN
	UPDATE jobs j
	   SET state = (w.v->>'state')::smallint,
	       run_at = (w.v->>'run_at')::bigint,
	       max_attempts = (w.v->>'max_attempts')::integer,
	       lease_until = 0,
	       finished_at = CASE WHEN (w.v->>'state')::smallint IN ({{KBP_JOB_FAILED}}, {{KBP_JOB_CANCELED}})
	                          THEN p_now ELSE 0 END,
	       updated_at = p_now,
	       last_error = coalesce(w.v->>'error', j.last_error),
	       errors = CASE WHEN w.v ? 'error'
	                     THEN j.errors || jsonb_build_array(jsonb_build_object(
	                              'attempt', j.attempts, 'at', p_now, 'message', w.v->>'error'))
	                     ELSE j.errors END
	  FROM jsonb_array_elements(p_writes) AS w(v)
	 WHERE j.id = w.v->>'id';
	SELECT count(*) INTO v_rescued FROM jsonb_array_elements(p_writes) AS w(v)
	 WHERE (w.v->>'rescued')::boolean;
	IF v_rescued > 0 THEN
		INSERT INTO job_rescues (at, count) VALUES (p_now, v_rescued);
	END IF;
	IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_writes) AS w(v)
	            WHERE (w.v->>'state')::smallint = {{KBP_JOB_AVAILABLE}}) THEN
		PERFORM kbp__notify('jobs');
	END IF;
END
$$;

-- What one step writes (kbp_changes in sys/storage.h). A unique record that
-- exists already fails with unique_violation, which the library reads as a
-- conflict and answers by running the step again.
CREATE OR REPLACE FUNCTION kbp_changes_apply(p jsonb, p_raw bytea)
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
	IF p ? 'job_writes' THEN
		PERFORM kbp__apply_job_writes(p->'job_writes', v_now);
	END IF;
END
$$;
