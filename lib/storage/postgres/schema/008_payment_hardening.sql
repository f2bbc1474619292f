-- Payment judgement and audit, hardened against hostile callbacks.
--
-- 1. A duplicate is a replay of an accepted (gateway, external_txn_id) for the
--    same intent only. The transaction id of a payment accepted for intent X,
--    carried by a callback about intent Y, is rejected (ECONFLICT) and audited;
--    Y does not move. A completed answer without the gateway's transaction id
--    is rejected (EGATEWAY): nothing could tell its replays apart.
-- 2. A completed payment for another amount or currency than the intent's is
--    money to give back: needs_refund is set, and a pending intent fails with
--    "amount_mismatch" and releases its stock; any other state is kept.
-- 3. The audit of callbacks is bounded. A row refused before the gateway was
--    asked (p_reject_reason) names an unauthenticated gateway_ref: it is kept
--    as text, but the row is filed under no intent. Every row keeps the
--    SHA-256 (hex) of the callback it was given; only accepted rows keep the
--    whole callback, the others its first 256 bytes. Maintenance deletes the
--    rejected rows that no intent owns once they are older than the job
--    retention.

ALTER TABLE verifications ADD COLUMN raw_sha256 text;

-- Rows written before this migration are bounded the same way.
UPDATE verifications
   SET raw_sha256 = encode(sha256(raw), 'hex'),
       raw = CASE WHEN outcome = 0 THEN raw ELSE substring(raw FROM 1 FOR 256) END
 WHERE raw IS NOT NULL;

CREATE INDEX verifications_orphan_rejections ON verifications (at)
	WHERE outcome = 1 AND intent_id IS NULL;

-- The rules of mem_payment_apply (payments.c), message for message.
CREATE OR REPLACE FUNCTION kbp_payment_apply(p_verification_id text, p_gateway text,
                                             p_gateway_ref text, p_external_txn_id text,
                                             p_amount_minor bigint, p_currency text,
                                             p_status integer, p_reject_reason text,
                                             p_reject_code integer, p_raw bytea, p_job_id text,
                                             p_job_max_attempts integer, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_in intents;
	v_found boolean := false;
	v_first verifications;
	v_taken boolean := false;
	v_row verifications;
	v_judged record;
	v_code integer := 0;
	v_outcome smallint := 1;
	v_reason text;
BEGIN
	IF p_external_txn_id IS NOT NULL AND p_reject_reason IS NULL THEN
		-- One gateway transaction at a time: a parallel replay waits, then is a duplicate.
		PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.payment_txn'),
		                              hashtext(p_gateway || E'\n' || p_external_txn_id));
		SELECT * INTO v_first FROM verifications
		 WHERE gateway = p_gateway AND external_txn_id = p_external_txn_id AND outcome = 0;
		v_taken := FOUND;
	END IF;

	-- An unauthenticated reference must not file its audit row under someone's intent.
	IF p_gateway_ref IS NOT NULL AND p_reject_reason IS NULL THEN
		SELECT * INTO v_in FROM intents
		 WHERE gateway = p_gateway AND gateway_ref = p_gateway_ref
		   FOR NO KEY UPDATE;
		v_found := FOUND;
	END IF;

	IF v_taken AND v_found AND v_first.intent_id = v_in.id THEN
		RETURN kbp__res(0, NULL, kbp__verification_json(v_first)
		                || jsonb_build_object('duplicate', true, 'intent_status', v_in.status,
		                                      'needs_refund', v_in.needs_refund));
	END IF;

	IF p_reject_reason IS NOT NULL THEN
		v_code := p_reject_code;
		v_reason := p_reject_reason;
	ELSIF v_taken THEN
		v_code := -4;
		v_reason := 'gateway transaction is already accepted for another intent';
	ELSIF NOT v_found THEN
		v_code := -3;
		v_reason := 'no intent matches this gateway reference';
	ELSE
		SELECT * INTO v_judged
		  FROM kbp__payment_judge(v_in, p_external_txn_id, p_amount_minor, p_currency,
		                          p_status, p_job_id, p_job_max_attempts, p_now);
		v_code := v_judged.o_code;
		v_outcome := v_judged.o_outcome;
		v_reason := v_judged.o_reason;
		v_in := v_judged.o_intent;
	END IF;

	INSERT INTO verifications (id, gateway, gateway_ref, external_txn_id, intent_id, amount_minor,
	                           currency, gateway_status, outcome, reason, intent_status,
	                           needs_refund, at, raw, raw_sha256)
	VALUES (p_verification_id, p_gateway, p_gateway_ref, p_external_txn_id,
	        CASE WHEN v_found THEN v_in.id END, p_amount_minor, p_currency, p_status, v_outcome,
	        v_reason, CASE WHEN v_found THEN v_in.status ELSE 0 END,
	        CASE WHEN v_found THEN v_in.needs_refund ELSE false END, p_now,
	        CASE WHEN v_outcome = 0 THEN p_raw ELSE substring(p_raw FROM 1 FOR 256) END,
	        encode(sha256(p_raw), 'hex'))
	RETURNING * INTO v_row;
	RETURN kbp__res(v_code, CASE WHEN v_code <> 0 THEN v_reason END,
	                kbp__verification_json(v_row));
END
$$;

-- The gateway's answer about an intent found by its reference, locked by the
-- caller: the code, the audit outcome and reason, and the intent as it is now.
CREATE FUNCTION kbp__payment_judge(p_in intents, p_external_txn_id text, p_amount_minor bigint,
                                   p_currency text, p_status integer, p_job_id text,
                                   p_job_max_attempts integer, p_now bigint,
                                   OUT o_code integer, OUT o_outcome smallint,
                                   OUT o_reason text, OUT o_intent intents)
LANGUAGE plpgsql AS $$
DECLARE
	v_accepted record;
BEGIN
	o_code := 0;
	o_outcome := 1;
	o_intent := p_in;
	CASE
	WHEN p_status = 1 THEN  -- completed
		IF p_external_txn_id IS NULL THEN
			o_code := -16;
			o_reason := 'gateway reports the payment completed without a transaction id';
		ELSIF p_amount_minor <> p_in.amount_minor
		      OR (p_currency IS NOT NULL AND p_currency <> p_in.currency) THEN
			o_code := -10;
			o_reason := format('amount mismatch: gateway reports %s %s, intent is %s %s',
			                   p_amount_minor, coalesce(p_currency, p_in.currency),
			                   p_in.amount_minor, p_in.currency);
			o_intent := kbp__payment_refuse_amount(p_in, p_now);
		ELSE
			o_outcome := 0;
			SELECT * INTO v_accepted
			  FROM kbp__payment_accept(p_in, p_job_id, p_job_max_attempts, p_now);
			o_reason := v_accepted.o_reason;
			o_intent := v_accepted.o_intent;
		END IF;
	WHEN p_status IN (0, 8) THEN  -- pending, ambiguous
		o_code := -19;
		o_outcome := 2;
		o_reason := 'gateway reports the payment '
		            || CASE WHEN p_status = 0 THEN 'pending' ELSE 'ambiguous' END;
	WHEN p_status IN (2, 3, 4) THEN  -- failed, canceled, expired
		IF p_in.status = 0 THEN
			PERFORM kbp__intent_release(p_in.id);
			UPDATE intents SET status = 2, status_reason = 'declined', updated_at = p_now
			 WHERE id = p_in.id
			RETURNING * INTO o_intent;
			PERFORM kbp__notify('orders');
		END IF;
		o_code := -20;
		o_outcome := 3;
		o_reason := 'gateway reports the payment '
		            || CASE p_status WHEN 2 THEN 'failed' WHEN 3 THEN 'canceled' ELSE 'expired' END;
	WHEN p_status = 5 THEN  -- not_found
		o_code := -3;
		o_reason := 'gateway has no record of this payment';
	WHEN p_status IN (6, 7) THEN  -- refunded, partially refunded
		o_code := -20;
		o_reason := 'gateway reports the payment refunded';
	ELSE
		o_code := -16;
		o_reason := 'gateway status is unknown';
	END CASE;
END
$$;

-- Money taken for another amount: refunded, and a pending intent will not be
-- fulfilled by it.
CREATE FUNCTION kbp__payment_refuse_amount(p_in intents, p_now bigint)
RETURNS intents LANGUAGE plpgsql AS $$
DECLARE
	v intents;
BEGIN
	IF p_in.status = 0 THEN
		PERFORM kbp__intent_release(p_in.id);
		UPDATE intents
		   SET status = 2, status_reason = 'amount_mismatch', needs_refund = true,
		       updated_at = p_now
		 WHERE id = p_in.id
		RETURNING * INTO v;
	ELSE
		UPDATE intents SET needs_refund = true, updated_at = p_now
		 WHERE id = p_in.id
		RETURNING * INTO v;
	END IF;
	PERFORM kbp__notify('orders');
	RETURN v;
END
$$;

-- A genuine, completed payment for the right amount: DESIGN §3's intent rules.
CREATE FUNCTION kbp__payment_accept(p_in intents, p_job_id text, p_job_max_attempts integer,
                                    p_now bigint, OUT o_reason text, OUT o_intent intents)
LANGUAGE plpgsql AS $$
DECLARE
	v_st smallint := p_in.status;
	v_job_id text;
BEGIN
	o_intent := p_in;
	IF v_st = 3 AND NOT kbp__intent_try_reserve(p_in.id) THEN
		UPDATE intents
		   SET needs_refund = true, status_reason = 'paid_after_expiry', updated_at = p_now
		 WHERE id = p_in.id
		RETURNING * INTO o_intent;
		o_reason := 'paid_after_expiry';
		PERFORM kbp__notify('orders');
	ELSIF v_st IN (0, 3) THEN
		INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at, unique_key,
		                  created_at, updated_at)
		VALUES (p_job_id, 'finalize_order', jsonb_build_object('intent_id', p_in.id), 0, 0,
		        p_job_max_attempts, p_now, p_in.id, p_now, p_now)
		ON CONFLICT (unique_key) WHERE state IN (0, 1) DO NOTHING
		RETURNING id INTO v_job_id;
		IF v_job_id IS NULL THEN
			-- A live job already finalizes this intent: it is the one to follow.
			SELECT id INTO v_job_id FROM jobs WHERE unique_key = p_in.id AND state IN (0, 1);
		END IF;
		UPDATE intents
		   SET status = 1, status_reason = CASE WHEN v_st = 3 THEN 'paid_after_expiry' END,
		       paid_at = p_now, finalize_job_id = v_job_id, updated_at = p_now
		 WHERE id = p_in.id
		RETURNING * INTO o_intent;
		PERFORM kbp__notify('jobs');
		PERFORM kbp__notify('orders');
	ELSE
		-- failed, canceled, or already paid by another transaction.
		UPDATE intents SET needs_refund = true, updated_at = p_now
		 WHERE id = p_in.id
		RETURNING * INTO o_intent;
		o_reason := 'paid_after_' || CASE WHEN v_st = 1 THEN 'success'
		                                  ELSE kbp__intent_status_name(v_st) END;
		PERFORM kbp__notify('orders');
	END IF;
END
$$;

-- 002's pass, then the rejected audit rows no intent owns, past the job retention.
ALTER FUNCTION kbp_maintenance(bigint, bigint) RENAME TO kbp__maintenance_pass;

CREATE FUNCTION kbp_maintenance(p_now bigint, p_prune_before bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_res jsonb := kbp__maintenance_pass(p_now, p_prune_before);
BEGIN
	IF (v_res -> 'data' ->> 'ran')::boolean THEN
		DELETE FROM verifications WHERE outcome = 1 AND intent_id IS NULL AND at < p_prune_before;
	END IF;
	RETURN v_res;
END
$$;
