//! `party-records demo`: serves a database that holds a whole province. On an empty database
//! it first creates the demonstration's sign-in accounts and loads the generated data set the
//! way a script would: its files through `POST /api/v1/imports/{kind}` of the running server.

use std::time::Instant;

use super::dataset::DataSet;
use super::figures::Figures;
use crate::auth::password::hash_password;
use crate::auth::tokens::random_token;
use crate::config::Settings;
use crate::db::DbPool;
use crate::domain::Role;
use crate::{client, store, Application};

/// A sign-in account the demonstration created, with the password printed once.
struct Account {
    username: String,
    role: Role,
    scope: Option<String>,
    password: String,
}

pub fn run(settings: Settings, figures: &Figures, data: DataSet) -> Result<(), String> {
    let figures = figures.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        let host = settings
            .bind
            .rsplit_once(':')
            .map(|(h, _)| h)
            .filter(|h| *h != "0.0.0.0")
            .unwrap_or("127.0.0.1")
            .to_string();
        let base = format!("http://{host}:{}", app.port());
        let pool = app.pool().clone();
        let empty = {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            store::organizations::count(&mut conn).map_err(|e| e.to_string())? == 0
        };
        let server = actix_web::rt::spawn(app.run_until_stopped());
        let accounts = if empty {
            let (base, figures) = (base.clone(), figures.clone());
            actix_web::rt::task::spawn_blocking(move || load(&pool, &base, &figures, data))
                .await
                .map_err(|e| e.to_string())??
        } else {
            println!("The database holds records already: serving them as they are.");
            Vec::new()
        };
        banner(&base, &figures, &accounts);
        server
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    })
}

fn load(
    pool: &DbPool,
    base: &str,
    figures: &Figures,
    data: DataSet,
) -> Result<Vec<Account>, String> {
    let province = &figures.province.code;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let mut accounts = Vec::new();
    let mut loader = None;
    for (username, role) in [
        ("demo-admin", Role::Admin),
        ("demo-clerk", Role::Clerk),
        ("demo-inspector", Role::Inspector),
        ("demo-auditor", Role::Auditor),
    ] {
        let password = random_token(12);
        let scope = (role != Role::Admin).then(|| province.clone());
        // The scope organisation must exist before a scoped user: those come after the load.
        if scope.is_some() {
            accounts.push(Account {
                username: username.into(),
                role,
                scope,
                password,
            });
            continue;
        }
        crate::ops::create_user(
            &mut conn,
            store::users::NewUser {
                username: username.into(),
                password_hash: hash_password(&password),
                role,
                scope: None,
                active: true,
            },
        )
        .map_err(|e| format!("cannot create {username}: {e}"))?;
        let user_id = store::users::find_by_username(&mut conn, username)
            .map_err(|e| e.to_string())?
            .map(|u| u.id)
            .ok_or("the administrator vanished")?;
        let key = store::users::create_api_key(&mut conn, user_id, "demo loader", None)
            .map_err(|e| e.to_string())?;
        loader = Some((key.key.id, key.secret));
        accounts.push(Account {
            username: username.into(),
            role,
            scope: None,
            password,
        });
    }
    let (key_id, secret) = loader.expect("the administrator is created");

    let dir = std::env::temp_dir().join(format!("party-records-demo-{}", std::process::id()));
    let files = data
        .write_files(&dir)
        .map_err(|e| format!("cannot write the import files into {}: {e}", dir.display()))?;
    println!(
        "Loading the demonstration province {} through the bulk import:",
        figures.province.name
    );
    let started = Instant::now();
    let mut result = Ok(());
    for (kind, path) in &files {
        let kind = kind.as_str();
        let took = Instant::now();
        result = client::import(base, &secret, kind, path, false, "upsert").map_err(|e| match e {
            client::Failure::Rejected => format!("the server rejected rows of {kind}"),
            client::Failure::Usage(message) => message,
        });
        if result.is_err() {
            break;
        }
        eprintln!("  ({kind}: {:.1} s)", took.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
    store::users::revoke_api_key(&mut conn, key_id, None).map_err(|e| e.to_string())?;
    result?;
    println!("Loaded in {:.1} s.", started.elapsed().as_secs_f64());
    for account in accounts.iter().filter(|a| a.scope.is_some()) {
        crate::ops::create_user(
            &mut conn,
            store::users::NewUser {
                username: account.username.clone(),
                password_hash: hash_password(&account.password),
                role: account.role,
                scope: account.scope.clone(),
                active: true,
            },
        )
        .map_err(|e| format!("cannot create {}: {e}", account.username))?;
    }
    Ok(accounts)
}

fn banner(base: &str, figures: &Figures, accounts: &[Account]) {
    let province = &figures.province.code;
    let year = figures.year;
    println!();
    println!("party-records demonstration listening on {base}");
    if accounts.is_empty() {
        println!("Sign in with the accounts printed when the demonstration was first loaded.");
    } else {
        println!("Sign-in accounts (the passwords are shown this once):");
        for a in accounts {
            println!(
                "    {:<15} {:<10} {:<6} password: {}",
                a.username,
                a.role.as_str(),
                a.scope.as_deref().unwrap_or("all"),
                a.password
            );
        }
    }
    let user = accounts
        .first()
        .map(|a| a.username.as_str())
        .unwrap_or("demo-admin");
    let password = accounts.first().map(|a| a.password.as_str()).unwrap_or("…");
    println!();
    println!("Try:");
    println!(
        "    TOKEN=$(curl -s {base}/api/v1/auth/login -H 'content-type: application/json' \\\n         -d '{{\"username\":\"{user}\",\"password\":\"{password}\"}}' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')"
    );
    println!(
        "    curl -s '{base}/api/v1/reports/annual?organization={province}&year={year}' -H \"authorization: Bearer $TOKEN\""
    );
    println!(
        "    curl -s '{base}/api/v1/reports/annual?organization={province}&year={year}&format=text' -H \"authorization: Bearer $TOKEN\""
    );
    println!("API reference: {base}/docs");
}
