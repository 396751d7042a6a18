//! An OpenAI-compatible chat-completions client for Torghut's `llm_review` decisions.
//!
//! It asks for a JSON object (`response_format`) and, when a server refuses that parameter, asks
//! again without it; it reads both a plain JSON answer and a streamed (`text/event-stream`) one,
//! aggregating the deltas and taking usage from the usage frame. The API key (a [`Secret`]) is sent only from here: it
//! is never part of an activity input or output, and any upstream text that echoes it is redacted
//! before it can reach a log, an event or the workflow history.

use crate::secret::Secret;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use torghut_proto::v1::{LlmResponse, LlmReview, LlmUsage};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("llm endpoint not configured: {0}")]
    NotConfigured(String),
    #[error("llm call timed out after {0:?}")]
    Timeout(Duration),
    /// The server answered with an error status; `retryable` for 408, 429 and 5xx.
    #[error("llm endpoint answered {status}: {message}")]
    Upstream {
        status: u16,
        message: String,
        retryable: bool,
    },
    #[error("llm endpoint unreachable: {0}")]
    Transport(String),
    #[error("llm endpoint answered something that is not a chat completion: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone)]
pub struct LlmEndpoint {
    /// Base URL up to and including the API version, e.g. `http://host:8000/v1`.
    pub base_url: url::Url,
    pub api_key: Option<Secret>,
    /// Replaces the model the caller asked for (operators pin a model per environment).
    pub model_override: Option<String>,
    /// Ask for a streamed answer (`stream: true` with usage) instead of one JSON body.
    pub stream: bool,
    client: reqwest::Client,
}

impl LlmEndpoint {
    pub fn new(
        base_url: url::Url,
        api_key: Option<Secret>,
        model_override: Option<String>,
        stream: bool,
    ) -> Self {
        Self {
            base_url,
            api_key,
            model_override,
            stream,
            client: reqwest::Client::new(),
        }
    }

    fn redact(&self, text: &str) -> String {
        let clipped: String = text.chars().take(500).collect();
        match &self.api_key {
            Some(k) if !k.expose().is_empty() => clipped.replace(k.expose(), "[redacted]"),
            _ => clipped,
        }
    }

    fn body(&self, review: &LlmReview, model: &str, json_object: bool) -> Value {
        let messages: Vec<Value> = review
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({"model": model, "messages": messages, "stream": self.stream});
        if let Some(t) = review
            .temperature
            .as_deref()
            .and_then(|t| t.parse::<f64>().ok())
        {
            body["temperature"] = json!(t);
        }
        if let Some(m) = review.max_tokens {
            body["max_tokens"] = json!(m);
        }
        if json_object {
            body["response_format"] = json!({"type": "json_object"});
        }
        if self.stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    /// One chat completion within `timeout` (the activity attempt's remaining time).
    pub async fn complete(
        &self,
        review: &LlmReview,
        timeout: Duration,
    ) -> Result<LlmResponse, LlmError> {
        let model = self
            .model_override
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| Some(review.model.clone()).filter(|m| !m.is_empty()))
            .ok_or_else(|| {
                LlmError::NotConfigured("no model in the request and no model override".into())
            })?;
        match tokio::time::timeout(timeout, self.post(self.body(review, &model, true))).await {
            Err(_) => Err(LlmError::Timeout(timeout)),
            Ok(Err(LlmError::Upstream {
                status: 400 | 422,
                message,
                ..
            })) if message.contains("response_format") => {
                tracing::info!("endpoint refused response_format; asking without it");
                tokio::time::timeout(timeout, self.post(self.body(review, &model, false)))
                    .await
                    .map_err(|_| LlmError::Timeout(timeout))?
            }
            Ok(other) => other,
        }
    }

    async fn post(&self, body: Value) -> Result<LlmResponse, LlmError> {
        let base = self.base_url.as_str().trim_end_matches('/');
        let mut request = self
            .client
            .post(format!("{base}/chat/completions"))
            .json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                LlmError::Timeout(Duration::ZERO)
            } else {
                LlmError::Transport(self.redact(&e.to_string()))
            }
        })?;
        let status = response.status();
        let streamed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            let code = status.as_u16();
            return Err(LlmError::Upstream {
                status: code,
                message: self.redact(&message),
                retryable: code == 408 || code == 429 || status.is_server_error(),
            });
        }
        if streamed {
            self.aggregate(response).await
        } else {
            let v: Value = response
                .json()
                .await
                .map_err(|e| LlmError::Malformed(self.redact(&e.to_string())))?;
            parse_completion(&v)
        }
    }

    async fn aggregate(&self, response: reqwest::Response) -> Result<LlmResponse, LlmError> {
        let mut body = response.bytes_stream();
        let (mut buf, mut content, mut model, mut usage) =
            (String::new(), String::new(), String::new(), None);
        let mut done = false;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| LlmError::Transport(self.redact(&e.to_string())))?;
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find('\n') {
                let line: String = buf.drain(..=end).collect();
                let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else {
                    continue;
                };
                if data == "[DONE]" {
                    done = true;
                    break;
                }
                let frame: Value = serde_json::from_str(data)
                    .map_err(|e| LlmError::Malformed(format!("stream frame: {e}")))?;
                if let Some(err) = frame.get("error") {
                    return Err(LlmError::Upstream {
                        status: 200,
                        message: self.redact(&err.to_string()),
                        retryable: true,
                    });
                }
                if let Some(m) = frame["model"].as_str() {
                    model = m.to_owned();
                }
                if let Some(delta) = frame["choices"][0]["delta"]["content"].as_str() {
                    content.push_str(delta);
                }
                if frame["usage"].is_object() {
                    usage = Some(parse_usage(&frame["usage"]));
                }
            }
            if done {
                break;
            }
        }
        if !done {
            return Err(LlmError::Malformed("stream ended without [DONE]".into()));
        }
        Ok(LlmResponse {
            content,
            usage: Some(usage.unwrap_or_default()),
            model,
        })
    }
}

fn parse_usage(u: &Value) -> LlmUsage {
    let n = |k: &str| {
        u[k].as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    LlmUsage {
        prompt_tokens: n("prompt_tokens"),
        completion_tokens: n("completion_tokens"),
        total_tokens: n("total_tokens"),
    }
}

fn parse_completion(v: &Value) -> Result<LlmResponse, LlmError> {
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| LlmError::Malformed("no choices[0].message.content".into()))?;
    Ok(LlmResponse {
        content: content.to_owned(),
        usage: Some(parse_usage(&v["usage"])),
        model: v["model"].as_str().unwrap_or_default().to_owned(),
    })
}
