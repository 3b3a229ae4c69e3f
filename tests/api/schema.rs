//! The two migration folders give the same schema: tables, columns, types (as far as the two
//! engines allow), nullability, unique keys and indexes. Runs when `TEST_DATABASE_URL` names a
//! PostgreSQL server (CI does both); a SQLite-only run checks the SQLite side is readable.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};
use party_records::db::{self, DbConn};

use crate::helpers::TestDb;

/// table → column → (type class, nullable)
type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;
/// table → set of "unique? (columns…)" descriptions of indexes and unique constraints.
type Indexes = BTreeMap<String, Vec<String>>;

fn type_class(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    let class = if t.contains("int") {
        "integer"
    } else if t.starts_with("timestamp") {
        "timestamp"
    } else if t == "date" {
        "date"
    } else if t.starts_with("bool") {
        "boolean"
    } else if t == "text" || t.starts_with("character") {
        "text"
    } else {
        return t;
    };
    class.to_string()
}

#[derive(QueryableByName)]
struct Col {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

#[derive(QueryableByName)]
struct Idx {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Nullable<Text>)]
    columns: Option<String>,
}

fn sqlite_schema(conn: &mut DbConn) -> (Columns, Indexes) {
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS nullable \
         FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap();
    // Every index, including the automatic ones behind UNIQUE and composite primary keys.
    let idx: Vec<Idx> = diesel::sql_query(
        "SELECT m.name AS table_name, l.\"unique\" AS is_unique, \
                (SELECT group_concat(name, ',') FROM (SELECT i.name FROM pragma_index_info(l.name) i ORDER BY i.seqno)) AS columns \
         FROM sqlite_master m, pragma_index_list(m.name) l \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap();
    collect(cols, idx, true)
}

fn postgres_schema(conn: &mut DbConn) -> (Columns, Indexes) {
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, \
                CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap();
    let idx: Vec<Idx> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, CASE WHEN ix.indisunique THEN 1 ELSE 0 END AS is_unique, \
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord) \
                 FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum)::text AS columns \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND t.relname <> '__diesel_schema_migrations'",
    )
    .load(conn)
    .unwrap();
    collect(cols, idx, false)
}

fn collect(cols: Vec<Col>, idx: Vec<Idx>, sqlite: bool) -> (Columns, Indexes) {
    let mut columns = Columns::new();
    for c in cols {
        columns
            .entry(c.table_name)
            .or_default()
            .insert(c.column_name, (type_class(&c.data_type), c.nullable == 1));
    }
    let mut indexes = Indexes::new();
    for i in idx {
        indexes
            .entry(i.table_name.clone())
            .or_default()
            .push(format!(
                "{}({})",
                if i.is_unique == 1 { "unique " } else { "" },
                i.columns.unwrap_or_default()
            ));
    }
    if sqlite {
        // SQLite's INTEGER PRIMARY KEY is the rowid and has no index of its own; PostgreSQL
        // indexes its single-column primary keys. Add those to compare like with like.
        for (table, cols) in &columns {
            let list = indexes.entry(table.clone()).or_default();
            if cols.contains_key("id") && !list.iter().any(|i| i == "unique (id)") {
                list.push("unique (id)".into());
            }
        }
    }
    for list in indexes.values_mut() {
        list.sort();
    }
    (columns, indexes)
}

fn migrated(url: &str) -> db::PooledConn {
    let pool = db::build_pool(url, &db::PoolOptions::default()).unwrap();
    let mut conn = pool.get().unwrap();
    db::run_migrations(&mut conn).unwrap();
    conn
}

#[test]
fn both_migration_sets_give_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = migrated(&format!("sqlite://{}", dir.path().join("s.db").display()));
    let (sqlite_cols, sqlite_idx) = sqlite_schema(&mut sqlite);
    assert!(sqlite_cols.contains_key("organizations"), "{sqlite_cols:?}");

    if crate::helpers::pg_url().is_none() {
        eprintln!("TEST_DATABASE_URL is not a PostgreSQL server: the parity half runs in the PostgreSQL pass");
        return;
    }
    let (_db, url) = TestDb::create();
    let mut pg = migrated(&url);
    let (pg_cols, pg_idx) = postgres_schema(&mut pg);
    assert_eq!(sqlite_cols, pg_cols, "columns differ between the engines");
    assert_eq!(
        sqlite_idx, pg_idx,
        "indexes and unique keys differ between the engines"
    );
}
