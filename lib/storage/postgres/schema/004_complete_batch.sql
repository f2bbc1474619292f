-- Completing a worker's batch in one round trip: the fastest PostgreSQL
-- queues got their largest gain from batched completion.

CREATE FUNCTION kbp_jobs_complete(p_ids text[], p_worker text, p_now bigint)
RETURNS jsonb LANGUAGE sql AS $$
	WITH done AS (
		UPDATE jobs
		   SET state = 2, finished_at = p_now, updated_at = p_now, lease_until = 0
		 WHERE id = ANY (p_ids) AND state = 1 AND locked_by = p_worker
		RETURNING 1
	)
	SELECT kbp__res(0, NULL, jsonb_build_object('count', (SELECT count(*) FROM done)))
$$;
