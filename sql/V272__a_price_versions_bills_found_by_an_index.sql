-- A price version's bills are found by an index (issue 14, s46-b; docs/decisions.md, "The
-- money path profiled…").
-- price_version_is_ahead (V250) asks whether any bill was priced at a version before a version
-- not yet in force is corrected or its tiers deleted: with no index on bill.price_version_id
-- that question read every bill (a sequential scan: 8 367 bills of a 10 000-customer demo
-- database, 1.1 ms; a million customers' years of bills, seconds, on a supervisor's save). The
-- index answers it from one probe. Its cost, an index entry written with each bill and each
-- payment that marks one paid, is measured in the decisions.
-- Re-runnable (tests/two_desks.rs replays it): IF NOT EXISTS.
CREATE INDEX IF NOT EXISTS bill_price_version ON bill (price_version_id);
