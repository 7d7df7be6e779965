-- meterdesk schema: the whole domain of docs/domain.md and docs/card.md.
--
-- Conventions:
-- * Closed vocabularies are `text` with a CHECK, not enum types, so Rust reads them as `String`
--   without custom FromSql impls and COPY writes them as plain text.
-- * Rules that span tables are enforced with composite foreign keys onto a UNIQUE (id, attribute)
--   of the parent: the child carries the attribute the rule is about, the FK keeps it equal to the
--   parent's, and a CHECK on the child states the rule. No trigger can be forgotten that way.
-- * Money NUMERIC(14,2), volumes NUMERIC(12,3) m³, unit prices NUMERIC(10,4).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Rows of append-only tables are facts: a mistake is corrected by a new row, never by editing.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: its rows are never changed or removed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

-- ───────────────────────────── System: departments, operators, roles ─────────────────────────────

CREATE TABLE department (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    parent_id bigint REFERENCES department
);

CREATE TABLE permission (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z_]+\.[a-z_]+$'),
    description text NOT NULL
);

CREATE TABLE role (
    code text PRIMARY KEY CHECK (code ~ '^[a-z_]+$'),
    name text NOT NULL UNIQUE
);

CREATE TABLE role_permission (
    role_code       text NOT NULL REFERENCES role ON UPDATE CASCADE ON DELETE CASCADE,
    permission_code text NOT NULL REFERENCES permission ON UPDATE CASCADE,
    PRIMARY KEY (role_code, permission_code)
);

CREATE TABLE operator (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login                text NOT NULL CHECK (login <> '' AND login = btrim(login)),
    full_name            text NOT NULL CHECK (btrim(full_name) <> ''),
    department_id        bigint NOT NULL REFERENCES department,
    password_hash        text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    enabled              boolean NOT NULL DEFAULT true,
    failed_logins        integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    last_failed_login_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now()
);
-- Case-insensitive: "Clerk" and "clerk" at the login prompt are the same operator.
CREATE UNIQUE INDEX operator_login_key ON operator (lower(login));

CREATE TABLE operator_role (
    operator_id bigint NOT NULL REFERENCES operator ON DELETE CASCADE,
    role_code   text NOT NULL REFERENCES role ON UPDATE CASCADE,
    PRIMARY KEY (operator_id, role_code)
);

-- Every state change, who made it and when. Append-only.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- NULL: the system itself, or a login attempt for a name that is no operator.
    operator_id bigint REFERENCES operator,
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    entity      text,
    entity_id   bigint,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_is_never_truncated BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- ───────────────────────────── Meters ─────────────────────────────

CREATE TABLE meter_type (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    payment_model text NOT NULL CHECK (payment_model IN ('prepayment', 'postpayment')),
    takes_card    boolean NOT NULL,
    caliber       text NOT NULL CHECK (caliber ~ '^DN[0-9]+$'),
    manufacturer  text NOT NULL CHECK (btrim(manufacturer) <> ''),
    -- The IC card is the only way credit reaches a prepayment meter here, and a postpayment meter
    -- has nothing to do with a card: the two attributes must agree.
    CHECK (takes_card = (payment_model = 'prepayment')),
    UNIQUE (id, payment_model)
);

CREATE TABLE meter (
    id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 12 ASCII bytes on the card's issue record.
    meter_no                   text NOT NULL UNIQUE CHECK (meter_no ~ '^[0-9A-Z-]{1,12}$'),
    meter_type_id              bigint NOT NULL REFERENCES meter_type,
    initial_electronic_reading numeric(12,3) NOT NULL DEFAULT 0 CHECK (initial_electronic_reading >= 0),
    initial_mechanical_reading numeric(12,3) NOT NULL DEFAULT 0 CHECK (initial_mechanical_reading >= 0),
    status                     text NOT NULL DEFAULT 'uninstalled'
                               CHECK (status IN ('uninstalled', 'installed', 'removed')),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    -- Target of customer's composite FK, which keeps the customer's copy of type and status true.
    UNIQUE (id, meter_type_id, status)
);
CREATE INDEX meter_uninstalled_by_type ON meter (meter_type_id) WHERE status = 'uninstalled';

-- A meter only moves forward (uninstalled → installed → removed); its number never changes; its
-- type and initial readings change, and it is deleted, only while uninstalled.
CREATE FUNCTION meter_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'uninstalled' THEN
            RAISE EXCEPTION 'meter % is %: only an uninstalled meter can be deleted', OLD.meter_no, OLD.status
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.meter_no <> OLD.meter_no THEN
        RAISE EXCEPTION 'a meter number never changes (meter %)', OLD.meter_no
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status <> 'uninstalled' AND (NEW.meter_type_id, NEW.initial_electronic_reading,
            NEW.initial_mechanical_reading) IS DISTINCT FROM (OLD.meter_type_id,
            OLD.initial_electronic_reading, OLD.initial_mechanical_reading) THEN
        RAISE EXCEPTION 'meter % is %: its type and initial readings are read-only', OLD.meter_no, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN
            (('uninstalled', 'installed'), ('installed', 'removed')) THEN
        RAISE EXCEPTION 'meter % cannot go from % to %', OLD.meter_no, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER meter_guard BEFORE UPDATE OR DELETE ON meter
    FOR EACH ROW EXECUTE FUNCTION meter_guard();

-- ───────────────────────────── Prices, payment methods ─────────────────────────────

CREATE TABLE price_scheme (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                      text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    kind                      text NOT NULL CHECK (kind IN ('postpaid', 'prepaid')),
    billing_mode              text NOT NULL CHECK (billing_mode IN ('fixed', 'stepped', 'leap')),
    vat_rate                  numeric(5,4) NOT NULL CHECK (vat_rate >= 0 AND vat_rate < 1),
    -- Tier position is the volume accumulated over this many months; fixed prices have no tiers.
    accumulation_cycle_months smallint CHECK (accumulation_cycle_months BETWEEN 1 AND 120),
    -- Postpaid only: how often readings are settled into bills.
    settlement_cycle_months   smallint CHECK (settlement_cycle_months BETWEEN 1 AND 12),
    start_date                date NOT NULL,
    CHECK ((billing_mode = 'fixed') = (accumulation_cycle_months IS NULL)),
    CHECK ((kind = 'postpaid') = (settlement_cycle_months IS NOT NULL)),
    UNIQUE (id, kind)
);

-- Prices change from a date; a transaction stores the unit price it was made at, so editing the
-- future never rewrites the past.
CREATE TABLE price_version (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    price_scheme_id bigint NOT NULL REFERENCES price_scheme ON DELETE CASCADE,
    effective_from  date NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      bigint REFERENCES operator,
    UNIQUE (price_scheme_id, effective_from)
);

CREATE TABLE price_tier (
    price_version_id bigint NOT NULL REFERENCES price_version ON DELETE CASCADE,
    tier_no          smallint NOT NULL CHECK (tier_no >= 1),
    -- NULL: no upper bound (the last tier; the only tier of a fixed price).
    upper_bound_m3   numeric(12,3) CHECK (upper_bound_m3 > 0),
    unit_price       numeric(10,4) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (price_version_id, tier_no)
);
CREATE UNIQUE INDEX price_tier_one_open_ended ON price_tier (price_version_id) WHERE upper_bound_m3 IS NULL;

CREATE TABLE payment_method (
    code    text PRIMARY KEY CHECK (code ~ '^[a-z_]+$'),
    name    text NOT NULL UNIQUE,
    enabled boolean NOT NULL DEFAULT true
);

-- ───────────────────────────── Customer types ─────────────────────────────

CREATE TABLE customer_type (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    nature              text NOT NULL CHECK (nature IN ('personal', 'enterprise', 'statistical')),
    business_model      text NOT NULL CHECK (business_model IN ('meter_prepaid', 'system_prepaid', 'postpaid')),
    -- meter_prepaid ↔ prepayment (card) meters; the other two ↔ postpayment meters.
    meter_payment_model text NOT NULL GENERATED ALWAYS AS
        (CASE business_model WHEN 'meter_prepaid' THEN 'prepayment' ELSE 'postpayment' END) STORED,
    price_kind          text NOT NULL GENERATED ALWAYS AS
        (CASE business_model WHEN 'postpaid' THEN 'postpaid' ELSE 'prepaid' END) STORED,
    counts_water_usage  boolean NOT NULL,
    charges             boolean NOT NULL,
    price_scheme_id     bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (price_scheme_id, price_kind) REFERENCES price_scheme (id, kind),
    CHECK (charges = (price_scheme_id IS NOT NULL)),
    -- Targets of customer's FK: a type in use cannot change nature or business model, because the
    -- customer's basic information, meter and account were chosen for them.
    UNIQUE (id, nature, business_model),
    UNIQUE (id, meter_payment_model)
);

CREATE TABLE customer_type_meter_type (
    customer_type_id    bigint NOT NULL,
    meter_type_id       bigint NOT NULL,
    meter_payment_model text NOT NULL,
    PRIMARY KEY (customer_type_id, meter_type_id),
    FOREIGN KEY (customer_type_id, meter_payment_model)
        REFERENCES customer_type (id, meter_payment_model) ON DELETE CASCADE,
    FOREIGN KEY (meter_type_id, meter_payment_model) REFERENCES meter_type (id, payment_model)
);

CREATE TABLE customer_type_payment_method (
    customer_type_id    bigint NOT NULL REFERENCES customer_type ON DELETE CASCADE,
    payment_method_code text NOT NULL REFERENCES payment_method ON UPDATE CASCADE,
    PRIMARY KEY (customer_type_id, payment_method_code)
);

-- ───────────────────────────── Customers ─────────────────────────────

-- Serials for customer numbers (CustomerNumber::from_serial adds the check digit). A sequence
-- never hands out a value twice, so numbers are never reused, even after a rolled-back opening.
CREATE SEQUENCE customer_serial AS integer MINVALUE 1000000 MAXVALUE 9999999 START 1000000;

CREATE TABLE customer (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_no      bigint NOT NULL UNIQUE CHECK (customer_no BETWEEN 10000000 AND 99999999),
    customer_type_id bigint NOT NULL,
    nature           text NOT NULL,
    business_model   text NOT NULL,
    account_kind     text NOT NULL GENERATED ALWAYS AS
        (CASE business_model WHEN 'postpaid' THEN 'postpaid' ELSE 'prepaid' END) STORED,
    -- Basic information. name: the person, the company or the statistical label; address: the
    -- address, or a statistical point's location; phone: mobile (personal) or phone (enterprise).
    name             text NOT NULL CHECK (btrim(name) <> ''),
    address          text NOT NULL CHECK (btrim(address) <> ''),
    phone            text CHECK (phone ~ '^[0-9+() -]{3,24}$'),
    id_document_no   text,
    household_size   smallint CHECK (household_size BETWEEN 1 AND 99),
    email            text CHECK (email LIKE '%_@_%'),
    credit_code      text,
    contact_person   text,
    remark           text,
    meter_id         bigint NOT NULL UNIQUE,
    meter_type_id    bigint NOT NULL,
    meter_status     text NOT NULL DEFAULT 'installed',
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    -- Optimistic concurrency: every update sets version = version + 1 WHERE version = the one read.
    version          integer NOT NULL DEFAULT 1,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    opened_by        bigint REFERENCES operator,
    closed_at        timestamptz,
    FOREIGN KEY (customer_type_id, nature, business_model)
        REFERENCES customer_type (id, nature, business_model),
    -- meter_status follows the meter (CASCADE); the CHECK below then refuses to let the meter of an
    -- active customer become anything but installed.
    FOREIGN KEY (meter_id, meter_type_id, meter_status)
        REFERENCES meter (id, meter_type_id, status) ON UPDATE CASCADE,
    -- The meter's type is one the customer type allows (so card meters only for meter_prepaid).
    FOREIGN KEY (customer_type_id, meter_type_id) REFERENCES customer_type_meter_type,
    CHECK (status = 'closed' OR meter_status = 'installed'),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    -- Required basic information by nature of water usage, and no fields of another nature.
    CHECK (nature <> 'personal' OR phone IS NOT NULL),
    CHECK (nature <> 'enterprise' OR (phone IS NOT NULL AND contact_person IS NOT NULL)),
    CHECK (nature = 'personal' OR (id_document_no IS NULL AND household_size IS NULL AND email IS NULL)),
    CHECK (nature = 'enterprise' OR (credit_code IS NULL AND contact_person IS NULL)),
    CHECK (nature <> 'statistical' OR phone IS NULL),
    UNIQUE (id, account_kind),
    UNIQUE (id, business_model)
);
CREATE INDEX customer_type_in_use ON customer (customer_type_id);
CREATE INDEX customer_phone ON customer (phone);
-- "Address fragment" search at the counter (the other search indexes, and why, are in
-- V3__customer_search.sql). GIN indexes are the slowest part of a bulk load, so the demo loader
-- builds them after the data is in.
-- Addresses: fragments are longer and carry house numbers, which trigrams catch in any locale
-- (建国路88号: 15 ms; 3单元502: 80 ms); under a C.UTF-8 ctype the CJK part counts too. A
-- character-set index here would cost ≈ 12 s of load time and was not faster.
CREATE INDEX customer_address_trgm ON customer USING gin (address gin_trgm_ops);

-- The previous owner's basic information, kept when the property changes hands.
CREATE TABLE customer_owner_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id    bigint NOT NULL REFERENCES customer,
    previous_owner jsonb NOT NULL CHECK (jsonb_typeof(previous_owner) = 'object'),
    transferred_at timestamptz NOT NULL DEFAULT now(),
    transferred_by bigint NOT NULL REFERENCES operator
);
CREATE INDEX customer_owner_history_customer ON customer_owner_history (customer_id);

-- ───────────────────────────── Accounts and the ledger ─────────────────────────────

CREATE TABLE account (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('prepaid', 'postpaid')),
    -- Maintained only by the ledger trigger below; equals the sum of the account's transactions.
    -- Never negative: prepaid money is spent only while there is some (the meter closes its valve,
    -- the system stops deducting), and a postpaid customer's debt lives in unpaid bills, not in
    -- the balance. A negative balance would be credit the utility never decided to give.
    balance     numeric(14,2) NOT NULL DEFAULT 0 CHECK (balance >= 0),
    opened_at   timestamptz NOT NULL DEFAULT now(),
    -- The kind follows the customer's business model.
    FOREIGN KEY (customer_id, kind) REFERENCES customer (id, account_kind),
    UNIQUE (id, kind)
);

CREATE SEQUENCE receipt_no_seq AS bigint START 1;

-- One printed receipt; it may cover several transactions (a card purchase is a deposit and a
-- card_purchase; one payment may settle several bills).
CREATE TABLE receipt (
    receipt_no        bigint PRIMARY KEY,
    customer_id       bigint NOT NULL REFERENCES customer,
    operator_id       bigint NOT NULL REFERENCES operator,
    issued_at         timestamptz NOT NULL DEFAULT now(),
    reprints          integer NOT NULL DEFAULT 0 CHECK (reprints >= 0),
    last_reprinted_at timestamptz,
    CHECK ((reprints = 0) = (last_reprinted_at IS NULL))
);
CREATE INDEX receipt_customer ON receipt (customer_id);

CREATE TABLE bill (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       bigint NOT NULL,
    -- Bills exist only on postpaid accounts.
    account_kind     text NOT NULL DEFAULT 'postpaid' CHECK (account_kind = 'postpaid'),
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    previous_reading numeric(12,3) NOT NULL CHECK (previous_reading >= 0),
    current_reading  numeric(12,3) NOT NULL,
    volume           numeric(12,3) NOT NULL CHECK (volume >= 0),
    amount           numeric(14,2) NOT NULL CHECK (amount >= 0),
    price_version_id bigint REFERENCES price_version,
    status           text NOT NULL DEFAULT 'unpaid' CHECK (status IN ('unpaid', 'paid', 'void')),
    issued_at        timestamptz NOT NULL DEFAULT now(),
    paid_at          timestamptz,
    FOREIGN KEY (account_id, account_kind) REFERENCES account (id, kind),
    CHECK (period_end >= period_start),
    CHECK (current_reading >= previous_reading),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    UNIQUE (account_id, period_start)
);
CREATE INDEX bill_unpaid ON bill (account_id) WHERE status = 'unpaid';

-- Every movement of money. `amount` is signed: its effect on the account balance.
CREATE TABLE ledger_transaction (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          bigint NOT NULL REFERENCES account,
    kind                text NOT NULL CHECK (kind IN ('deposit', 'refund', 'consumption', 'bill_payment',
                                                      'card_purchase', 'card_refund', 'reversal')),
    amount              numeric(14,2) NOT NULL,
    volume              numeric(12,3) CHECK (volume > 0),
    unit_price          numeric(10,4) CHECK (unit_price >= 0),
    payment_method_code text REFERENCES payment_method ON UPDATE CASCADE,
    receipt_no          bigint REFERENCES receipt,
    -- NULL: made by the system (consumption deducted from readings).
    operator_id         bigint REFERENCES operator,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- A retried request finds its first attempt instead of moving the money twice.
    idempotency_key     text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    -- A transaction of kind reversal undoes this one (at most once: see the index below).
    reverses_id         bigint REFERENCES ledger_transaction,
    bill_id             bigint REFERENCES bill,
    CHECK (CASE kind
               WHEN 'deposit' THEN amount > 0
               WHEN 'card_refund' THEN amount > 0
               WHEN 'reversal' THEN amount <> 0
               ELSE amount < 0
           END),
    CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL)),
    CHECK ((kind = 'bill_payment') = (bill_id IS NOT NULL)),
    CHECK (kind NOT IN ('deposit', 'refund') OR payment_method_code IS NOT NULL),
    CHECK (kind NOT IN ('consumption', 'card_purchase') OR volume IS NOT NULL)
);
CREATE INDEX ledger_transaction_account ON ledger_transaction (account_id, created_at);
CREATE INDEX ledger_transaction_receipt ON ledger_transaction (receipt_no);
-- A transaction is reversed at most once. Partial: almost every row has no reverses_id.
CREATE UNIQUE INDEX ledger_transaction_reversed_once ON ledger_transaction (reverses_id)
    WHERE reverses_id IS NOT NULL;

-- A reversal undoes exactly one transaction of the same account, for exactly its amount.
CREATE FUNCTION ledger_check_reversal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    original ledger_transaction;
BEGIN
    SELECT * INTO original FROM ledger_transaction WHERE id = NEW.reverses_id;
    IF original.account_id <> NEW.account_id OR original.amount <> -NEW.amount OR original.kind = 'reversal' THEN
        RAISE EXCEPTION 'transaction % cannot be reversed by % on account %',
            NEW.reverses_id, NEW.amount, NEW.account_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_check_reversal BEFORE INSERT ON ledger_transaction
    FOR EACH ROW WHEN (NEW.reverses_id IS NOT NULL) EXECUTE FUNCTION ledger_check_reversal();

-- The balance is the running sum of the ledger. Row lock on the account serialises concurrent
-- movements; the account's CHECK refuses one that would take the balance below zero.
CREATE FUNCTION ledger_apply_to_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account SET balance = balance + NEW.amount WHERE id = NEW.account_id;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_apply_to_balance AFTER INSERT ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_to_balance();

CREATE TRIGGER ledger_transaction_is_append_only BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_transaction_is_never_truncated BEFORE TRUNCATE ON ledger_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- ───────────────────────────── IC cards ─────────────────────────────

-- Card numbers are u32 on the card and never reused: rows are never deleted.
CREATE SEQUENCE card_no_seq AS bigint MINVALUE 1 MAXVALUE 4294967295 START 10000001;

CREATE TABLE card (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card_no               bigint NOT NULL UNIQUE CHECK (card_no BETWEEN 1 AND 4294967295),
    customer_id           bigint NOT NULL,
    -- Only card-meter customers hold cards.
    business_model        text NOT NULL DEFAULT 'meter_prepaid' CHECK (business_model = 'meter_prepaid'),
    generation            smallint NOT NULL CHECK (generation BETWEEN 1 AND 255),
    state                 text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'void', 'recycled')),
    -- A blacklisted card is refused by the meter (a lower generation than it has registered).
    blacklisted           boolean NOT NULL DEFAULT false,
    void_reason           text CHECK (void_reason IN ('lost', 'damaged', 'replaced', 'account_closed')),
    issued_at             timestamptz NOT NULL DEFAULT now(),
    issued_by             bigint NOT NULL REFERENCES operator,
    voided_at             timestamptz,
    -- The meter's write-back (EF 0003) as last read at the counter.
    meter_loaded_seq      bigint CHECK (meter_loaded_seq BETWEEN 0 AND 4294967295),
    meter_generation      smallint CHECK (meter_generation BETWEEN 0 AND 255),
    meter_read_at         timestamptz,
    FOREIGN KEY (customer_id, business_model) REFERENCES customer (id, business_model),
    UNIQUE (customer_id, generation),
    CHECK ((state = 'active') = (voided_at IS NULL)),
    CHECK ((state = 'active') = (void_reason IS NULL)),
    CHECK (state <> 'active' OR NOT blacklisted)
);
CREATE UNIQUE INDEX card_one_active_per_customer ON card (customer_id) WHERE state = 'active';
CREATE TRIGGER card_is_never_deleted BEFORE DELETE ON card
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- The journal of card writes (docs/card.md, "Card and ledger never disagree"): written pending
-- before the card is touched, marked done or failed after the read-back or on resolution.
CREATE TABLE card_operation (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id            bigint NOT NULL REFERENCES customer,
    card_id                bigint NOT NULL REFERENCES card,
    -- replace: the card being replaced (card_id is the new one).
    replaced_card_id       bigint REFERENCES card,
    kind                   text NOT NULL CHECK (kind IN ('open', 'recharge', 'refund', 'replace', 'recycle')),
    state                  text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    -- The purchase written by recharge/refund/replace (card purchase record bytes 1–8).
    purchase_seq           bigint CHECK (purchase_seq BETWEEN 1 AND 4294967295),
    volume_litres          bigint CHECK (volume_litres BETWEEN 0 AND 4294967295),
    -- The 32-byte records before and after: resolution compares the card with them, and undo
    -- knows what to put back.
    issue_record_before    bytea CHECK (length(issue_record_before) = 32),
    issue_record_after     bytea CHECK (length(issue_record_after) = 32),
    purchase_record_before bytea CHECK (length(purchase_record_before) = 32),
    purchase_record_after  bytea CHECK (length(purchase_record_after) = 32),
    -- The money movement this write belongs to; reversed if the write failed.
    transaction_id         bigint REFERENCES ledger_transaction,
    idempotency_key        text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    operator_id            bigint NOT NULL REFERENCES operator,
    started_at             timestamptz NOT NULL DEFAULT now(),
    finished_at            timestamptz,
    failure_reason         text,
    CHECK ((state = 'pending') = (finished_at IS NULL)),
    CHECK (state <> 'failed' OR failure_reason IS NOT NULL),
    CHECK ((kind = 'replace') = (replaced_card_id IS NOT NULL)),
    CHECK (kind NOT IN ('recharge', 'refund') OR purchase_seq IS NOT NULL),
    -- Resolving a pending operation needs to know what the card should now hold (recycle: zeros).
    CHECK (state <> 'pending' OR issue_record_after IS NOT NULL OR purchase_record_after IS NOT NULL)
);
-- A customer with a pending operation can do no other card operation until it is resolved.
CREATE UNIQUE INDEX card_operation_one_pending_per_customer ON card_operation (customer_id) WHERE state = 'pending';
-- Purchase sequence numbers are per customer and never reused.
CREATE UNIQUE INDEX card_operation_purchase_seq ON card_operation (customer_id, purchase_seq) WHERE kind = 'recharge';
CREATE INDEX card_operation_card ON card_operation (card_id);
