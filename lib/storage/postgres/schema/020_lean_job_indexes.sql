-- A job's completion writes one index entry fewer. Every state change of a
-- job is a new row version, and it enters each index whose predicate it
-- meets: completing a job wrote the primary key, jobs_listing and
-- jobs_finished. jobs_finished served two readers. Pruning now walks
-- jobs_listing instead: a job finished before the cut-off was created before
-- it, so the created_at range bounds the scan, and finished_at decides. The
-- count of jobs failed in the last hour keeps an index of failed jobs only,
-- which completions never enter.

DROP INDEX jobs_finished;
CREATE INDEX jobs_failed ON jobs (finished_at) WHERE state = {{KBP_JOB_FAILED}};

CREATE OR REPLACE FUNCTION kbp__maintenance_pass(p_now bigint, p_prune_before bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_pruned bigint;
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtext(current_schema() || '.maintenance')) THEN
		RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('ran', false, 'intents_expired', 0,
		                                                     'jobs_rescued', 0, 'jobs_pruned', 0));
	END IF;
	DELETE FROM jobs WHERE created_at < p_prune_before
	                   AND state IN ({{KBP_JOB_COMPLETED}}, {{KBP_JOB_CANCELED}})
	                   AND finished_at < p_prune_before;
	GET DIAGNOSTICS v_pruned = ROW_COUNT;
	DELETE FROM job_rescues WHERE at < p_now - 3600000;
	RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('ran', true, 'intents_expired', 0,
	                                                     'jobs_rescued', 0,
	                                                     'jobs_pruned', v_pruned));
END
$$;

-- Only jobs with a unique key enter jobs_live_unique. A job without one also
-- wrote a (NULL) entry there when it was enqueued and again when a worker
-- took it, though a NULL never conflicts. ON CONFLICT names the new
-- predicate so that it still infers this index.
DROP INDEX jobs_live_unique;
CREATE UNIQUE INDEX jobs_live_unique ON jobs (unique_key)
	WHERE state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}}) AND unique_key IS NOT NULL;

CREATE OR REPLACE FUNCTION kbp_job_enqueue(p_id text, p_kind text, p_payload text,
                                           p_unique_key text, p_priority integer,
                                           p_run_at bigint, p_max_attempts integer, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v_id text;
	v_holder text;
BEGIN
	-- The holder may finish between the conflict and the look-up: then try again.
	FOR attempt IN 1..16 LOOP
		INSERT INTO jobs (id, kind, payload, state, priority, max_attempts, run_at, unique_key,
		                  created_at, updated_at)
		VALUES (p_id, p_kind, coalesce(p_payload, '{}')::jsonb, {{KBP_JOB_AVAILABLE}}, p_priority,
		        p_max_attempts, p_run_at, p_unique_key, p_now, p_now)
		ON CONFLICT (unique_key)
		   WHERE state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}}) AND unique_key IS NOT NULL
		   DO NOTHING
		RETURNING id INTO v_id;
		IF v_id IS NOT NULL THEN
			PERFORM kbp__notify('jobs');
			RETURN kbp__res({{KBP_OK}}, NULL, jsonb_build_object('id', v_id));
		END IF;
		SELECT id INTO v_holder FROM jobs
		 WHERE unique_key = p_unique_key AND state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}});
		IF FOUND THEN
			RETURN kbp__res({{KBP_EEXISTS}}, format('job %s already holds unique key ''%s''',
			                                        v_holder, p_unique_key),
			                jsonb_build_object('id', v_holder));
		END IF;
	END LOOP;
	RAISE EXCEPTION 'unique key % keeps changing hands', p_unique_key
		USING ERRCODE = 'serialization_failure';
END
$$;
