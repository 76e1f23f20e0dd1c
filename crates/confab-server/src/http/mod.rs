//! The HTTP side: pages of the embedded web UI, the small JSON API and its OpenAPI document, and
//! session handling.

pub mod account;
pub mod account_schema;
pub mod api;
pub mod auth;
pub mod direct;
pub mod direct_schema;
pub mod csrf;
pub mod guest_limit;
pub mod health;
pub mod openapi;
pub mod pages;
pub mod rooms;
pub mod webhooks;
pub mod rooms_schema;
