-- Who the signed-in operator is, asked without a SET clause (issue 14, s41-d; docs/decisions.md,
-- "A ledger row's rules read once a statement…").
--
-- `current_operator_id()` is called several times by every write (the stamps of the audit
-- entry, the receipt, the card operation and the reading, the permission checks, the books'
-- functions). Its `SET search_path = public, pg_temp` made each call save the caller's settings,
-- set the path (which PostgreSQL then resolves again: the schemas' names looked up) and put
-- them back when it returned. The path was there so that a caller's own search_path could not
-- put a table of its choosing under the name `operator`: the body now names the table with its
-- schema and the comparison with pg_catalog's operator, so no name in it is looked up on the
-- caller's path (as md_role_name since V40). It stays SECURITY DEFINER: the id is read by the
-- owner, from the operator whose server role is the session's (`session_user`, which no client
-- sets), so it is no more forgeable than before. One id a transaction (a setting of the
-- transaction) was not taken: any setting that is not the server's own a clerk's psql may set
-- with set_config, so the id there would be the caller's word.
CREATE OR REPLACE FUNCTION current_operator_id() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    RETURN (SELECT o.id FROM public.operator o WHERE o.db_role OPERATOR(pg_catalog.=) session_user);
END $$;
