//! Black-box tests: the real server on a random port, a fresh database per test (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` names one), HTTP only.

mod access_matrix;
mod annual;
mod api_keys;
mod audit;
mod auth;
mod backup;
mod bulk;
mod cli;
mod concurrency;
mod demo;
mod earlier_ratings;
mod errors;
mod hardening;
mod helpers;
mod member_search;
mod members;
mod openapi;
mod organizations;
mod outage;
mod rules_doc;
mod savepoints;
mod schema;
mod stats;
mod summaries;
mod users;
mod whole_party;
