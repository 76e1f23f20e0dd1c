//! The HTTP side: pages of the embedded web UI, the small JSON API, and session handling.

pub mod account;
pub mod api;
pub mod auth;
pub mod direct;
pub mod guest_limit;
pub mod pages;
pub mod webhooks;
