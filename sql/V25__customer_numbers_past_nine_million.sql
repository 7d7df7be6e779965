-- Customer numbers past nine million (docs/decisions.md, src/domain/customer_number.rs): the
-- first nine million customers have 8-digit numbers (a 7-digit serial and a check digit), the
-- ones after them 10-digit numbers (a 9-digit serial). Existing numbers stay as they are.
--
-- customer_serial stays the one counter of issued numbers. Its values past 9 999 999 stand for
-- the long serials (10 000 000 for 100 000 000, and so on: CustomerNumber::from_sequence_value),
-- up to the last long serial whose number a card's 4-byte field still holds (4 294 967 283).
ALTER SEQUENCE customer_serial MAXVALUE 339496728;

ALTER TABLE customer DROP CONSTRAINT customer_customer_no_check;
ALTER TABLE customer ADD CONSTRAINT customer_customer_no_check
    CHECK (customer_no BETWEEN 10000000 AND 99999999
           OR customer_no BETWEEN 1000000000 AND 4294967295);
