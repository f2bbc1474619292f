-- Lease renewal (DESIGN §7): a worker whose jobs run longer than their lease
-- extends the leases it still holds, so maintenance does not rescue a job
-- that is alive. A job already rescued from this worker is not taken back.

CREATE FUNCTION kbp_jobs_extend(p_ids text[], p_worker text, p_until bigint, p_now bigint)
RETURNS jsonb LANGUAGE sql AS $$
	WITH kept AS (
		UPDATE jobs
		   SET lease_until = p_until, updated_at = p_now
		 WHERE id = ANY (p_ids) AND state = 1 AND locked_by = p_worker
		RETURNING 1
	)
	SELECT kbp__res(0, NULL, jsonb_build_object('count', (SELECT count(*) FROM kept)))
$$;
