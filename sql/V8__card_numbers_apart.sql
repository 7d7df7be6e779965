-- Card numbers started at 10000001: eight digits, the shape of a customer number. A card number
-- typed into the customer search was read as a customer number and, nine times in ten, refused
-- for its check digit. New cards are numbered from 100000001: nine digits or more, which the
-- search reads as digits (card number, phone prefix, meter prefix). Cards already issued keep
-- their numbers, and are still found when typed with a leading zero.
ALTER SEQUENCE card_no_seq START WITH 100000001;
SELECT setval('card_no_seq', 100000000) FROM card_no_seq WHERE last_value < 100000000;
