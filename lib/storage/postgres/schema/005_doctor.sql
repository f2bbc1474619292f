-- Integrity checks for operators (kbp_doctor_run): each check's count and up
-- to p_max_ids of the offending ids, in the order the library reports them.

CREATE FUNCTION kbp__doctor_check(p_name text, p_ids text[], p_max_ids integer)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('name', p_name,
	                          'count', coalesce(array_length(p_ids, 1), 0),
	                          'ids', to_jsonb(coalesce(p_ids[1:p_max_ids], '{}')))
$$;

CREATE FUNCTION kbp_doctor(p_now bigint, p_grace_ms bigint, p_max_ids integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT kbp__res(0, NULL, jsonb_build_object('checks', jsonb_build_array(
		kbp__doctor_check('orders_without_items', ARRAY(
			SELECT o.order_number FROM orders o
			 WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)
			 ORDER BY o.order_number), p_max_ids),
		kbp__doctor_check('paid_intents_without_order', ARRAY(
			SELECT i.id FROM intents i
			 WHERE i.status = 1 AND i.paid_at < p_now - p_grace_ms
			   AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.intent_id = i.id)
			 ORDER BY i.paid_at, i.id), p_max_ids),
		-- Reservations are held by pending intents and by paid ones whose order is not made yet.
		kbp__doctor_check('unbalanced_reservations', ARRAY(
			SELECT p.id FROM products p
			  LEFT JOIN (SELECT it.sku, sum(it.qty) AS held
			               FROM intent_items it JOIN intents i ON i.id = it.intent_id
			              WHERE i.status = 0
			                 OR (i.status = 1 AND NOT EXISTS
			                     (SELECT 1 FROM orders o WHERE o.intent_id = i.id))
			              GROUP BY it.sku) h ON h.sku = p.id
			 WHERE p.reserved <> coalesce(h.held, 0)
			 ORDER BY p.id), p_max_ids),
		kbp__doctor_check('products_without_vendor', ARRAY(
			SELECT p.id FROM products p
			 WHERE NOT EXISTS (SELECT 1 FROM vendors v WHERE v.id = p.vendor_id)
			 ORDER BY p.id), p_max_ids),
		kbp__doctor_check('intents_needing_refund', ARRAY(
			SELECT i.id FROM intents i WHERE i.needs_refund ORDER BY i.updated_at, i.id),
			p_max_ids))))
$$;
