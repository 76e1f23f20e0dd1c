-- Username keys by full Unicode case folding (straße and strasse are one name). The keys are
-- computed in Rust (confab_core::accounts::username::key), so this migration's work is its Rust
-- part, `rekey_usernames` in src/schema.rs, run in the same transaction: every stored key is
-- recomputed, oldest account first; an account whose new key another account already holds keeps
-- its old key (confab_core::accounts::username::rekey).
SELECT 1;
