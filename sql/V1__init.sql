-- Placeholder so the migration runner has something to apply; the schema replaces it.
SELECT 1;
