-- A job's state changes write fewer index entries, as PostgreSQL's migration
-- 020 made them. jobs_live_unique held an entry for every live job without a
-- unique key, written as it was enqueued and again as it was acquired; such a
-- NULL never conflicts. jobs_finished took an entry at every completion, for
-- the prune and the failed-in-the-last-hour count: the prune now walks
-- jobs_listing by created_at (a job finished before the cut-off was created
-- before it, and finished_at still decides), and the count has an index of
-- failed jobs alone.

DROP INDEX jobs_finished;
CREATE INDEX jobs_failed ON jobs (finished_at) WHERE state = {{KBP_JOB_FAILED}};

DROP INDEX jobs_live_unique;
CREATE UNIQUE INDEX jobs_live_unique ON jobs (unique_key)
	WHERE state IN ({{KBP_JOB_AVAILABLE}}, {{KBP_JOB_RUNNING}}) AND unique_key IS NOT NULL;
