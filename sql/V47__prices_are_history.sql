-- Prices are history (session 23, found with psql as the demo supervisor): `price.maintain`
-- let a supervisor `UPDATE price_tier SET unit_price = 0.01` — every version at once, the ones
-- in force and the past ones — with no audit entry, while the desk only ever adds a version
-- from today on (db::price_schemes::change_prices). Charges were made at those prices, and the
-- database checks new ones against them (V34's readings, V38's recharges): a tier rewritten
-- silently moves what every later check accepts, and who did it is nowhere.
--
-- For an operator (the owner's migrations, loads and functions are not subject to it), as the
-- desk writes them:
--   * a price version starts today or later (the database's date) — a new scheme's first one on
--     the scheme's start date, whatever it is —, is written with its audit
--     entry (`price_version.add`, which V32 checks against the version), and is never changed
--     nor deleted: a price change is a new version;
--   * a tier is written in the transaction of its version, and never changed nor deleted;
--   * a scheme keeps its kind, billing mode and start date (charges were made under them), a
--     change of its name, VAT rate or cycles is written with its audit entry
--     (`price_scheme.modify`), and a scheme is never deleted (its versions would go with it).

CREATE FUNCTION price_version_is_history() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    -- A new scheme's first prices start on its start date, which may be past: nothing was
    -- charged under a scheme written in this very transaction.
    IF TG_OP = 'INSERT' AND (NEW.effective_from >= current_date
                             OR EXISTS (SELECT FROM public.price_scheme s
                                        WHERE s.id = NEW.price_scheme_id
                                          AND md_written_here(s.xmin))) THEN
        RETURN NEW;
    ELSIF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION 'permission denied: a price version starts today (%) or later, not on %',
            current_date, NEW.effective_from USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'permission denied: a price version is never changed nor deleted; a price change is a new version'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER is_history BEFORE INSERT OR UPDATE OR DELETE ON price_version
    FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION price_version_is_history();

CREATE FUNCTION price_tier_is_history() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' AND EXISTS (SELECT FROM public.price_version v
                                    WHERE v.id = NEW.price_version_id
                                      AND md_written_here(v.xmin)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'permission denied: a price tier is written with its version and never changed nor deleted; a price change is a new version'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER is_history BEFORE INSERT OR UPDATE OR DELETE ON price_tier
    FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION price_tier_is_history();

CREATE FUNCTION price_scheme_keeps_its_tariff() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.kind, NEW.billing_mode, NEW.start_date)
           IS NOT DISTINCT FROM (OLD.kind, OLD.billing_mode, OLD.start_date) THEN
        RETURN NEW;
    ELSIF TG_OP = 'INSERT' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'permission denied: a price scheme keeps its kind, billing mode and start date and is never deleted; a different tariff is a new scheme'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER keeps_its_tariff BEFORE UPDATE OR DELETE ON price_scheme
    FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION price_scheme_keeps_its_tariff();

-- Checked at commit, so the desk's statement may write the row and its entry in any order.
-- TG_ARGV: the column naming the scheme, the audit action the write is told by.
CREATE FUNCTION price_write_is_audited() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    scheme bigint := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM public.audit_log a
                   WHERE a.entity = 'price_scheme' AND a.entity_id = scheme
                     AND a.action = TG_ARGV[1] AND a.at = now() AND a.db_user = session_user) THEN
        RAISE EXCEPTION 'permission denied: a change of price scheme % is written with its audit entry (%)',
            scheme, TG_ARGV[1] USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER is_audited AFTER INSERT ON price_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION price_write_is_audited('price_scheme_id', 'price_version.add');
CREATE CONSTRAINT TRIGGER is_audited AFTER UPDATE ON price_scheme
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION price_write_is_audited('id', 'price_scheme.modify');
