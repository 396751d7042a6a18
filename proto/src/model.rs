//! Validation of a [`v1::DecisionRequest`] into typed domain values.
//!
//! The wire types keep decimals and enumerations as strings (that is the JSON contract); this
//! module is the one place that turns them into [`Decimal`]s, closed enums and timestamps, so
//! that everything downstream (policy, sizing, routing) works on values that cannot be invalid.
//! Every error names the JSON path of the field and why it was refused.

use crate::v1;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Default hard deadline of one decision run.
pub const DEFAULT_DEADLINE_SECONDS: u32 = 300;
/// Bounds a caller may choose for `deadline_seconds`.
pub const DEADLINE_BOUNDS: (u32, u32) = (10, 900);
/// Largest request body the gateway accepts; also documented in the API.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The trigger type Torghut's LLM review client sends.
pub const LLM_REVIEW_TRIGGER: &str = "llm_review";

/// A refused request: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{path}`: {reason}")]
pub struct FieldError {
    /// JSON path of the offending field (`$` for the document itself).
    pub path: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Paper or live trading; the only two modes Torghut runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Paper,
    Live,
}

/// Execution adapters an intent may hint at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adapter {
    Alpaca,
    Lean,
}

impl Adapter {
    pub fn as_str(self) -> &'static str {
        match self {
            Adapter::Alpaca => "alpaca",
            Adapter::Lean => "lean",
        }
    }
}

/// A non-negative decimal amount of money or shares. Crosses Temporal as its decimal string;
/// decoding checks the sign again, so a payload cannot smuggle in a negative amount.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct NonNegative(Decimal);

impl TryFrom<Decimal> for NonNegative {
    type Error = String;
    fn try_from(value: Decimal) -> Result<Self, String> {
        Self::new(value).ok_or_else(|| format!("expected a non-negative amount, got {value}"))
    }
}

impl From<NonNegative> for Decimal {
    fn from(value: NonNegative) -> Decimal {
        value.0
    }
}

impl NonNegative {
    pub const ZERO: NonNegative = NonNegative(Decimal::ZERO);

    pub fn new(value: Decimal) -> Option<Self> {
        (value >= Decimal::ZERO).then_some(Self(value))
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for NonNegative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.normalize().fmt(f)
    }
}

/// A fraction in `[0, 1]` (a share of equity, a quality score, a confidence). Decoding checks
/// the range again.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Fraction(Decimal);

impl TryFrom<Decimal> for Fraction {
    type Error = String;
    fn try_from(value: Decimal) -> Result<Self, String> {
        Self::new(value).ok_or_else(|| format!("expected a fraction in [0, 1], got {value}"))
    }
}

impl From<Fraction> for Decimal {
    fn from(value: Fraction) -> Decimal {
        value.0
    }
}

impl Fraction {
    pub const ZERO: Fraction = Fraction(Decimal::ZERO);
    pub const ONE: Fraction = Fraction(Decimal::ONE);

    pub fn new(value: Decimal) -> Option<Self> {
        (value >= Decimal::ZERO && value <= Decimal::ONE).then_some(Self(value))
    }

    /// Clamps into `[0, 1]`; for computed scores, where out-of-range means "saturated".
    pub fn clamped(value: Decimal) -> Self {
        Self(value.clamp(Decimal::ZERO, Decimal::ONE))
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.round_dp(4).normalize().fmt(f)
    }
}

/// An exchange ticker, upper case. Decoding parses it again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl TryFrom<String> for Symbol {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("not a ticker: {raw:?}"))
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> String {
        symbol.0
    }
}

impl Symbol {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=10).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_uppercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub symbol: Symbol,
    /// Signed share count; negative is a short position.
    pub qty: Decimal,
    pub market_value: Decimal,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Portfolio {
    pub equity: NonNegative,
    pub buying_power: NonNegative,
    pub current_exposure: NonNegative,
    pub position: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RiskPolicy {
    pub max_notional_per_trade: Option<NonNegative>,
    pub max_position_pct_equity: Option<Fraction>,
    pub kill_switch_enabled: bool,
    pub allow_short: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecutionContext {
    pub primary_adapter: Adapter,
    pub lean_enabled: bool,
    pub mode: Mode,
    pub allow_fractional: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub kind: String,
    pub event_ts: DateTime<Utc>,
    pub source: String,
    pub features: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmReview {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<Decimal>,
    pub max_tokens: Option<u32>,
}

/// A request that passed validation; every field is in range.
///
/// It enters a workflow's input once, as itself: it serialises as its wire form
/// ([`ValidatedRequest::to_wire`]) and deserialises through [`validate`], so the JSON in a
/// history is the request as Torghut wrote it and no decoded payload skips validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedRequest {
    pub request_id: String,
    pub symbol: Symbol,
    pub strategy_id: String,
    pub trigger: Trigger,
    pub portfolio: Portfolio,
    pub risk_policy: RiskPolicy,
    pub execution: ExecutionContext,
    pub deadline_seconds: u32,
    pub account_id: String,
    pub llm_review: Option<LlmReview>,
}

impl ValidatedRequest {
    pub fn is_llm_review(&self) -> bool {
        self.trigger.kind == LLM_REVIEW_TRIGGER
    }

    /// The wire request this one validates from, with every default spelled out:
    /// `validate(&r.to_wire()) == Ok(r)` (the `wire_round_trip` tests hold it).
    pub fn to_wire(&self) -> v1::DecisionRequest {
        let decimal = |d: Decimal| d.to_string();
        v1::DecisionRequest {
            request_id: self.request_id.clone(),
            symbol: self.symbol.to_string(),
            strategy_id: self.strategy_id.clone(),
            trigger: Some(v1::Trigger {
                r#type: self.trigger.kind.clone(),
                event_ts: self
                    .trigger
                    .event_ts
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                source: self.trigger.source.clone(),
                features: self
                    .trigger
                    .features
                    .iter()
                    .map(|(k, v)| (k.clone(), decimal(*v)))
                    .collect(),
            }),
            portfolio: Some(v1::Portfolio {
                equity: decimal(self.portfolio.equity.get()),
                buying_power: decimal(self.portfolio.buying_power.get()),
                current_exposure: decimal(self.portfolio.current_exposure.get()),
                position: self.portfolio.position.as_ref().map(|p| v1::Position {
                    symbol: p.symbol.to_string(),
                    qty: decimal(p.qty),
                    market_value: decimal(p.market_value),
                }),
            }),
            risk_policy: Some(v1::RiskPolicy {
                max_notional_per_trade: self
                    .risk_policy
                    .max_notional_per_trade
                    .map(|m| decimal(m.get())),
                max_position_pct_equity: self
                    .risk_policy
                    .max_position_pct_equity
                    .map(|f| decimal(f.get())),
                kill_switch_enabled: Some(self.risk_policy.kill_switch_enabled),
                allow_short: Some(self.risk_policy.allow_short),
            }),
            execution_context: Some(v1::ExecutionContext {
                primary_adapter: self.execution.primary_adapter.as_str().to_owned(),
                lean_enabled: self.execution.lean_enabled,
                mode: match self.execution.mode {
                    Mode::Paper => "paper",
                    Mode::Live => "live",
                }
                .to_owned(),
                allow_fractional: Some(self.execution.allow_fractional),
            }),
            deadline_seconds: Some(self.deadline_seconds),
            account_id: Some(self.account_id.clone()),
            llm_review: self.llm_review.as_ref().map(LlmReview::to_wire),
        }
    }
}

impl LlmReview {
    /// The wire block this one validates from (what the `llm-review` activity is sent).
    pub fn to_wire(&self) -> v1::LlmReview {
        v1::LlmReview {
            model: self.model.clone(),
            messages: self
                .messages
                .iter()
                .map(|m| v1::ChatMessage {
                    role: m.role.clone(),
                    content: m.content.clone(),
                })
                .collect(),
            temperature: self.temperature.map(|t| t.to_string()),
            max_tokens: self.max_tokens,
        }
    }
}

impl serde::Serialize for ValidatedRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for ValidatedRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = v1::DecisionRequest::deserialize(deserializer)?;
        validate(&wire).map_err(serde::de::Error::custom)
    }
}

/// Parses a request body: JSON syntax, shape, then [`validate`].
pub fn parse_request(body: &[u8]) -> Result<(v1::DecisionRequest, ValidatedRequest), FieldError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(FieldError::new(
            "$",
            format!(
                "body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        FieldError::new(
            "$",
            format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err(FieldError::new("$", "expected a JSON object"));
    }
    // The shape is read from the text again, not from `value`: a decimal sent as a JSON number
    // then keeps its exact digits (`lenient`), where `value` holds it as an `f64`.
    let mut de = serde_json::Deserializer::from_slice(body);
    let wire: v1::DecisionRequest =
        serde_path_to_error::deserialize(&mut de).map_err(shape_error)?;
    let validated = validate(&wire)?;
    Ok((wire, validated))
}

/// Turns a serde shape error into a path that names the field itself, also for missing fields
/// (serde reports those against the parent object).
fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let parent = err.path().to_string();
    let message = err.inner().to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let path = if parent == "." {
            field.to_owned()
        } else {
            format!("{parent}.{field}")
        };
        return FieldError::new(path, "required field is missing");
    }
    let path = if parent == "." {
        "$".to_owned()
    } else {
        parent
    };
    FieldError::new(path, message)
}

fn required<'a, T>(value: &'a Option<T>, path: &str) -> Result<&'a T, FieldError> {
    value
        .as_ref()
        .ok_or_else(|| FieldError::new(path, "required object is missing or null"))
}

/// Largest magnitude of any decimal in a request: fewer than 15 digits before the point.
/// Money, quantities and features of real portfolios are far below it, and it keeps every
/// product the policy forms (notional = quantity x price, equity x fraction) inside `Decimal`'s
/// 28 digits, so arithmetic on a validated request cannot overflow.
pub const MAX_INTEGER_DIGITS: usize = 15;
/// Most digits after the point a decimal may carry (trailing zeros aside). With
/// [`MAX_INTEGER_DIGITS`] every accepted value has at most 27 significant digits, which
/// `Decimal` holds exactly: nothing is ever rounded on the way in.
pub const MAX_FRACTION_DIGITS: usize = 12;
/// The grammar a decimal must follow, for error messages (also the OpenAPI `pattern`).
pub const DECIMAL_GRAMMAR: &str = "an optional '-', digits, optionally '.' and digits, optionally an exponent (e.g. \"100.50\", \"-3\", \"1.5e3\")";

/// A decimal in the strict JSON-number grammar (`-?d+(.d+)?([eE][+-]?d+)?`; no `+`, no `_`, no
/// `NaN`), within [`MAX_INTEGER_DIGITS`] and [`MAX_FRACTION_DIGITS`], read exactly.
fn decimal(raw: &str, path: &str) -> Result<Decimal, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(path, "expected a decimal string, got \"\""));
    }
    let bad = || {
        FieldError::new(
            path,
            format!("expected a decimal string ({DECIMAL_GRAMMAR}), got {raw:?}"),
        )
    };
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int_part) || (mantissa.contains('.') && !digits(frac_part)) {
        return Err(bad());
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let unsigned_e = e.strip_prefix(['+', '-']).unwrap_or(e);
            // Four digits of exponent already reach far past any bound below.
            if !digits(unsigned_e) || unsigned_e.len() > 4 {
                return Err(bad());
            }
            e.parse().map_err(|_| bad())?
        }
    };
    // All the significant digits, and where the point goes in them.
    let all: String = format!("{int_part}{frac_part}");
    let point = int_part.len() as i64 + exponent;
    let first = all.bytes().position(|b| b != b'0');
    let last = all.bytes().rposition(|b| b != b'0');
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Decimal::ZERO);
    };
    let (first, last) = (first as i64, last as i64);
    let integer_digits = (point - first).max(0);
    let fraction_digits = (last + 1 - point).max(0);
    if integer_digits > MAX_INTEGER_DIGITS as i64 {
        return Err(FieldError::new(
            path,
            format!(
                "{raw:?} is out of range: at most {MAX_INTEGER_DIGITS} digits before the point (|value| < 1e{MAX_INTEGER_DIGITS})"
            ),
        ));
    }
    if fraction_digits > MAX_FRACTION_DIGITS as i64 {
        return Err(FieldError::new(
            path,
            format!(
                "{raw:?} has more than {MAX_FRACTION_DIGITS} digits after the point; it would have to be rounded"
            ),
        ));
    }
    // Rebuild the value as plain digits with the point placed: at most 27 significant digits.
    let significant = &all[first as usize..=last as usize];
    let lead_zeros = (first - point).max(0) as usize;
    let trail_zeros = (point - last - 1).max(0) as usize;
    let plain = format!(
        "{}{significant}{}",
        "0".repeat(lead_zeros),
        "0".repeat(trail_zeros)
    );
    let int_len = (point - first + lead_zeros as i64).max(0) as usize;
    let text = if int_len >= plain.len() {
        plain
    } else {
        let (i, f) = plain.split_at(int_len);
        format!("{}.{f}", if i.is_empty() { "0" } else { i })
    };
    let value = Decimal::from_str(&text).map_err(|_| bad())?;
    Ok(if negative { -value } else { value })
}

/// A decimal's value as canonical text (`"10.0"`, `10` and `"1e1"` are all `10`), for the
/// fingerprint; text that is not a valid decimal is kept as it is (validation refuses it anyway).
pub fn canonical_decimal(raw: &str) -> String {
    decimal(raw, "$").map_or_else(|_| raw.to_owned(), |d| d.normalize().to_string())
}

fn money(raw: &str, path: &str) -> Result<NonNegative, FieldError> {
    let value = decimal(raw, path)?;
    NonNegative::new(value).ok_or_else(|| {
        FieldError::new(
            path,
            format!("expected a non-negative decimal string, got {raw:?}"),
        )
    })
}

fn non_empty(raw: &str, path: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(path, "must not be empty"));
    }
    // Characters, as the OpenAPI `maxLength` counts them.
    if trimmed.chars().count() > 200 {
        return Err(FieldError::new(path, "longer than 200 characters"));
    }
    no_control(trimmed, path)?;
    Ok(trimmed.to_owned())
}

/// Identifiers and labels end up in Temporal summaries, search attributes and log lines, where
/// a NUL, CR or LF would forge or break a line: control characters are refused, not escaped.
fn no_control(raw: &str, path: &str) -> Result<(), FieldError> {
    match raw.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(FieldError::new(
            path,
            format!("contains the control character {c:?}; control characters are not allowed"),
        )),
    }
}

fn symbol(raw: &str, path: &str) -> Result<Symbol, FieldError> {
    Symbol::parse(raw).ok_or_else(|| {
        FieldError::new(
            path,
            format!("expected a ticker (1-10 of A-Z, 0-9, '.', '-', starting with a letter), got {raw:?}"),
        )
    })
}

fn request_id(raw: &str) -> Result<String, FieldError> {
    let ok = raw.len() == 36
        && raw.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(FieldError::new(
            "request_id",
            format!(
                "expected a UUID such as \"8a1c2f5e-0d4b-4c1e-9f6a-2b3c4d5e6f70\", got {raw:?}"
            ),
        ))
    }
}

fn timestamp(raw: &str, path: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            FieldError::new(
                path,
                format!("expected an RFC 3339 timestamp such as \"2013-10-08T14:30:00Z\", got {raw:?} ({e})"),
            )
        })
}

/// Validates the wire request. Pure and deterministic: the workflow calls it again on its input.
pub fn validate(wire: &v1::DecisionRequest) -> Result<ValidatedRequest, FieldError> {
    let request_id = request_id(&wire.request_id)?;
    let strategy_id = non_empty(&wire.strategy_id, "strategy_id")?;

    let trig = required(&wire.trigger, "trigger")?;
    let kind = non_empty(&trig.r#type, "trigger.type")?;
    let event_ts = timestamp(&trig.event_ts, "trigger.event_ts")?;
    let mut features = BTreeMap::new();
    for (name, raw) in &trig.features {
        no_control(name, "trigger.features")?;
        features.insert(
            name.clone(),
            decimal(raw, &format!("trigger.features.{name}"))?,
        );
    }
    no_control(&trig.source, "trigger.source")?;
    let trigger = Trigger {
        kind,
        event_ts,
        source: trig.source.trim().to_owned(),
        features,
    };
    let symbol = symbol(&wire.symbol, "symbol")?;

    let p = required(&wire.portfolio, "portfolio")?;
    let position = match &p.position {
        None => None,
        Some(pos) => Some(Position {
            symbol: self::symbol(&pos.symbol, "portfolio.position.symbol")?,
            qty: decimal(&pos.qty, "portfolio.position.qty")?,
            market_value: decimal(&pos.market_value, "portfolio.position.market_value")?,
        }),
    };
    if let Some(pos) = &position
        && pos.symbol != symbol
    {
        return Err(FieldError::new(
            "portfolio.position.symbol",
            format!(
                "position is for {} but the request is for {symbol}",
                pos.symbol
            ),
        ));
    }
    let portfolio = Portfolio {
        equity: money(&p.equity, "portfolio.equity")?,
        buying_power: money(&p.buying_power, "portfolio.buying_power")?,
        current_exposure: money(&p.current_exposure, "portfolio.current_exposure")?,
        position,
    };

    let risk_policy = match &wire.risk_policy {
        None => RiskPolicy {
            max_notional_per_trade: None,
            max_position_pct_equity: None,
            kill_switch_enabled: false,
            allow_short: false,
        },
        Some(r) => RiskPolicy {
            max_notional_per_trade: r
                .max_notional_per_trade
                .as_deref()
                .map(|raw| money(raw, "risk_policy.max_notional_per_trade"))
                .transpose()?,
            max_position_pct_equity: r
                .max_position_pct_equity
                .as_deref()
                .map(|raw| {
                    let path = "risk_policy.max_position_pct_equity";
                    Fraction::new(decimal(raw, path)?).ok_or_else(|| {
                        FieldError::new(path, format!("expected a fraction in [0, 1], got {raw:?}"))
                    })
                })
                .transpose()?,
            kill_switch_enabled: r.kill_switch_enabled.unwrap_or(false),
            allow_short: r.allow_short.unwrap_or(false),
        },
    };

    let execution = match &wire.execution_context {
        None => ExecutionContext {
            primary_adapter: Adapter::Alpaca,
            lean_enabled: false,
            mode: Mode::Paper,
            allow_fractional: false,
        },
        Some(e) => ExecutionContext {
            primary_adapter: match e.primary_adapter.as_str() {
                "alpaca" | "" => Adapter::Alpaca,
                "lean" => Adapter::Lean,
                other => {
                    return Err(FieldError::new(
                        "execution_context.primary_adapter",
                        format!("expected \"alpaca\" or \"lean\", got {other:?}"),
                    ));
                }
            },
            lean_enabled: e.lean_enabled,
            allow_fractional: e.allow_fractional.unwrap_or(false),
            mode: match e.mode.as_str() {
                "paper" => Mode::Paper,
                "live" => Mode::Live,
                other => {
                    return Err(FieldError::new(
                        "execution_context.mode",
                        format!("expected \"paper\" or \"live\", got {other:?}"),
                    ));
                }
            },
        },
    };

    let deadline_seconds = match wire.deadline_seconds {
        None => DEFAULT_DEADLINE_SECONDS,
        Some(s) if (DEADLINE_BOUNDS.0..=DEADLINE_BOUNDS.1).contains(&s) => s,
        Some(s) => {
            return Err(FieldError::new(
                "deadline_seconds",
                format!(
                    "expected {}..={} seconds, got {s}",
                    DEADLINE_BOUNDS.0, DEADLINE_BOUNDS.1
                ),
            ));
        }
    };
    let account_id = match &wire.account_id {
        None => "default".to_owned(),
        Some(a) => non_empty(a, "account_id")?,
    };

    let llm_review = wire
        .llm_review
        .as_ref()
        .map(validate_llm_review)
        .transpose()?;
    if trigger.kind == LLM_REVIEW_TRIGGER && llm_review.is_none() {
        return Err(FieldError::new(
            "llm_review",
            "required when trigger.type is \"llm_review\"",
        ));
    }

    Ok(ValidatedRequest {
        request_id,
        symbol,
        strategy_id,
        trigger,
        portfolio,
        risk_policy,
        execution,
        deadline_seconds,
        account_id,
        llm_review,
    })
}

fn validate_llm_review(l: &v1::LlmReview) -> Result<LlmReview, FieldError> {
    if l.messages.is_empty() {
        return Err(FieldError::new(
            "llm_review.messages",
            "expected a non-empty list of {role, content} messages",
        ));
    }
    let mut messages = Vec::with_capacity(l.messages.len());
    for (i, m) in l.messages.iter().enumerate() {
        if !matches!(
            m.role.as_str(),
            "system" | "user" | "assistant" | "tool" | "developer"
        ) {
            return Err(FieldError::new(
                format!("llm_review.messages[{i}].role"),
                format!(
                    "expected system, user, assistant, developer or tool, got {:?}",
                    m.role
                ),
            ));
        }
        messages.push(ChatMessage {
            role: m.role.clone(),
            content: m.content.clone(),
        });
    }
    let temperature = l
        .temperature
        .as_deref()
        .map(|raw| {
            let t = decimal(raw, "llm_review.temperature")?;
            if t < Decimal::ZERO || t > Decimal::TWO {
                return Err(FieldError::new(
                    "llm_review.temperature",
                    format!("expected 0..=2, got {raw:?}"),
                ));
            }
            Ok(t)
        })
        .transpose()?;
    if let Some(m) = l.max_tokens
        && !(1..=32_768).contains(&m)
    {
        return Err(FieldError::new(
            "llm_review.max_tokens",
            format!("expected 1..=32768, got {m}"),
        ));
    }
    Ok(LlmReview {
        model: l.model.trim().to_owned(),
        messages,
        temperature,
        max_tokens: l.max_tokens,
    })
}
