-- Customer writes (open account, modify basic information, transfer) are exactly-once: the app
-- gives each confirmed write an idempotency key, made when the clerk presses F2 and kept when a
-- request parked by a lost connection is sent again. The key is recorded here in the same
-- transaction as the write, with what the write answered; a request whose key is already here
-- writes nothing and answers the recorded outcome. A lost connection may come after the commit,
-- so without this a re-send would open a second account, transfer twice or report its own save
-- as another clerk's conflict. Refusals write nothing and record nothing: sent again, they are
-- decided afresh. Card writes have their own journal (card_operation.idempotency_key).
CREATE TABLE applied_write (
    idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    kind            text NOT NULL
                    CHECK (kind IN ('customer.open', 'customer.modify', 'customer.transfer')),
    -- What the write answered, enough to rebuild the reply (db::customer_changes).
    outcome         jsonb NOT NULL,
    operator_id     bigint NOT NULL REFERENCES operator,
    created_at      timestamptz NOT NULL DEFAULT now()
);
