//! `tsunagi-server`: reads the configuration, opens storage and serves `tsunagi_server::app`.

use anyhow::Context;
use clap::Parser;
use tsunagi_server::config::{Args, Config};
use tsunagi_server::{AppState, app, load_or_create_identity, serve};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::resolve(Args::parse())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("creating {}", config.data.display()))?;
    let identity = load_or_create_identity(&config.data.join("server-identity.key"))?;
    let state = AppState::open(&config.backend, identity, config.settings.clone()).await?;
    if let Some(token) = state.bootstrap_token() {
        // Shown once; only its hash is stored. A restart before bootstrap makes a new one.
        println!("bootstrap token: {token}");
        tracing::info!("not bootstrapped yet: the one-time bootstrap token is on stdout");
    }
    let tls = match &config.tls {
        Some((cert, key)) => Some(serve::tls_config(cert, key)?),
        None => None,
    };
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(
        listen = %tcp.local_addr()?,
        tls = tls.is_some(),
        server_fingerprint = %state_fingerprint(&state),
        "tsunagi-server ready"
    );
    let header_timeout = config.settings.header_timeout;
    serve::serve(
        tcp,
        tls,
        app(state),
        header_timeout,
        serve::shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

fn state_fingerprint(state: &AppState) -> String {
    tsunagi_crypto::identity::fingerprint(&state.server_pub())
}
