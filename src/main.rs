//! The `party-records` command: serve (the default), migrate, create-user, openapi, bench,
//! and the clients of a running server: import, export.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use party_records::auth::password::hash_password;
use party_records::config::{self, Settings};
use party_records::domain::{text, Role};
use party_records::{client, db, store, telemetry, Application};

#[derive(Parser)]
#[command(
    name = "party-records",
    version,
    about = "Records of a provincial party organisation committee"
)]
struct Cli {
    /// Database: sqlite://path (embedded, the default) or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", default_value = config::DEFAULT_DATABASE_URL, global = true)]
    database_url: String,

    #[command(flatten)]
    serve: ServeArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = config::DEFAULT_BIND, global = true)]
    bind: String,
    /// File holding the JWT signing secret (at least 32 bytes). `JWT_SECRET` may hold it instead.
    #[arg(long, env = "JWT_SECRET_FILE", global = true)]
    jwt_secret_file: Option<PathBuf>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    max_body_bytes: usize,
    /// Largest accepted bulk import body, in bytes (streamed: bounds time, not memory).
    #[arg(long, env = "MAX_IMPORT_BYTES", default_value_t = 4 * 1024 * 1024 * 1024, global = true)]
    max_import_bytes: u64,
    /// Database connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10, global = true)]
    pool_size: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", global = true)]
    workers: Option<usize>,
}

/// Where the server is and who is calling, for `import` and `export`.
#[derive(Args)]
struct Remote {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(
        long,
        env = "PARTY_RECORDS_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// An access token or an API key (prk_…).
    #[arg(long, env = "PARTY_RECORDS_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create a user; the password is read from a prompt or, with --password-stdin, stdin.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Code of the scope organisation (required for every role but admin).
        #[arg(long)]
        scope: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print the OpenAPI description of the API.
    Openapi,
    /// Keep the annual report's yearly summaries for the years `--from`..=`--to`, computed
    /// again from the records (a database that held members before summaries existed keeps
    /// none until this runs; reports of other years are counted from the records).
    Summaries {
        #[arg(long, default_value_t = party_records::domain::summary::DEFAULT_WINDOW.first)]
        from: i32,
        #[arg(long, default_value_t = party_records::domain::summary::DEFAULT_WINDOW.last)]
        to: i32,
    },
    /// The audit trail: `audit verify` walks the hash chain and reports the first break.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy a SQLite database consistently while the server runs (`VACUUM INTO`); for
    /// PostgreSQL use pg_dump (README, Operations).
    Backup {
        /// The new file (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Send a file to a running server's bulk import (exit 0: imported; 1: rows rejected,
    /// printed as a table; 2: usage or connection error).
    Import {
        /// organizations, members, positions, transfers, member-ratings, organization-ratings,
        /// disciplinary-actions, insignia-awards or admission-targets.
        #[arg(long)]
        kind: String,
        /// The file: .csv, .json (an array of objects) or .ndjson.
        file: PathBuf,
        /// Check every row and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// upsert (the default) or insert (existing keys are errors).
        #[arg(long, default_value = "upsert")]
        mode: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Fetch a kind of record from a running server, in the import's columns.
    Export {
        #[arg(long)]
        kind: String,
        /// Only this organisation's subtree.
        #[arg(long)]
        under: Option<String>,
        /// csv, json or ndjson.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Serve the demonstration: on an empty database, first load a generated province whose
    /// records reproduce the Hậu Giang 2024 report (through the bulk import), create sign-in
    /// accounts and print them once.
    Demo {
        /// Write the data set's import files (`<kind>.csv`) into this folder and exit.
        #[arg(long, value_name = "DIR")]
        write_files: Option<PathBuf>,
        /// The generator's seed: the same seed gives the same files, byte for byte.
        #[arg(long, default_value_t = party_records::demo::DEFAULT_SEED)]
        seed: u64,
        /// Another report's figures (JSON in the shape of `demo::figures::Figures`).
        #[arg(long, value_name = "FILE")]
        figures: Option<PathBuf>,
    },
    /// Load a generated province into a fresh database and time the workloads (BENCHMARKS.md).
    Bench {
        /// province (the demonstration's) or national (34 provinces, 5.3 million members).
        #[arg(long, default_value = "province")]
        scale: String,
        /// sqlite or postgres.
        #[arg(long, default_value = "sqlite")]
        db: String,
        /// The PostgreSQL server to create the benchmark database on.
        #[arg(long)]
        url: Option<String>,
        /// Requests per workload.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        #[arg(long, default_value_t = 2024)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain; exit 1 at a break.
    Verify,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("expected one of: {}", Role::codes()))
}

fn main() -> ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.database_url, &cli.serve),
        Command::Migrate => migrate(&cli.database_url),
        Command::CreateUser {
            username,
            role,
            scope,
            password_stdin,
        } => create_user(&cli.database_url, &username, role, scope, password_stdin),
        Command::Bench {
            scale,
            db,
            url,
            iterations,
            seed,
        } => bench(&scale, &db, url, iterations, seed),
        Command::Demo {
            write_files,
            seed,
            figures,
        } => demo(&cli.database_url, &cli.serve, write_files, seed, figures),
        Command::Audit {
            command: AuditCommand::Verify,
        } => party_records::ops::verify_audit(&cli.database_url),
        Command::Backup { to } => party_records::ops::backup(&cli.database_url, &to),
        Command::Summaries { from, to } => {
            party_records::ops::summaries(&cli.database_url, from, to)
        }
        Command::Openapi => {
            print!("{}", party_records::api::openapi_yaml());
            Ok(())
        }
        Command::Import {
            kind,
            file,
            dry_run,
            mode,
            remote,
        } => {
            return client_exit(client::import(
                &remote.server,
                &remote.token,
                &kind,
                &file,
                dry_run,
                &mode,
            ))
        }
        Command::Export {
            kind,
            under,
            format,
            output,
            remote,
        } => {
            return client_exit(client::export(
                &remote.server,
                &remote.token,
                &kind,
                under.as_deref(),
                &format,
                output.as_deref(),
            ))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn client_exit(result: Result<(), client::Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(client::Failure::Rejected) => ExitCode::from(1),
        Err(client::Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn settings(database_url: &str, args: &ServeArgs) -> Result<Settings, String> {
    Ok(Settings {
        database_url: database_url.to_string(),
        bind: args.bind.clone(),
        jwt_secret: config::load_jwt_secret(
            std::env::var("JWT_SECRET").ok(),
            args.jwt_secret_file.clone(),
        )?,
        max_body_bytes: args.max_body_bytes,
        max_import_bytes: args.max_import_bytes,
        pool_size: args.pool_size,
        workers: args.workers,
    })
}

fn serve(database_url: &str, args: &ServeArgs) -> Result<(), String> {
    let settings = settings(database_url, args)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        let users = {
            let mut conn = app.pool().get().map_err(|e| e.to_string())?;
            store::users::count(&mut conn).map_err(|e| e.to_string())?
        };
        let host = settings.bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        println!("party-records listening on http://{host}:{}", app.port());
        println!("database: {}", redact(&settings.database_url));
        if users == 0 {
            println!("No user exists yet. Create the first administrator with:");
            println!("    party-records create-user --username admin --role admin");
            println!("(from a source checkout: cargo run --release -- create-user --username admin --role admin)");
        } else {
            println!(
                "Sign in: POST http://{host}:{}/api/v1/auth/login with {{\"username\", \"password\"}}",
                app.port()
            );
        }
        println!("API description: http://{host}:{}/openapi.yaml", app.port());
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn demo(
    database_url: &str,
    args: &ServeArgs,
    write_files: Option<PathBuf>,
    seed: u64,
    figures: Option<PathBuf>,
) -> Result<(), String> {
    use party_records::demo::{dataset::DataSet, figures::Figures};
    let figures = match figures {
        None => Figures::hau_giang_2024(),
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    let data = DataSet::generate(seed, &figures)?;
    if let Some(dir) = write_files {
        for (_, path) in data
            .write_files(&dir)
            .map_err(|e| format!("cannot write into {}: {e}", dir.display()))?
        {
            println!("{}", path.display());
        }
        return Ok(());
    }
    // The demonstration keeps out of the default database, where real records may be.
    let database_url = if database_url == config::DEFAULT_DATABASE_URL {
        party_records::demo::DEMO_DATABASE_URL
    } else {
        database_url
    };
    party_records::demo::serve::run(settings(database_url, args)?, &figures, data)
}

fn bench(
    scale: &str,
    db: &str,
    url: Option<String>,
    iterations: usize,
    seed: u64,
) -> Result<(), String> {
    let scale = match scale {
        "province" => party_records::bench::Scale::Province,
        "national" => party_records::bench::Scale::National,
        other => return Err(format!("--scale is province or national, not {other}")),
    };
    let engine = match db {
        "sqlite" => party_records::db::Engine::Sqlite,
        "postgres" => party_records::db::Engine::Postgres,
        other => return Err(format!("--db is sqlite or postgres, not {other}")),
    };
    let report = party_records::bench::run(party_records::bench::Options {
        engine,
        scale,
        server_url: url,
        iterations,
        seed,
    })?;
    print!("{report}");
    Ok(())
}

/// The URL without a password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme_end + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn connect(database_url: &str) -> Result<db::PooledConn, String> {
    let pool = db::build_pool(database_url, &db::PoolOptions::default())?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

fn migrate(database_url: &str) -> Result<(), String> {
    let pool = db::build_pool(database_url, &db::PoolOptions::default())?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let applied = db::run_migrations(&mut conn)?;
    println!("{applied} migration(s) applied; the database is current.");
    Ok(())
}

fn create_user(
    database_url: &str,
    username: &str,
    role: Role,
    scope: Option<String>,
    password_stdin: bool,
) -> Result<(), String> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err("no terminal to ask for the password; use --password-stdin".into());
        }
        let first = rpassword::prompt_password(format!("Password for {username}: "))
            .map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Repeat it: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the two passwords differ".into());
        }
        first
    };
    if password.chars().count() < 12 {
        return Err("the password must be at least 12 characters long".into());
    }
    let mut conn = connect(database_url)?;
    let user = party_records::ops::create_user(
        &mut conn,
        store::users::NewUser {
            username: text::normalize(username).to_lowercase(),
            password_hash: hash_password(&password),
            role,
            scope: scope.map(|s| text::normalize(&s)),
            active: true,
        },
    )
    .map_err(|e| match e {
        party_records::error::Error::Unprocessable(errors) => errors
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    })?;
    println!(
        "Created {} ({}{}).",
        user.username,
        user.role,
        user.scope
            .map(|s| format!(", scope {s}"))
            .unwrap_or_default()
    );
    Ok(())
}
