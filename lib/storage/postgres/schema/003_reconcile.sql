-- Reconciliation of payments whose callback never came: maintenance marks
-- each pending intent older than a threshold, and each expired one, and
-- enqueues one reconcile_payment job for it, in one statement.

ALTER TABLE intents ADD COLUMN reconcile_scheduled boolean NOT NULL DEFAULT false;

-- The candidates, without scanning settled intents.
CREATE INDEX intents_to_reconcile ON intents (created_at)
	WHERE NOT reconcile_scheduled AND status IN (0, 3) AND gateway_ref IS NOT NULL;

CREATE FUNCTION kbp_reconcile_schedule(p_now bigint, p_created_before bigint,
                                       p_max_attempts integer, p_job_ids text[])
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_count bigint;
BEGIN
	WITH locked AS (
		SELECT id, created_at
		  FROM intents
		 WHERE NOT reconcile_scheduled AND gateway_ref IS NOT NULL AND NOT needs_refund
		   AND ((status = 0 AND created_at < p_created_before) OR status = 3)
		 ORDER BY created_at, id
		 LIMIT coalesce(array_length(p_job_ids, 1), 0)
		   FOR NO KEY UPDATE SKIP LOCKED
	), candidates AS (
		SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM locked
	), marked AS (
		UPDATE intents i SET reconcile_scheduled = true
		  FROM candidates c
		 WHERE i.id = c.id
		RETURNING i.id, c.n
	), queued AS (
		INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at, unique_key,
		                  created_at, updated_at)
		SELECT p_job_ids[m.n], 'reconcile_payment', jsonb_build_object('intent_id', m.id), 0, 0,
		       p_max_attempts, p_now, 'reconcile:' || m.id, p_now, p_now
		  FROM marked m
		ON CONFLICT (unique_key) WHERE state IN (0, 1) DO NOTHING
		RETURNING 1
	)
	SELECT (SELECT count(*) FROM marked) INTO v_count FROM (SELECT count(*) FROM queued) q;
	IF v_count > 0 THEN
		PERFORM kbp__notify('jobs');
	END IF;
	RETURN kbp__res(0, NULL, jsonb_build_object('count', v_count));
END
$$;
