-- A worker acquires and completes jobs by plain statements the library
-- prepares (lib/storage/postgres/statements.c). As PL/pgSQL, acquiring
-- built each job's JSON through a function call of its own (kbp__job_json),
-- and a batch of 64 cost several times what the same statement costs
-- inline. The statements keep these functions' rules and answers.

DROP FUNCTION kbp_jobs_acquire(text, integer, bigint, bigint);
DROP FUNCTION kbp_jobs_complete(text[], text, bigint);
