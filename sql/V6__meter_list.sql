-- The meter list (`:meters`) pages uninstalled meters, and separately installed or removed ones,
-- in byte order of the meter number so that a typed prefix is one index range whatever the
-- database's collation. At 100 000+ meters a page is then an index range scan, never a sort.
CREATE INDEX meter_uninstalled_by_no ON meter ((meter_no COLLATE "C")) WHERE status = 'uninstalled';
CREATE INDEX meter_placed_by_no ON meter ((meter_no COLLATE "C")) WHERE status <> 'uninstalled';
