//! The Graph double's HTTP surface, one test binary (modules by area).

mod batch;
mod common;
mod issuer;
mod manager;
mod server;
mod throttle;
mod token;
mod users;
