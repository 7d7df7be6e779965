-- A price version not yet in force is corrected in place; one in force never (s45-a; s44-e's
-- found, not fixed). Saved from tomorrow with a wrong price, a version could not be corrected:
-- its date was "taken" and V47 let no operator change or delete a version or a tier, so
-- tomorrow's bills and recharges would use it unless another version was added from the day
-- after. A version whose date has not come has charged nothing (`price_version_is_ahead`: its
-- date after the database's today, and no bill names it), so what a supervisor corrects there
-- undoes nothing that was charged.
--
-- For an operator, as db::price_schemes::change_prices writes it, in one transaction:
--   * the version's row is written again (its scheme and date kept; `created_at` and
--     `created_by` now say who corrected it and when), only while it is ahead;
--   * its tiers are deleted and written again — a tier of a version written in this
--     transaction, as V47 already let a new version's be written — only while it is ahead;
--   * with its audit entry `price_version.add` telling the tiers it replaces, checked at commit
--     as a new version's is (V47's `price_write_is_audited`, now at the row's UPDATE too; V32's
--     `audit_entry_tells_a_write`: the version written here, at the date told).
-- A version in force, or past, stays as V47 keeps it: never changed nor deleted.
-- Replaces V47's `price_version_is_history` and `price_tier_is_history` (their INSERT rules
-- kept as they were).

CREATE OR REPLACE FUNCTION price_version_is_ahead(version bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    -- The owner's view: the bills are under row security (V224), which must not hide one.
    SELECT EXISTS (SELECT FROM price_version v
                   WHERE v.id = version AND v.effective_from > current_date)
       AND NOT EXISTS (SELECT FROM bill b WHERE b.price_version_id = version)
$$;

CREATE OR REPLACE FUNCTION price_version_is_history() RETURNS trigger
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
    ELSIF TG_OP = 'UPDATE'
          AND (NEW.id, NEW.price_scheme_id, NEW.effective_from)
              IS NOT DISTINCT FROM (OLD.id, OLD.price_scheme_id, OLD.effective_from)
          AND price_version_is_ahead(OLD.id) THEN
        NEW.created_at := now();
        NEW.created_by := current_operator_id();
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'permission denied: a price version in force is never changed nor deleted; a price change is a new version'
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION price_tier_is_history() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' AND EXISTS (SELECT FROM public.price_version v
                                    WHERE v.id = NEW.price_version_id
                                      AND md_written_here(v.xmin)) THEN
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' AND EXISTS (SELECT FROM public.price_version v
                                       WHERE v.id = OLD.price_version_id
                                         AND md_written_here(v.xmin))
          AND price_version_is_ahead(OLD.price_version_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'permission denied: a price tier is written with its version and never changed nor deleted once in force; a price change is a new version'
        USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS correction_is_audited ON price_version;
CREATE CONSTRAINT TRIGGER correction_is_audited AFTER UPDATE ON price_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION price_write_is_audited('price_scheme_id', 'price_version.add');
