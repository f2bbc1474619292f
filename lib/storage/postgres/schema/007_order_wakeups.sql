-- Order waiters are woken per intent. Until now every change of any order
-- notified every waiter, and each one asked for its own order's status: with
-- many shoppers waiting, most of those questions were about orders that had
-- not changed. The orders channel's payload now names the intent, sent by
-- triggers on what an order's stage is made of (the intent's status and
-- refund flag, the order row, the finalize job's state), and the untargeted
-- notification is dropped. The jobs channel is unchanged.

CREATE OR REPLACE FUNCTION kbp__notify(p_topic text)
RETURNS void LANGUAGE sql AS $$
	SELECT pg_notify(current_schema() || '.' || p_topic, '') WHERE p_topic <> 'orders'
$$;

CREATE FUNCTION kbp__notify_order(p_intent_id text)
RETURNS void LANGUAGE sql AS $$
	SELECT pg_notify(current_schema() || '.orders', p_intent_id)
$$;

CREATE FUNCTION kbp__intent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM kbp__notify_order(NEW.id);
	RETURN NULL;
END
$$;

CREATE FUNCTION kbp__order_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM kbp__notify_order(NEW.intent_id);
	RETURN NULL;
END
$$;

CREATE FUNCTION kbp__finalize_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.payload ? 'intent_id' THEN
		PERFORM kbp__notify_order(NEW.payload->>'intent_id');
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER intents_notify_order
	AFTER UPDATE OF status, needs_refund, status_reason ON intents
	FOR EACH ROW
	WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.needs_refund IS DISTINCT FROM NEW.needs_refund
	      OR OLD.status_reason IS DISTINCT FROM NEW.status_reason)
	EXECUTE FUNCTION kbp__intent_changed();

CREATE TRIGGER orders_notify_order
	AFTER INSERT ON orders
	FOR EACH ROW EXECUTE FUNCTION kbp__order_created();

CREATE TRIGGER jobs_notify_order
	AFTER UPDATE OF state ON jobs
	FOR EACH ROW
	WHEN (NEW.kind = 'finalize_order' AND OLD.state IS DISTINCT FROM NEW.state)
	EXECUTE FUNCTION kbp__finalize_job_changed();
