-- The job state is spelled "canceled", like the intent status and the gateway
-- status it sits beside: one word for one meaning across the library, its JSON,
-- kbpipe, the metrics and the bindings. The memory backend's kbp_job_state_name
-- says the same, so error messages naming a job's state stay identical on both.
-- Job states are stored as numbers, so no row changes.

CREATE OR REPLACE FUNCTION kbp__job_state_name(p_state smallint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_state WHEN 0 THEN 'available' WHEN 1 THEN 'running' WHEN 2 THEN 'completed'
	                    WHEN 3 THEN 'failed' WHEN 4 THEN 'canceled' ELSE 'unknown' END
$$;
