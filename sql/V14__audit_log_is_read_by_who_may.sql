-- The audit log is read by who may view it (audit.view: supervisors, administrators), in the
-- database, not only on the screen: a clerk with psql sees only their own rows (what they did
-- is no secret to them). Writing stays as V13 has it (anyone appends, stamped). The owner is
-- not subject to the policy. The permission is asked once per statement (an InitPlan), not per
-- row.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT
    USING ((SELECT md_permitted('audit.view')) OR operator_id = (SELECT current_operator_id()));
CREATE POLICY audit_log_append ON audit_log FOR INSERT WITH CHECK (true);
