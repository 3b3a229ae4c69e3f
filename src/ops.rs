//! Operator commands that work on the database directly (no server): create a user (with its
//! audit event), verify the audit chain, take an online backup of a SQLite database.

use diesel::RunQueryDsl;

use crate::db::{self, DbConn, Engine};
use crate::error::Result;
use crate::store::audit::{self, Actor, Change};
use crate::store::users::{self, NewUser, User};

fn open(database_url: &str) -> std::result::Result<db::PooledConn, String> {
    let pool = db::build_pool(database_url, &db::PoolOptions::default())?;
    pool.get()
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

/// `create-user`: the user and its event ("command-line" as the actor), in one transaction.
pub fn create_user(conn: &mut DbConn, new: NewUser) -> Result<User> {
    db::write_transaction(conn, |conn| {
        let user = users::create(conn, new)?;
        let change = Change::new("user", &user.username, "create").after(&user);
        audit::append(conn, &Actor::command_line(), vec![change])?;
        Ok(user)
    })
}

/// `audit verify`: walks the chain; an error names the first break.
pub fn verify_audit(database_url: &str) -> std::result::Result<(), String> {
    let mut conn = open(database_url)?;
    let report = audit::verify(&mut conn).map_err(|e| e.to_string())?;
    match report.first_break {
        None => {
            println!(
                "The audit chain holds: {} event(s), the last {}.",
                report.verified, report.last_id
            );
            Ok(())
        }
        Some(b) => Err(format!(
            "the audit chain breaks at event {} ({}); {} event(s) before it verify",
            b.id, b.reason, report.verified
        )),
    }
}

/// `backup --to FILE`: a consistent copy of a SQLite database while the server runs
/// (`VACUUM INTO` reads one snapshot; writers go on meanwhile). PostgreSQL: pg_dump.
pub fn backup(database_url: &str, to: &std::path::Path) -> std::result::Result<(), String> {
    if Engine::of(database_url) == Engine::Postgres {
        return Err("for PostgreSQL use pg_dump -Fc (README, Operations)".into());
    }
    if to.exists() {
        return Err(format!("{} exists; name a new file", to.display()));
    }
    let mut conn = open(database_url)?;
    let target = to
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", to.display()))?;
    crate::db::sql_query(&conn, "VACUUM INTO $1")
        .bind::<diesel::sql_types::Text, _>(target)
        .execute(&mut *conn)
        .map_err(|e| format!("backup failed: {e}"))?;
    println!("Backed up to {}.", to.display());
    Ok(())
}

/// Keeps the yearly summaries of `first..=last` (`party-records summaries`): sets the window
/// and computes every summary row again from the records, in one transaction. For a database
/// that held members before summaries existed (its window is empty until then), or to keep
/// other years: reports of years outside the window are counted from the records.
pub fn summaries(database_url: &str, first: i32, last: i32) -> std::result::Result<(), String> {
    if first > last {
        return Err(format!("--from {first} is after --to {last}"));
    }
    let mut conn = open(database_url)?;
    let started = std::time::Instant::now();
    crate::store::summaries::rebuild(&mut conn, first, last)
        .map_err(|e| format!("the summaries could not be built: {e}"))?;
    println!(
        "Summaries of {first}–{last} built from the records in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
