-- s46-c: an operator's roles and department were saved by id, so a save from a list read
-- before another desk's (or psql's) change of them landed over it unseen. The desk now reads
-- them first, in the save's transaction, as this function answers them: locked (`FOR UPDATE`,
-- as `operator_set_roles` and `operator_set_department` lock the row) until the save commits,
-- and compares them with what its list showed (`db::admin`, as s45-a's departments and roles).
-- An administrator has no UPDATE on `operator` to lock it with a SELECT of their own: the
-- lock is taken here, for who may maintain operators only. No row: the operator is gone, left
-- to the save's own refusal.
CREATE OR REPLACE FUNCTION operator_placed_for_save(p_operator_id bigint)
RETURNS TABLE (department_id bigint, roles text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('operator.maintain');
    RETURN QUERY
    SELECT o.department_id,
           ARRAY(SELECT r.role_code FROM operator_role r WHERE r.operator_id = o.id ORDER BY 1)
    FROM operator o WHERE o.id = p_operator_id FOR UPDATE;
END $$;
