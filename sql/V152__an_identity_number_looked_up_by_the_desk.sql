-- s39-b: the customer forms say an identity number already on another customer before the
-- save (domain.md: one person may hold several premises, so it is not unique): one probe of
-- this index, not a scan of every customer, at each save that carries one. Re-runnable.
CREATE INDEX IF NOT EXISTS customer_id_document_no_idx ON customer (id_document_no)
    WHERE id_document_no IS NOT NULL;
