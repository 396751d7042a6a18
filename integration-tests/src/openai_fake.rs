//! A local server that speaks the OpenAI chat-completions wire format, standing in for the
//! third-party endpoint we cannot reach from tests.
//!
//! The model name picks the behaviour, the only liberty taken with the real API:
//! - `*stream*`: a `text/event-stream` answer of `chat.completion.chunk` frames, a usage frame
//!   (`choices: []`) and `data: [DONE]`, as OpenAI sends with `stream_options.include_usage`.
//! - `*no-response-format*`: refuses `response_format` with OpenAI's 400 error body, like servers
//!   that do not implement JSON mode; answers normally without it.
//! - `*slow*`: never answers in time.
//! - `*leaky*`: fails with a 500 whose message echoes the caller's bearer token, as a
//!   misbehaving proxy might, so redaction can be tested.
//! - anything else: a plain `chat.completion` JSON body.
//!
//! Every request must carry `Authorization: Bearer <FAKE_OPENAI_KEY>` (else OpenAI's 401 body).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const FAKE_OPENAI_KEY: &str = "sk-test-TOPSECRET-7f3a9c1e";

#[derive(Default)]
pub struct Calls {
    pub total: AtomicUsize,
    pub with_response_format: AtomicUsize,
}

pub struct FakeOpenAi {
    pub base_url: String,
    pub calls: Arc<Calls>,
}

/// Starts the fake on a free port, on a runtime of its own that lives as long as the process.
pub fn start() -> anyhow::Result<FakeOpenAi> {
    let calls = Arc::new(Calls::default());
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(calls.clone());
    let addr = crate::serve::spawn("fake openai", app)?;
    Ok(FakeOpenAi {
        base_url: format!("http://{addr}/v1"),
        calls,
    })
}

fn error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": param, "code": code}})),
    )
        .into_response()
}

fn words(messages: &Value) -> u64 {
    messages
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    m["content"]
                        .as_str()
                        .unwrap_or("")
                        .split_whitespace()
                        .count() as u64
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn completions(
    State(calls): State<Arc<Calls>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    calls.total.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {FAKE_OPENAI_KEY}") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        );
    }
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let has_format = body.get("response_format").is_some();
    if has_format {
        calls.with_response_format.fetch_add(1, Ordering::SeqCst);
    }
    if model.contains("no-response-format") && has_format {
        return error(
            StatusCode::BAD_REQUEST,
            "Unrecognized request argument supplied: response_format",
            "invalid_request_error",
            Some("response_format"),
            None,
        );
    }
    if model.contains("slow") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if model.contains("leaky") {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("upstream proxy failed for request with header {auth}"),
            "server_error",
            None,
            None,
        );
    }
    let last_user = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned();
    let content = json!({"verdict": "approve", "confidence": 0.7, "echo": last_user}).to_string();
    let prompt_tokens = words(&body["messages"]);
    let completion_tokens = content.split(',').count() as u64;
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens});
    if model.contains("stream") {
        let mid = content.len() / 2;
        let (a, b) = (content[..mid].to_owned(), content[mid..].to_owned());
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let frames = vec![
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": a}), Value::Null),
            chunk(json!({"content": b}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [], "usage": usage}),
        ];
        let stream = async_stream::stream! {
            for f in frames {
                yield Ok::<Event, Infallible>(Event::default().data(f.to_string()));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            yield Ok(Event::default().data("[DONE]"));
        };
        return Sse::new(stream).into_response();
    }
    Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage,
    }))
    .into_response()
}
