//! The store contract (`confab-store-conformance`), checked against PostgreSQL: each check is its
//! own test, in its own schema.

mod support;

confab_store_conformance::conformance_tests!(support::Postgres);
