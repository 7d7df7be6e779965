-- A shift is closed once, and its Z report printed once (session 31).
--
-- shift_close answered true for a shift closed now or before, so that a close re-sent after a
-- lost answer prints the Z report it never showed. But a second desk of the same operator that
-- still showed the shift open got the same true and printed a second Z report of a shift
-- already counted. The key of the close that closed the shift is kept, so the two are told
-- apart: 'closed' for this close (or its re-send), 'closed_before' for a shift another close
-- closed, 'not_closed' for a shift that is not the operator's.
ALTER TABLE shift ADD COLUMN closed_by_key text;

DROP FUNCTION shift_close(bigint);
CREATE FUNCTION shift_close(p_shift_id bigint, p_key text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    closed_by text;
BEGIN
    IF p_key IS NULL THEN
        RAISE EXCEPTION 'a shift is closed with the key of its close'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE shift SET closed_at = greatest(now(), opened_at), closed_by_key = p_key
    WHERE id = p_shift_id AND operator_id = current_operator_id() AND closed_at IS NULL;
    IF FOUND THEN
        RETURN 'closed';
    END IF;
    SELECT s.closed_by_key INTO closed_by FROM shift s
    WHERE s.id = p_shift_id AND s.operator_id = current_operator_id() AND s.closed_at IS NOT NULL;
    IF NOT FOUND THEN
        RETURN 'not_closed';
    END IF;
    RETURN CASE WHEN closed_by = p_key THEN 'closed' ELSE 'closed_before' END;
END $$;
