-- An order's waiters are woken when its stage may have moved, not on every
-- step of its finalize job. The job's trigger also fired when a worker took
-- the job (available → running) and when it completed it, and neither moves
-- the stage: running is still "processing", and the order the job made had
-- already woken its waiters. Each of those notifications woke the intent's
-- waiters for a read that found nothing new, and a transaction that notifies
-- queues behind every other notifying one at its commit. Now the job wakes
-- them only where it makes the stage failed (the job failed for good or was
-- canceled) or takes it back from failed (an operator's retry).

DROP TRIGGER jobs_notify_order ON jobs;

CREATE TRIGGER jobs_notify_order
	AFTER UPDATE OF state ON jobs
	FOR EACH ROW
	WHEN (NEW.kind = 'finalize_order' AND OLD.state IS DISTINCT FROM NEW.state
	      AND (NEW.state IN ({{KBP_JOB_FAILED}}, {{KBP_JOB_CANCELED}})
	           OR OLD.state IN ({{KBP_JOB_FAILED}}, {{KBP_JOB_CANCELED}})))
	EXECUTE FUNCTION kbp__finalize_job_changed();
