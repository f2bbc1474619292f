-- The job state is spelled "canceled" (010): so are the messages that refuse a
-- retry or a cancel, word for word as the memory backend says them. Codes and
-- states are the C headers' (a double-braced KBP_ name is filled in at build: embed_sql.py).

-- failed or canceled -> available now, with at least one attempt left.
CREATE OR REPLACE FUNCTION kbp_job_retry(p_id text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v jobs;
	v_holder text;
BEGIN
	SELECT * INTO v FROM jobs WHERE id = p_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res({{KBP_ENOTFOUND}}, format('job ''%s'' does not exist', p_id), NULL);
	END IF;
	IF v.state NOT IN ({{KBP_JOB_FAILED}}, {{KBP_JOB_CANCELED}}) THEN
		RETURN kbp__res({{KBP_ESTATE}},
		                format('job ''%s'' is %s; only failed or canceled jobs are retried',
		                       p_id, kbp__job_state_name(v.state)), NULL);
	END IF;
	IF v.unique_key IS NOT NULL THEN
		SELECT id INTO v_holder FROM jobs
		 WHERE unique_key = v.unique_key AND state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}});
		IF FOUND THEN
			RETURN kbp__res({{KBP_ECONFLICT}}, format('job %s already holds unique key ''%s''',
			                                          v_holder, v.unique_key), NULL);
		END IF;
	END IF;
	UPDATE jobs
	   SET state = {{KBP_JOB_AVAILABLE}}, run_at = p_now, finished_at = 0, updated_at = p_now,
	       max_attempts = CASE WHEN max_attempts <= attempts THEN attempts + 1
	                           ELSE max_attempts END
	 WHERE id = p_id;
	PERFORM kbp__notify('jobs');
	PERFORM kbp__notify('orders');
	RETURN kbp__res({{KBP_OK}}, NULL, NULL);
END
$$;

-- available or failed -> canceled.
CREATE OR REPLACE FUNCTION kbp_job_cancel(p_id text, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v jobs;
BEGIN
	SELECT * INTO v FROM jobs WHERE id = p_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN kbp__res({{KBP_ENOTFOUND}}, format('job ''%s'' does not exist', p_id), NULL);
	END IF;
	IF v.state NOT IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_FAILED}}) THEN
		RETURN kbp__res({{KBP_ESTATE}},
		                format('job ''%s'' is %s; only available or failed jobs are canceled',
		                       p_id, kbp__job_state_name(v.state)), NULL);
	END IF;
	UPDATE jobs SET state = {{KBP_JOB_CANCELED}}, finished_at = p_now, updated_at = p_now,
	                lease_until = 0
	 WHERE id = p_id;
	PERFORM kbp__notify('orders');
	RETURN kbp__res({{KBP_OK}}, NULL, NULL);
END
$$;
