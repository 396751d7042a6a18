//! `torghut-worker`: polls the decision task queue and runs `decision-workflow` and its skills.
//!
//! Configuration is the environment plus an optional TOML file (see docs/configuration.md); a
//! bad value stops the worker at start with the variable's name (and the file key, when the
//! value came from the file), rather than failing the first decision.

mod probes;
mod sdk_metrics;
mod settings;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use settings::WorkerSettings;
use std::path::PathBuf;
use temporalio_client::{Client, Connection};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use torghut_config::Binary;
use torghut_workflows::{DecisionWorkflow, ExposureLedger, IntradayLoop, MarketContextWorkflow};

#[derive(Parser)]
#[command(
    name = "torghut-worker",
    version,
    about = "The Temporal worker of the Torghut decision engine: its workflows and skill activities."
)]
struct Cli {
    /// TOML config file (default: $TORGHUT_CONFIG_FILE, if set); a variable set in the
    /// environment wins over its key.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Load and validate the configuration (providers included), print every setting with its
    /// source (secrets as <set>/<unset>), and exit: 0 when it is valid. Does not connect to
    /// Temporal or to any provider.
    #[arg(long)]
    check_config: bool,
}

/// Configuration first, while the process has one thread (see `export_to_env`); then the
/// runtime, which `#[tokio::main]` would have started before any of it.
fn main() -> Result<()> {
    let cli = Cli::parse();
    let file = torghut_config::config_file_path(cli.config);
    let config = torghut_config::Config::load(Binary::Worker, file.as_deref())?;
    // SAFETY: no other thread exists yet: argument parsing and the loader start none, and the
    // tokio runtime is built below.
    unsafe { config.export_to_env() };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(async {
            // Logs, and trace export when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when
            // dropped, after the worker has drained.
            let telemetry =
                torghut_telemetry::init("torghut-worker", "info,temporalio_sdk_core=warn")?;
            let settings = WorkerSettings::from_env()
                .map_err(|e| anyhow!(config.explain(&format!("{e:#}"))))?;
            if cli.check_config {
                println!("torghut-worker: configuration is valid");
                print!("{}", config.report());
                return Ok(());
            }
            run(settings, &telemetry).await
        })
}

async fn run(settings: WorkerSettings, telemetry: &torghut_telemetry::Telemetry) -> Result<()> {
    let WorkerSettings {
        temporal,
        task_queue,
        skills,
        metrics_listen,
    } = settings;
    let address = temporal.describe();
    let namespace = temporal.namespace.clone();
    let llm_configured = skills.llm.is_some();
    // The SDK's metrics only where they can be scraped: with the listener off, no exporter.
    let sdk_metrics = match metrics_listen {
        Some(_) => Some(sdk_metrics::SdkMetrics::start()?),
        None => None,
    };
    let runtime_options = match &sdk_metrics {
        Some(sdk) => RuntimeOptions::builder()
            .telemetry_options(sdk.telemetry_options())
            .build()
            .map_err(|e| anyhow!("the Temporal SDK runtime's options: {e}"))?,
        None => RuntimeOptions::default(),
    };
    let mut connection_options = temporal.connection_options();
    if let Some(sdk) = &sdk_metrics {
        connection_options.metrics_meter = sdk.client_meter()?;
    }
    let probes = probes::Probes::new(skills.metrics.clone(), sdk_metrics);
    // Listening before connecting: liveness answers while the worker connects, and readiness
    // says it is not polling yet.
    match metrics_listen {
        Some(addr) => probes::serve(addr, probes.clone()).await?,
        None => tracing::info!("{} is off: no metrics or probes", probes::LISTEN_VAR),
    }

    let runtime = Runtime::from_current_tokio(runtime_options)?;
    let connection = Connection::connect(connection_options)
        .await
        .with_context(|| format!("connecting to Temporal at {address}"))?;
    let client = Client::new(
        connection,
        telemetry.temporal_client_options(namespace.clone()),
    )?;
    let options = WorkerOptions::new(task_queue.clone())
        .register_workflow::<DecisionWorkflow>()?
        .register_workflow::<ExposureLedger>()?
        .register_workflow::<MarketContextWorkflow>()?
        .register_workflow::<IntradayLoop>()?
        .register_activities(skills)
        .build();
    let mut worker = Worker::new(&runtime, client.clone(), options)?;
    tracing::info!(%address, %namespace, %task_queue, llm_configured, "worker polling");
    // On SIGTERM/SIGINT stop polling and let in-flight activities finish; `run` returns when
    // they have (Kubernetes' grace period bounds how long that may take).
    let shutdown = worker.shutdown_handle();
    let stopping = probes.clone();
    tokio::spawn(async move {
        torghut_connect::stop_signal().await;
        tracing::info!("shutting down: no new tasks, draining in-flight activities");
        stopping.stopping();
        shutdown();
    });
    probes.polling(client);
    worker.run().await?;
    tracing::info!("worker drained and stopped");
    Ok(())
}
