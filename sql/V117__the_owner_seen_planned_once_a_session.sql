-- Which owner a customer has (V110's customer_owner_seen), answered as before, planned once a
-- session instead of at every call (docs/decisions.md, "A card visit in three round trips").
--
-- V110 made it an SQL function with a SET clause. PostgreSQL inlines no SQL function that
-- reads a table or has a SET clause, and before version 18 an SQL function that is not
-- inlined parses and plans its body again in every statement that calls it: money_move_for's
-- check (a system-prepaid recharge, a deposit, a refund: one transaction each) and every read
-- of the account or the reading form (the owner they showed) paid that planning, ~0.05 ms a
-- call against ~0.005 ms of work (pg_stat_statements on a 4-desk soak: 0.10 ms a call as
-- tracked, 17 552 calls a minute). As PL/pgSQL its statement's plan is kept by the session.
-- Same name, arguments, answer, volatility, search_path and rights (SECURITY INVOKER):
-- CREATE OR REPLACE keeps its owner and grants.
CREATE OR REPLACE FUNCTION customer_owner_seen(p_customer_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN coalesce((SELECT max(id) FROM customer_owner_history
                     WHERE customer_id = p_customer_id), 0);
END $$;
