-- The audit log hides the customers' personal data from an operator whose roles serve no
-- customer (s44-a's "found, not fixed"; s45-b; docs/decisions.md, "What each role reads and
-- can do with psql").
--
-- V224 keeps the customer side's rows from an administration-only role, but the audit log
-- (V14: any entry to `audit.view`) carried them on: a `customer.modify` entry holds the basic
-- information before and after — identity number, mobile, address among them —, an opening
-- or a transfer the customer's. Such a reader still reads every entry it read (who did what,
-- when, on which customer id: an administrator audits the desk), but the personal values in
-- the entries about customers are masked, by the database:
-- * `detail` is no longer every operator's to SELECT: only V224's readers' group (the roles
--   that serve customers, who read the customers' rows themselves) reads the column;
-- * `audit_detail(id)`, the owner's, answers an entry's detail to whoever may read that entry
--   (V14's rule: `audit.view`, or one's own), masked unless `md_serves_customers()` (V254):
--   the desk's audit viewer reads every detail through it;
-- * `reference_write_is_told()` (V53, the commit check of a role's or department's change,
--   which an administrator makes) read `detail` as the caller: now as the owner (SECURITY
--   DEFINER, its body unchanged: it asks the entry of the caller's session by `db_user =
--   session_user`, which the owner's rights do not change).

-- The keys of a customer's personal data in an entry (customer_basic_info's, V123, and the
-- customer fields the desk's entries name), at any depth.
CREATE OR REPLACE FUNCTION md_personal_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['name', 'company_name', 'label', 'contact_person', 'id_document_no',
                 'registration_no', 'mobile', 'phone', 'email', 'address', 'location', 'remark']
$$;

-- `detail` with every personal value (a non-null value of md_personal_keys(), at any depth)
-- replaced by '***'; in a change (`before` and `after` objects), an `after` value that differs
-- from its `before` by '*** (changed)', so the reader still sees which fields a change changed.
CREATE OR REPLACE FUNCTION md_personal_data_masked(detail jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
DECLARE
    masked jsonb;
BEGIN
    CASE jsonb_typeof(detail)
    WHEN 'object' THEN
        SELECT coalesce(jsonb_object_agg(e.key,
                   CASE WHEN e.key = ANY (md_personal_keys()) AND jsonb_typeof(e.value) <> 'null'
                        THEN to_jsonb('***'::text)
                        ELSE md_personal_data_masked(e.value) END), '{}')
        INTO masked
        FROM jsonb_each(detail) e;
        IF jsonb_typeof(detail -> 'before') = 'object'
           AND jsonb_typeof(detail -> 'after') = 'object' THEN
            SELECT masked || jsonb_build_object('after', (masked -> 'after')
                       || coalesce(jsonb_object_agg(a.key, '*** (changed)'), '{}'))
            INTO masked
            FROM jsonb_each(detail -> 'after') a
            WHERE a.key = ANY (md_personal_keys()) AND jsonb_typeof(a.value) <> 'null'
              AND a.value IS DISTINCT FROM detail -> 'before' -> a.key;
        END IF;
        RETURN masked;
    WHEN 'array' THEN
        RETURN (SELECT coalesce(jsonb_agg(md_personal_data_masked(x.e) ORDER BY x.n), '[]')
                FROM jsonb_array_elements(detail) WITH ORDINALITY x (e, n));
    ELSE
        RETURN detail;
    END CASE;
END $$;

-- An entry's detail as its reader may read it: NULL where the caller may not read the entry
-- (V14's policy, asked here as the owner reads it whole); masked for a caller who serves no
-- customer, but in the entries of administration and reference data (operators, roles,
-- departments, types, schemes, the sign-ins), which name no customer.
CREATE OR REPLACE FUNCTION audit_detail(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN a.entity IN ('operator', 'role', 'department', 'meter_type',
                                  'customer_type', 'price_scheme')
                     OR (SELECT md_serves_customers())
                THEN a.detail
                ELSE md_personal_data_masked(a.detail) END
    FROM audit_log a
    WHERE a.id = p_id
      AND (a.operator_id = (SELECT current_operator_id()) OR (SELECT md_permitted('audit.view')))
$$;

ALTER FUNCTION reference_write_is_told() SECURITY DEFINER;

DO $$
DECLARE
    operators name := md_role_name('operator');
BEGIN
    EXECUTE format('REVOKE SELECT ON audit_log FROM %I', operators);
    EXECUTE format('GRANT SELECT (id, at, operator_id, action, entity, entity_id, db_user)
                    ON audit_log TO %I', operators);
    EXECUTE format('GRANT SELECT (detail) ON audit_log TO %I', md_role_name('reads.customers'));
END $$;
