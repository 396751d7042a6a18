//! Test harness: one real stack per test binary — `temporal server start-dev`, the built
//! `torghut-worker` and `torghut-gateway` — on free loopback ports, plus an SSE reader.
//!
//! Every process is started under a watchdog shell that kills it when the test process exits,
//! so a failed or interrupted run leaves nothing behind. [`clickhouse`] does the same for a
//! throwaway ClickHouse server, for the ClickHouse provider's tests.

pub mod alpaca_fake;
pub mod clickhouse;
pub mod edgar_fake;
pub mod histories;
pub mod openai_fake;
pub mod otlp_fake;
pub mod promql;
mod serve;
pub mod sse;

use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Stack {
    pub openai: openai_fake::FakeOpenAi,
    worker_env: Vec<(String, String)>,
    log: Logging,
    /// Watchdog pid of each running process, by name (`temporal`, `worker`, `gateway`).
    running: Mutex<HashMap<&'static str, u32>>,
    pub temporal_address: String,
    ui_port: u16,
    gateway_addr: String,
    /// The Temporal dev server's SQLite file: a restarted server resumes from it.
    pub temporal_db: PathBuf,
    /// The Temporal UI served by the dev server.
    pub ui_url: String,
    pub gateway_url: String,
    /// The worker's metrics and probes listener (`TORGHUT_WORKER_METRICS_LISTEN`).
    pub worker_metrics_url: String,
    pub namespace: String,
    pub log_dir: PathBuf,
    children: Mutex<Vec<Child>>,
}

/// How [`Stack::stop`] ends a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, then wait for the process to exit: a rollout or a drain.
    Graceful,
    /// SIGKILL: a crash or an OOM kill, with no chance to clean up.
    Kill,
}

/// How much the worker and the gateway of a [`Stack`] log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Logging {
    /// `debug` for our crates: what a failing test needs in the logs it prints. The default.
    #[default]
    Debug,
    /// `RUST_LOG` unset, so each binary logs at its own default (`info`, and `warn` for the
    /// Temporal SDK core), as `deploy/` runs them. For benchmarks: formatting and writing debug
    /// lines is CPU and latency that production does not spend, and the figures would count it.
    Production,
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// The calibration the test stacks' gateways run with unless a test's environment names another
/// (`("TORGHUT_CALIBRATION_FILE", "")` for the shipped one): a fixture with a positive
/// expectancy everywhere, so the pipeline's sizing, ledger and routing are exercised. The
/// shipped artifact finds no edge in the embedded data and holds on everything.
pub const TRADING_CALIBRATION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/calibration-trading.json"
);

/// The shared stack, started on first use.
pub fn stack() -> &'static Stack {
    stack_in(&STACK, &[])
}

/// A stack of a test binary's own, whose worker and gateway run with `worker_env` added to their
/// environment (e.g. `TORGHUT_FAULTS`, provider URLs: both read the provider settings).
pub fn stack_in(cell: &'static OnceLock<Stack>, worker_env: &[(&str, &str)]) -> &'static Stack {
    stack_with(cell, worker_env, Logging::Debug)
}

/// [`stack_in`] with the worker's and gateway's log level chosen: [`Logging::Production`] for a
/// benchmark.
pub fn stack_with(
    cell: &'static OnceLock<Stack>,
    worker_env: &[(&str, &str)],
    log: Logging,
) -> &'static Stack {
    cell.get_or_init(|| match Stack::start(worker_env, log) {
        Ok(s) => s,
        Err(e) => panic!("could not start the test stack: {e:#}"),
    })
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Directory of the workspace's built binaries (next to this test executable's `deps/`).
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("test executable has no target dir")
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("{what} not ready after {timeout:?}")
}

fn http_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

impl Stack {
    fn start(worker_env: &[(&str, &str)], log: Logging) -> Result<Self> {
        let bins = bin_dir()?;
        for b in ["torghut-worker", "torghut-gateway"] {
            if !bins.join(b).exists() {
                bail!(
                    "{} is not built; run `cargo build --workspace --bins` first (scripts/test.sh does)",
                    bins.join(b).display()
                );
            }
        }
        let log_dir = std::env::temp_dir().join(format!("torghut-it-{}", std::process::id()));
        std::fs::create_dir_all(&log_dir)?;
        let temporal_port = free_port()?;
        let ui_port = free_port()?;
        let gateway_port = free_port()?;
        let temporal_address = format!("127.0.0.1:{temporal_port}");
        let gateway_addr = format!("127.0.0.1:{gateway_port}");
        let openai = openai_fake::start()?;
        let stack = Stack {
            openai,
            worker_env: worker_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            log,
            running: Mutex::new(HashMap::new()),
            temporal_address,
            ui_port,
            gateway_url: format!("http://{gateway_addr}"),
            gateway_addr,
            temporal_db: log_dir.join("temporal.db"),
            worker_metrics_url: format!("http://127.0.0.1:{}", free_port()?),
            ui_url: format!("http://127.0.0.1:{ui_port}"),
            namespace: "default".into(),
            log_dir,
            children: Mutex::new(Vec::new()),
        };
        stack.start_temporal()?;
        stack.start_worker()?;
        stack.start_gateway()?;
        Ok(stack)
    }

    /// Starts the Temporal dev server (again, after [`Stack::stop`]) on the same ports and the
    /// same database file, and waits until it accepts connections.
    pub fn start_temporal(&self) -> Result<()> {
        let port = self
            .temporal_address
            .rsplit(':')
            .next()
            .context("temporal address has no port")?
            .to_owned();
        self.spawn(
            "temporal",
            Command::new("temporal").args([
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                &port,
                "--ui-port",
                &self.ui_port.to_string(),
                "--log-level",
                "warn",
                "--db-filename",
                &self.temporal_db.to_string_lossy(),
                "--search-attribute",
                "Symbol=Keyword",
                "--search-attribute",
                "StrategyId=Keyword",
                "--search-attribute",
                "DecisionAction=Keyword",
                "--search-attribute",
                "TradingMode=Keyword",
            ]),
        )?;
        wait_until("temporal", Duration::from_secs(60), || {
            TcpStream::connect(&self.temporal_address).is_ok()
        })
    }

    /// Starts a worker (again, after [`Stack::stop`]); its log is `worker.log`, appended.
    pub fn start_worker(&self) -> Result<()> {
        let bins = bin_dir()?;
        let mut cmd = Command::new(bins.join("torghut-worker"));
        cmd.env(
            "TEMPORAL_ADDRESS",
            format!("http://{}", self.temporal_address),
        )
        .env("TORGHUT_LLM_BASE_URL", &self.openai.base_url)
        .env("TORGHUT_LLM_API_KEY", openai_fake::FAKE_OPENAI_KEY)
        .env(
            "TORGHUT_WORKER_METRICS_LISTEN",
            self.worker_metrics_url.trim_start_matches("http://"),
        );
        self.set_log(
            &mut cmd,
            "debug,temporalio_sdk_core=info,h2=info,hyper=info,tonic=info,tower=info",
        );
        for (k, v) in &self.worker_env {
            cmd.env(k, v);
        }
        self.spawn("worker", &mut cmd)?;
        Ok(())
    }

    /// Starts the gateway (again, after [`Stack::stop`]) on the same address and waits until
    /// it is ready; its log is `gateway.log`, appended.
    pub fn start_gateway(&self) -> Result<()> {
        self.start_gateway_named("gateway", &self.gateway_addr)
    }

    /// Starts another gateway of this stack (same Temporal, same settings) as `name` on `addr`,
    /// e.g. a second replica behind a proxy, and waits until it is ready; its log is
    /// `<name>.log`. [`Stack::stop`] and [`Stack::pid`] take the same name.
    pub fn start_gateway_named(&self, name: &'static str, addr: &str) -> Result<()> {
        let bins = bin_dir()?;
        let mut cmd = Command::new(bins.join("torghut-gateway"));
        cmd.env(
            "TEMPORAL_ADDRESS",
            format!("http://{}", self.temporal_address),
        )
        .env("TORGHUT_GATEWAY_LISTEN", addr)
        .env("TORGHUT_SSE_HEARTBEAT_SECONDS", "5")
        .env("TORGHUT_LLM_TIMEOUT_SECONDS", "2")
        .env("TORGHUT_LLM_MAX_ATTEMPTS", "2")
        .env("TORGHUT_CALIBRATION_FILE", TRADING_CALIBRATION)
        .envs(
            self.worker_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        self.set_log(&mut cmd, "debug,h2=info,hyper=info,tonic=info,tower=info");
        self.spawn(name, &mut cmd)?;
        wait_until(&format!("{name} /readyz"), Duration::from_secs(60), || {
            http_ok(addr, "/readyz")
        })
    }

    /// Starts a helper process (a proxy, say) under the same watchdog as the stack's own, so it
    /// ends with the test; its output is `<name>.log`. Returns the watchdog's pid.
    pub fn start_process(&self, name: &'static str, cmd: &mut Command) -> Result<u32> {
        self.spawn(name, cmd)
    }

    /// `RUST_LOG` of the worker or gateway: `debug_filter` for tests, unset for a benchmark (also
    /// when the calling process has one, which the child would otherwise inherit).
    fn set_log(&self, cmd: &mut Command, debug_filter: &str) {
        match self.log {
            Logging::Debug => cmd.env("RUST_LOG", debug_filter),
            Logging::Production => cmd.env_remove("RUST_LOG"),
        };
    }

    /// The pid of a running process of the stack (`temporal`, `worker`, `gateway`), not of its
    /// watchdog: what a test signals, or reads `/proc` of.
    pub fn pid(&self, name: &str) -> Result<u32> {
        if !self
            .running
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .contains_key(name)
        {
            bail!("no {name} running");
        }
        // The watchdog writes its child's pid as soon as it has one. (Asking for the watchdog's
        // children instead can name its `sleep` once pids wrap around.)
        let pidfile = self.pidfile(name);
        let mut pid = None;
        wait_until(
            &format!("{name}'s pid file"),
            Duration::from_secs(10),
            || {
                pid = std::fs::read_to_string(&pidfile)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                pid.is_some()
            },
        )?;
        pid.with_context(|| format!("{} holds no pid", pidfile.display()))
    }

    fn pidfile(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.pid"))
    }

    /// Stops a process of the stack and waits (up to 30 s) until it is gone, so a restart can
    /// take its port.
    pub fn stop(&self, name: &str, how: Stop) -> Result<()> {
        let pid = self.pid(name)?;
        let signal = match how {
            Stop::Graceful => "-TERM",
            Stop::Kill => "-KILL",
        };
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill {signal} {pid} ({name}) failed");
        }
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        wait_until(
            &format!("{name} ({pid}) to exit"),
            Duration::from_secs(30),
            || {
                // A zombie is gone for our purposes: its ports are closed.
                std::fs::read_to_string(proc_dir.join("stat"))
                    .map(|stat| stat.contains(") Z "))
                    .unwrap_or(true)
            },
        )?;
        self.running
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .remove(name);
        Ok(())
    }

    /// SIGKILLs the worker process (not its watchdog): a crash, with no chance to clean up.
    pub fn kill_worker(&self) -> Result<()> {
        self.stop("worker", Stop::Kill)
    }

    /// Starts `cmd` under a watchdog that kills it once this test process is gone; returns the
    /// watchdog's pid.
    fn spawn(&self, name: &'static str, cmd: &mut Command) -> Result<u32> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("{name}.log")))?;
        let program = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let envs: Vec<_> = cmd
            .get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
            .collect();
        let pidfile = self.pidfile(name);
        match std::fs::remove_file(&pidfile) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).context("removing a stale pid file");
            }
            _ => {}
        }
        // Variables `cmd` removes must be removed from the watchdog too, or it passes them on.
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_owned())
            .collect();
        let watchdog = r#"parent=$1; pidfile=$2; shift 2; "$@" & child=$!
echo "$child" > "$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null; sleep 1; kill -9 "$child" 2>/dev/null; wait"#;
        let mut watchdog_cmd = Command::new("bash");
        for k in removed {
            watchdog_cmd.env_remove(k);
        }
        let child = watchdog_cmd
            .arg("-c")
            .arg(watchdog)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(&pidfile)
            .arg(program)
            .args(args)
            .envs(envs)
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {name}"))?;
        let pid = child.id();
        self.running
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(name, pid);
        self.children
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(child);
        Ok(pid)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway_url)
    }

    /// A Temporal client for checks through the Temporal API.
    pub async fn temporal(&self) -> Result<temporalio_client::Client> {
        use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
        let url = url::Url::parse(&format!("http://{}", self.temporal_address))?;
        let conn = Connection::connect(ConnectionOptions::new(url).build()).await?;
        Ok(Client::new(
            conn,
            ClientOptions::new(self.namespace.clone()).build(),
        )?)
    }

    /// How many workflows match a visibility query (e.g. `StrategyId = 'x'`).
    pub async fn count_workflows(&self, query: &str) -> Result<usize> {
        Ok(self
            .temporal()
            .await?
            .count_workflows(
                query.to_owned(),
                temporalio_client::WorkflowCountOptions::default(),
            )
            .await?
            .count())
    }

    /// Visibility (search attributes) trails the runs by a moment: polls until the count is
    /// `expected` or 15 s pass, and returns the last count.
    pub async fn settled_count(&self, query: &str, expected: usize) -> Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let n = self.count_workflows(query).await?;
            if n == expected || Instant::now() > deadline {
                return Ok(n);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// A run's Temporal history as JSON text (what `decisionctl history` exports).
    pub async fn history_json(&self, workflow_id: &str) -> Result<String> {
        let bytes = self
            .temporal()
            .await?
            .get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id.to_owned())
            .fetch_history(Default::default())
            .to_json()
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// The sample request with a fresh `request_id`.
pub fn sample_request() -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../scripts/sample-request.json"))
            .unwrap_or_else(|e| panic!("sample-request.json is not JSON: {e}"));
    v["request_id"] = serde_json::Value::String(uuid::Uuid::new_v4().to_string());
    v
}
