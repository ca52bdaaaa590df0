//! `roster serve` and `roster token create`: the import API over HTTP on a store, and the API
//! tokens its callers present.
//!
//! The server keeps one engine handle on the main thread for its whole life, so that the last
//! handle is dropped there after the runtime is gone: dropping it stops a running import at its
//! next batch boundary, and the next `roster serve` on the same store resumes it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use roster_core::{Config, Engine, State};
use roster_http::{Limits, TokenAuthenticator, RUN_IMPORT};
use tokio::net::TcpListener;

use crate::cli::{open, DbArg, Failure};

/// The options of `roster serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArg,
    /// The address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// bcrypt cost for imported passwords.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
    bcrypt_cost: u32,
    /// Seconds that requests in flight may go on after Ctrl-C or SIGTERM before the server
    /// stops without them.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    shutdown_grace: u64,
    /// The largest request body accepted, in MiB; larger ones are answered 413.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_body_mib: u32,
}

/// The subcommands of `roster token`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make an API token for `roster serve` and print it; it cannot be shown again.
    Create {
        /// The user id the token belongs to (the `X-User-Id` header).
        #[arg(long = "user", value_name = "ID")]
        user_id: String,
        /// A permission the token holds; repeat for several. Without one the token
        /// authenticates but may not run imports.
        #[arg(long = "permission", value_name = "NAME")]
        permissions: Vec<String>,
        #[command(flatten)]
        db: DbArg,
    },
}

/// `roster serve`: answers the import API until Ctrl-C (or SIGTERM).
pub fn serve(args: ServeArgs) -> Result<ExitCode, Failure> {
    // An import found interrupted in the store resumes as soon as the engine opens.
    let config = Config { bcrypt_cost: args.bcrypt_cost, ..Config::default() };
    let engine = open(&args.db.path, config)?;
    let runtime = tokio::runtime::Runtime::new()?;

    let served = runtime.block_on(listen_and_serve(engine.clone(), &args));
    // Requests still open past the grace period are abandoned with their tasks.
    runtime.shutdown_timeout(Duration::from_secs(args.shutdown_grace));

    if running(&engine) {
        eprintln!("roster: the import stops at its next batch; `roster serve` resumes it");
    }
    drop(engine);
    served
}

async fn listen_and_serve(engine: Engine, args: &ServeArgs) -> Result<ExitCode, Failure> {
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::Other(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener.local_addr()?;

    let limits = Limits::default().with_max_body_bytes((args.max_body_mib as usize) << 20);
    let auth = Arc::new(TokenAuthenticator::new(engine.clone()));
    let app = roster_http::router(engine, auth, limits);

    // Scripts and tests read this line to learn the port when they asked for port 0.
    println!("roster: serving the import API at http://{address}/api/v1/ (Ctrl-C stops)");
    let grace = Duration::from_secs(args.shutdown_grace);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_requested().await;
        let _ = stop.send(true);
    });
    let requested = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(requested(stopped.clone()));
    // A client that stalls mid-request must not keep the server up: in-flight requests get
    // a grace period after the signal, then the server stops without them.
    tokio::select! {
        served = server => served?,
        () = async { requested(stopped).await; tokio::time::sleep(grace).await } => {
            eprintln!("roster: requests still open after {} s are dropped", grace.as_secs());
        }
    }
    eprintln!("roster: shutting down");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C, or on SIGTERM where there are signals.
async fn shutdown_requested() {
    let interrupt = async {
        // Without a handler there is no Ctrl-C to wait for; the server then runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => drop(term.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn running(engine: &Engine) -> bool {
    engine.status().is_ok_and(|s| s.state == State::Importing)
}

/// `roster token create`: prints the new token on stdout, alone on its line.
pub fn token(command: TokenCommand) -> Result<ExitCode, Failure> {
    let TokenCommand::Create { user_id, permissions, db } = command;
    let user_id = user_id.trim();
    if user_id.is_empty() {
        return Err(Failure::Other("--user must not be blank".to_owned()));
    }
    // A misspelt permission would make a token that silently cannot do anything.
    if let Some(unknown) = permissions.iter().find(|p| p.as_str() != RUN_IMPORT) {
        return Err(Failure::Other(format!(
            "unknown permission {unknown:?}; the one Roster checks is {RUN_IMPORT:?}"
        )));
    }

    // A token can be made while a server owns the store, so the store is opened shared.
    let engine = Engine::open_shared(&db.path, Config::default())
        .map_err(|e| Failure::Other(format!("cannot open {}: {e}", db.path.display())))?;
    let token = engine.create_token(user_id, &permissions)?;
    println!("{token}");
    eprintln!("roster: token made for {user_id}; only its digest is stored, so keep it now");
    Ok(ExitCode::SUCCESS)
}
