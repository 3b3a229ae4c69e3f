//! `db::savepoint`, on the real engine: the savepoint around one attempt (a bulk import's row)
//! is closed whether the attempt succeeds or fails. A failed one that stayed open kept every
//! later row nested inside it (see `db::roll_back`). And the vacuum after a bulk write, which
//! must leave a caller's open transaction alone.

use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use party_records::db::{self, DbConn};

use crate::helpers::TestDb;

fn count(conn: &mut DbConn) -> Result<i64, DieselError> {
    diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT count(*) FROM attempts)",
    ))
    .get_result(conn)
}

/// A fresh database with an empty table `attempts`, and a connection to it.
fn with_attempts() -> (TestDb, db::PooledConn) {
    let (test_db, url) = TestDb::create();
    let pool = db::build_pool(&url, &Default::default()).expect("pool");
    let mut conn = pool.get().expect("connection");
    conn.batch_execute("CREATE TABLE attempts (n INTEGER NOT NULL)")
        .expect("table");
    (test_db, conn)
}

#[test]
fn a_failed_savepoint_is_rolled_back_and_closed() {
    let (_db, mut conn) = with_attempts();

    let outcome: Result<(), DieselError> = db::write_transaction(&mut conn, |conn| {
        for n in 0..3 {
            let failed: Result<(), DieselError> = db::savepoint(conn, |conn| {
                conn.batch_execute(&format!("INSERT INTO attempts VALUES ({n})"))?;
                Err(DieselError::RollbackTransaction)
            });
            assert!(failed.is_err());
        }
        db::savepoint(conn, |conn| {
            conn.batch_execute("INSERT INTO attempts VALUES (9)")
        })?;
        assert_eq!(
            count(conn)?,
            1,
            "only the attempt that succeeded is written"
        );
        // Each attempt ran as `diesel_savepoint_1`. None is left open to release.
        let release = conn.batch_execute("RELEASE SAVEPOINT diesel_savepoint_1");
        assert!(
            release.is_err(),
            "a failed attempt's savepoint was left open around the later ones"
        );
        Err(DieselError::RollbackTransaction)
    });
    assert!(matches!(outcome, Err(DieselError::RollbackTransaction)));
    assert_eq!(
        count(&mut conn).expect("count"),
        0,
        "the transaction rolled back"
    );
}

#[test]
fn the_vacuum_after_a_bulk_write_leaves_an_open_transaction_usable() {
    let (_db, mut conn) = with_attempts();
    let outcome: Result<i64, DieselError> = db::write_transaction(&mut conn, |conn| {
        conn.batch_execute(
            "INSERT INTO attempts SELECT n FROM (WITH RECURSIVE s(n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) SELECT n FROM s) AS s",
        )?;
        // 2,000 rows into a table never analysed: due, were it not inside a transaction.
        db::vacuum_after_bulk_write(conn, &["attempts"], 2000)?;
        count(conn)
    });
    assert_eq!(outcome.expect("the transaction goes on"), 2000);
    assert_eq!(count(&mut conn).expect("count"), 2000, "and commits");
}
