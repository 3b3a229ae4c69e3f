//! party-records: the records of a provincial party organisation committee (Ban Tổ chức Tỉnh
//! ủy) — party organisations, members, annual ratings, discipline, insignia — behind a REST API
//! with role-based access, on SQLite (embedded, the default) or PostgreSQL.
//!
//! Layers: `api` (HTTP: parse, authorise) → `store` (diesel: persist, scope in SQL) →
//! `domain` (pure types and rules). `db` holds the connection enum and the only place where the
//! two engines differ.

pub mod api;
pub mod auth;
pub mod bench;
pub mod client;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod import;
pub mod ops;
pub mod report;
pub mod store;
pub mod telemetry;
pub mod time;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpServer};

use crate::api::AppState;
use crate::auth::tokens::JwtKeys;
use crate::config::Settings;
use crate::db::{DbPool, PoolOptions};

/// A built server, bound to its port, not yet running (zero2prod's `Application`).
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
}

impl Application {
    /// Connects, migrates, binds. `settings.bind` may use port 0 for any free port.
    pub fn build(settings: &Settings) -> Result<Application, String> {
        let pool = db::build_pool(
            &settings.database_url,
            &PoolOptions {
                max_size: settings.pool_size,
                ..PoolOptions::default()
            },
        )?;
        {
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot connect to the database: {e}"))?;
            let applied = db::run_migrations(&mut conn)?;
            if applied > 0 {
                tracing::info!(applied, "migrations applied");
            }
        }
        let keys = Arc::new(JwtKeys::from_secret(&settings.jwt_secret)?);
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            keys,
            max_import_bytes: settings.max_import_bytes,
        });
        let max_body = settings.max_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(|cfg| api::configure(cfg, max_body))
                .wrap(ErrorHandlers::new().default_handler(api::problem::ensure_problem))
                .wrap(actix_web::middleware::from_fn(api::request_id::middleware))
        })
        .listen(listener)
        .map_err(|e| e.to_string())?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight (graceful).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
