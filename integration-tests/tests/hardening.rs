//! What an adversarial run found (issue 17), on a real stack with scoped tokens: input that
//! used to panic, odd encodings, non-JSON bodies, equivalent retries, token scopes, the cost of a
//! `/triggers` call, and a flood of idle connections.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;
use torghut_integration_tests::{Stack, sample_request, sse, stack_in};

/// Operator tokens, one per test: the rate limit (12 a minute) is per token.
fn ops(n: usize) -> String {
    format!("tok-ops-{n}-0c1d2e3f4a5b")
}
const CLIENT_A: &str = "tok-client-a-9f8e7d6c5b4a";
const CLIENT_B: &str = "tok-client-b-1a2b3c4d5e6f";
const TRIGGERS: &str = "tok-triggers-77aa88bb99cc";
const COSTLY: &str = "tok-costly-3c3c4d4d5e5e";
const LEGACY: &str = "tok-legacy-abcdefabcdef";

/// Connections one client address may hold: the flood test opens more from another address.
const PER_PEER: usize = 40;

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    stack_in(
        &STACK,
        &[
            ("TORGHUT_API_TOKENS", &TOKENS),
            ("TORGHUT_RATE_LIMIT_PER_MINUTE", "12"),
            ("TORGHUT_GATEWAY_HEADER_READ_TIMEOUT_SECONDS", "3"),
            ("TORGHUT_GATEWAY_MAX_CONNECTIONS_PER_PEER", "40"),
        ],
    )
}

static TOKENS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let operators: String = (0..10)
        .map(|n| format!("ops-{n}:{} role=operator\n", ops(n)))
        .collect();
    format!(
        "{operators}client-a:tok-client-a-9f8e7d6c5b4a role=client accounts=acct-a strategies=alpha-*\n\
                 client-b:tok-client-b-1a2b3c4d5e6f role=client accounts=acct-b,acct-b2 strategies=*\n\
                 triggers:tok-triggers-77aa88bb99cc role=client accounts=acct-t1,acct-t2 strategies=trig-*\n\
                 costly:tok-costly-3c3c4d4d5e5e role=client accounts=* strategies=*\n\
                 legacy:tok-legacy-abcdefabcdef"
    )
});

const BASE: &str = "/api/torghut/decision-engine";

fn request(account: &str, strategy: &str) -> Value {
    let mut r = sample_request();
    r["account_id"] = json!(account);
    r["strategy_id"] = json!(strategy);
    r
}

async fn post_json(path: &str, token: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(stack().url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("gateway")
}

async fn get(path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(stack().url(path))
        .bearer_auth(token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("gateway answers")
}

/// The JSON error envelope of a refusal, with its status checked.
async fn refusal(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status, "{:?}", resp.url().path());
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body
}

#[tokio::test]
async fn a_last_event_id_past_every_event_is_a_named_refusal_not_a_dropped_connection() {
    let op = ops(0);
    let body = request("acct-a", "alpha-1");
    let started = post_json(&format!("{BASE}/runs"), &op, &body).await;
    assert_eq!(started.status().as_u16(), 202);
    let id = body["request_id"].as_str().expect("id");
    let events = format!("{BASE}/runs/{id}/events");
    let resp = reqwest::Client::new()
        .get(stack().url(&events))
        .bearer_auth(&op)
        .header("Last-Event-ID", "18446744073709551615")
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let err = refusal(resp, 422).await;
    assert_eq!(err["error"]["field"], "Last-Event-ID", "{err}");
    let err = refusal(
        get(&format!("{events}?last_event_id=18446744073709551615"), &op).await,
        422,
    )
    .await;
    assert_eq!(err["error"]["field"], "last_event_id", "{err}");
    // The largest id that has a next one is accepted (and, past the log, waits for nothing
    // that will come: the stream ends with the run).
    let resp = reqwest::Client::new()
        .get(stack().url(&format!("{events}?last_event_id=18446744073709551614")))
        .bearer_auth(&op)
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn an_out_of_range_decimal_is_a_422_naming_the_field_and_starts_nothing() {
    let op = ops(1);
    for (raw, field) in [
        (json!("-5e27"), "portfolio.position.qty"),
        (
            json!("79228162514264337593543950335"),
            "portfolio.position.qty",
        ),
        (json!("1_0_0_0"), "portfolio.position.qty"),
    ] {
        let mut body = request("acct-a", "alpha-1");
        body["portfolio"]["position"]["qty"] = raw.clone();
        let err = refusal(post_json(&format!("{BASE}/runs"), &op, &body).await, 422).await;
        assert_eq!(err["error"]["field"], field, "{raw}: {err}");
        let id = body["request_id"].as_str().expect("id");
        let missing = get(&format!("{BASE}/runs/{id}"), &op).await;
        assert_eq!(missing.status().as_u16(), 404, "{raw}: nothing started");
    }
    // A number at or above 2^64 keeps its digits, so it is judged by its value: out of range.
    let text = request("acct-a", "alpha-1").to_string().replacen(
        "\"qty\":\"10\"",
        "\"qty\":18446744073709551617",
        1,
    );
    assert!(text.contains("18446744073709551617"));
    let resp = reqwest::Client::new()
        .post(stack().url(&format!("{BASE}/runs")))
        .bearer_auth(&op)
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .expect("gateway");
    let err = refusal(resp, 422).await;
    assert_eq!(err["error"]["field"], "portfolio.position.qty", "{err}");
    assert!(
        err["error"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("18446744073709551617")),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_415_and_starts_nothing() {
    let op = ops(2);
    for ctype in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let body = request("acct-a", "alpha-1");
        let mut req = reqwest::Client::new()
            .post(stack().url(&format!("{BASE}/runs")))
            .bearer_auth(&op)
            .body(body.to_string());
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        let err = refusal(req.send().await.expect("gateway"), 415).await;
        assert_eq!(err["error"]["code"], "unsupported_media_type", "{ctype:?}");
        let id = body["request_id"].as_str().expect("id");
        assert_eq!(
            get(&format!("{BASE}/runs/{id}"), &op)
                .await
                .status()
                .as_u16(),
            404,
            "{ctype:?}: nothing started"
        );
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let resp = reqwest::Client::new()
            .get(stack().url("/openapi.json"))
            .header("authorization", format!("{scheme} {LEGACY}"))
            .send()
            .await
            .expect("gateway");
        assert_eq!(resp.status().as_u16(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn odd_paths_and_query_strings_answer_in_the_json_envelope() {
    let op = ops(3);
    let id = uuid::Uuid::new_v4();
    for (path, status, field) in [
        (format!("{BASE}/runs/%FF%FE"), 400, None),
        (format!("{BASE}/runs/{id}?verbose=1"), 422, Some("verbose")),
        (
            format!("{BASE}/runs/{id}/events?last_event_id=1&last_event_id=2"),
            422,
            Some("last_event_id"),
        ),
        (
            format!("{BASE}/runs/{id}/events?last_eventid=1"),
            422,
            Some("last_eventid"),
        ),
        (format!("{BASE}/nope"), 404, None),
    ] {
        let err = refusal(get(&path, &op).await, status).await;
        if let Some(field) = field {
            assert_eq!(err["error"]["field"], field, "{path}: {err}");
        }
    }
    let wrong_method = reqwest::Client::new()
        .delete(stack().url(&format!("{BASE}/runs/{id}")))
        .bearer_auth(&op)
        .send()
        .await
        .expect("gateway");
    let err = refusal(wrong_method, 405).await;
    assert_eq!(err["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn control_characters_in_strategy_id_are_refused() {
    let op = ops(4);
    for bad in ["alpha-\u{0}x", "alpha-\r\nInjected: x"] {
        let body = request("acct-a", bad);
        let err = refusal(post_json(&format!("{BASE}/runs"), &op, &body).await, 422).await;
        assert_eq!(err["error"]["field"], "strategy_id", "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn equivalent_retries_join_the_run() {
    let op = ops(5);
    let body = request("acct-a", "alpha-1");
    let first = post_json(&format!("{BASE}/runs"), &op, &body).await;
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.expect("json");
    let upper = body["request_id"]
        .as_str()
        .expect("id")
        .to_ascii_uppercase();
    let mut padded = body.clone();
    padded["strategy_id"] = json!("  alpha-1  ");
    let mut explicit = body.clone();
    explicit["deadline_seconds"] = json!(300);
    let mut spelled = body.clone();
    spelled["portfolio"]["equity"] = json!("100000.00");
    let mut as_number = body.clone();
    as_number["portfolio"]["equity"] = json!(100000);
    for (name, retry) in [
        ("upper-case request_id", {
            let mut b = body.clone();
            b["request_id"] = json!(upper);
            b
        }),
        ("padded strategy_id", padded),
        ("explicit default deadline", explicit),
        ("equity spelled otherwise", spelled),
        ("equity as a number", as_number),
    ] {
        let resp = post_json(&format!("{BASE}/runs"), &op, &retry).await;
        assert_eq!(resp.status().as_u16(), 202, "{name}");
        let joined: Value = resp.json().await.expect("json");
        assert_eq!(joined["run_id"], first["run_id"], "{name}");
        assert_eq!(joined["idempotent"], true, "{name}");
    }
    let mut different = body.clone();
    different["portfolio"]["equity"] = json!("100000.01");
    let err = refusal(
        post_json(&format!("{BASE}/runs"), &op, &different).await,
        409,
    )
    .await;
    assert_eq!(err["error"]["code"], "request_id_conflict");
}

#[tokio::test]
async fn a_client_token_reads_and_cancels_only_runs_of_its_scopes() {
    let op = ops(6);
    let body = request("acct-a", "alpha-scoped");
    let resp = post_json(&format!("{BASE}/runs"), CLIENT_A, &body).await;
    assert_eq!(resp.status().as_u16(), 202);
    let id = body["request_id"].as_str().expect("id");
    let run = format!("{BASE}/runs/{id}");
    assert_eq!(get(&run, CLIENT_A).await.status().as_u16(), 200);
    assert_eq!(
        get(&run, &op).await.status().as_u16(),
        200,
        "an operator reads all"
    );
    assert_eq!(
        get(&run, LEGACY).await.status().as_u16(),
        200,
        "an unscoped token is an operator"
    );
    // Another client: as if the run did not exist, for every way in.
    refusal(get(&run, CLIENT_B).await, 404).await;
    refusal(get(&format!("{run}/events"), CLIENT_B).await, 404).await;
    let cancel = reqwest::Client::new()
        .post(stack().url(&format!("{run}/cancel")))
        .bearer_auth(CLIENT_B)
        .send()
        .await
        .expect("gateway");
    refusal(cancel, 404).await;
    // Joining it with the same body is refused too: the account is not client B's.
    let err = refusal(
        post_json(&format!("{BASE}/runs"), CLIENT_B, &body).await,
        403,
    )
    .await;
    assert_eq!(err["error"]["field"], "account_id", "{err}");
    // Starting outside its scopes.
    let err = refusal(
        post_json(
            &format!("{BASE}/runs"),
            CLIENT_A,
            &request("acct-a", "beta-1"),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(err["error"]["field"], "strategy_id", "{err}");
    // The run is still client A's to stream.
    let resp = reqwest::Client::new()
        .get(stack().url(&format!("{run}/events")))
        .bearer_auth(CLIENT_A)
        .send()
        .await
        .expect("gateway");
    let log = sse::read(resp, None, Duration::from_secs(120))
        .await
        .expect("stream");
    assert!(log.is_terminated(), "{:?}", log.names());
}

fn triggers_body(account: &str, strategy: &str, equity: &str, n: usize, minute: usize) -> Value {
    let signals: Vec<Value> = (0..n)
        .map(|i| {
            json!({"symbol": "IBM", "type": "macd_cross_up",
                   "event_ts": format!("2013-10-08T{:02}:{:02}:00Z", 14 + (minute + i) / 60, (minute + i) % 60),
                   "source": "test", "features": {"macd": "0.1", "macd_signal": "0.05"}})
        })
        .collect();
    json!({
        "strategy_id": strategy,
        "account_id": account,
        "portfolio": {"equity": equity, "buying_power": "250000", "current_exposure": "0"},
        "execution_context": {"primary_adapter": "alpaca", "lean_enabled": false, "mode": "paper"},
        "triggers": signals,
    })
}

#[tokio::test]
async fn the_same_signal_for_two_accounts_is_two_decisions_and_a_changed_portfolio_is_409() {
    let strategy = format!("trig-{}", uuid::Uuid::new_v4().simple());
    let path = format!("{BASE}/triggers");
    let a: Value = post_json(
        &path,
        TRIGGERS,
        &triggers_body("acct-t1", &strategy, "100000", 1, 0),
    )
    .await
    .json()
    .await
    .expect("json");
    let b: Value = post_json(
        &path,
        TRIGGERS,
        &triggers_body("acct-t2", &strategy, "50000", 1, 0),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(a["created"], 1, "{a}");
    assert_eq!(b["created"], 1, "{b}");
    assert_ne!(a["results"][0]["run_id"], b["results"][0]["run_id"]);
    // The same account again with the same portfolio joins; with another portfolio it is 409.
    let again: Value = post_json(
        &path,
        TRIGGERS,
        &triggers_body("acct-t1", &strategy, "100000", 1, 0),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(again["results"][0]["run_id"], a["results"][0]["run_id"]);
    assert_eq!(again["created"], 0);
    let err = refusal(
        post_json(
            &path,
            TRIGGERS,
            &triggers_body("acct-t1", &strategy, "90000", 1, 0),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(err["error"]["field"], "triggers[0]", "{err}");
    assert_eq!(err["error"]["run_id"], a["results"][0]["run_id"], "{err}");
    // Out of the token's accounts.
    let err = refusal(
        post_json(
            &path,
            TRIGGERS,
            &triggers_body("acct-x", &strategy, "100000", 1, 0),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(err["error"]["field"], "account_id");
}

#[tokio::test]
async fn a_triggers_call_pays_one_rate_limit_unit_per_run_it_may_start() {
    // 12 a minute: a call of 10 distinct signals takes 10, so one of 5 more is refused whole.
    let strategy = format!("cost-{}", uuid::Uuid::new_v4().simple());
    let path = format!("{BASE}/triggers");
    let first = post_json(
        &path,
        COSTLY,
        &triggers_body("acct-c", &strategy, "100000", 10, 0),
    )
    .await;
    assert_eq!(first.status().as_u16(), 202);
    let second = post_json(
        &path,
        COSTLY,
        &triggers_body("acct-c", &strategy, "100000", 5, 20),
    )
    .await;
    assert!(second.headers().get("retry-after").is_some());
    let err = refusal(second, 429).await;
    assert_eq!(err["error"]["code"], "rate_limited");
    assert_eq!(
        stack()
            .settled_count(&format!("StrategyId = '{strategy}'"), 10)
            .await
            .expect("count"),
        10,
        "the refused call started nothing"
    );
}

/// Opens `n` connections from `source` (a loopback address other than the probes' 127.0.0.1)
/// that send nothing.
fn idle_connections(gateway: SocketAddr, source: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| Connector::bind(source)?.connect(&gateway).ok())
        .collect()
}

/// A TCP client socket bound to a chosen source address before it connects, which std cannot
/// do: the flood must come from an address other than the probes'.
struct Connector(std::os::fd::OwnedFd);

impl Connector {
    fn bind(source: &str) -> Option<Self> {
        use std::os::fd::FromRawFd;
        let ip: std::net::Ipv4Addr = source.parse().ok()?;
        // SAFETY: plain socket syscalls on a descriptor this function owns.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return None;
            }
            let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from(ip).to_be(),
                },
                sin_zero: [0; 8],
            };
            let rc = libc::bind(
                fd,
                std::ptr::addr_of!(addr).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            (rc == 0).then_some(Self(owned))
        }
    }

    fn connect(self, to: &SocketAddr) -> std::io::Result<TcpStream> {
        use std::os::fd::{AsRawFd, IntoRawFd};
        let SocketAddr::V4(v4) = to else {
            return Err(std::io::Error::other("IPv4 only"));
        };
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: connect on the descriptor we own; on success it becomes the TcpStream's.
        unsafe {
            let rc = libc::connect(
                self.0.as_raw_fd(),
                std::ptr::addr_of!(addr).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            use std::os::fd::FromRawFd;
            Ok(TcpStream::from_raw_fd(self.0.into_raw_fd()))
        }
    }
}

/// Whether the gateway closed `s` (EOF or reset) within `wait`; what it wrote first, if anything.
fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<String> {
    s.set_read_timeout(Some(wait)).ok()?;
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_flood_of_idle_connections_leaves_healthz_and_a_decision_answering() {
    let op = ops(7);
    let gateway: SocketAddr = stack()
        .gateway_url
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    // Three times the per-peer cap, from 127.0.0.2; bounded, and all closed by the end.
    let mut flood =
        tokio::task::spawn_blocking(move || idle_connections(gateway, "127.0.0.2", 3 * PER_PEER))
            .await
            .expect("flood");
    assert!(flood.len() >= 2 * PER_PEER, "opened {}", flood.len());
    // The probes and a decision from another address still answer.
    let health = reqwest::Client::new()
        .get(stack().url("/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("/healthz answers during the flood");
    assert_eq!(health.status().as_u16(), 200);
    let resp = reqwest::Client::new()
        .post(stack().url(&format!("{BASE}/stream")))
        .bearer_auth(&op)
        .json(&request("acct-a", "alpha-flood"))
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("a decision during the flood");
    assert_eq!(resp.status().as_u16(), 200);
    let log = sse::read(resp, None, Duration::from_secs(120))
        .await
        .expect("stream");
    assert_eq!(log.last().map(|e| e.event.as_str()), Some("decision.final"));
    // Those over the cap were answered 503 and closed at once; the others were closed by the
    // header-read timeout (3 s), having sent nothing.
    let answers: Vec<Option<String>> = tokio::task::spawn_blocking(move || {
        flood
            .iter_mut()
            .map(|s| closed_within(s, Duration::from_secs(15)))
            .collect()
    })
    .await
    .expect("reads");
    assert!(
        answers.iter().all(Option::is_some),
        "every idle connection is closed by the gateway"
    );
    let refused = answers
        .iter()
        .flatten()
        .filter(|a| a.starts_with("HTTP/1.1 503") && a.contains("too_many_connections"))
        .count();
    assert!(
        refused >= PER_PEER,
        "{refused} of {} refused over the cap of {PER_PEER}",
        answers.len()
    );
    // Slots come back: a new connection from the flooding address is served.
    let mut again = tokio::task::spawn_blocking(move || idle_connections(gateway, "127.0.0.2", 1))
        .await
        .expect("connect");
    let mut s = again.pop().expect("a connection");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let answer = closed_within(&mut s, Duration::from_secs(10)).expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
