-- The cycle's water kept a purchase a row (`card_water`, V245) is the customers' water: read,
-- as every table of the customer side (V224), only by the operators whose roles serve
-- customers. Both came the same session on two branches; the boundary test
-- `every_table_is_on_one_side_of_who_reads_the_customers` found the table on neither side.

CREATE OR REPLACE FUNCTION md_customer_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    VALUES ('public.customer'::regclass), ('public.customer_name_char'),
           ('public.customer_owner_history'), ('public.account'), ('public.account_closing'),
           ('public.ledger_transaction'), ('public.bill'), ('public.bill_payment_applied'),
           ('public.meter_reading'), ('public.card'), ('public.card_operation'),
           ('public.card_recharge_owed'), ('public.receipt'), ('public.system_card_credit_line'),
           ('public.card_water')
$$;

SELECT md_guard_customer_tables();
