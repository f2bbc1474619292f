-- Health judges how long paid intents have waited for their order: a count of
-- the succeeded intents without an order alone said nothing about whether one
-- had been stuck for minutes. kbp_metrics gains the ones paid longer ago than
-- the doctor's grace (KBP_DOCTOR_PAID_GRACE_MS, 60 s) and the age of the
-- oldest. The counts it had are kept by wrapping the function as it stands,
-- whatever earlier migrations made of it.

ALTER FUNCTION kbp_metrics(bigint) RENAME TO kbp__metrics_counts;

CREATE FUNCTION kbp_metrics(p_now bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_set(m, '{data}', (m -> 'data') || (
		SELECT jsonb_build_object(
			'paid_intents_without_order_late', count(*) FILTER (WHERE i.paid_at < p_now - 60000),
			'paid_without_order_oldest_ms', greatest(coalesce(max(p_now - i.paid_at), 0), 0))
		  FROM intents i
		 WHERE i.status = 1 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.intent_id = i.id)))
	  FROM kbp__metrics_counts(p_now) m
$$;
