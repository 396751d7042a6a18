//! Torghut's market-context contract (`torghut.market-context.v1`): the shape Torghut's
//! `MarketContextClient` validates with pydantic models that forbid unknown fields, built from the
//! engine's own bundle (`MarketContextBundle`, four skill outputs).
//!
//! The engine's bundle stays the source of truth (and is still served, at
//! `/api/torghut/market-context/engine`); this module only re-shapes it: camelCase, numbers as
//! JSON numbers, domains as an object, and Torghut's domain names (`technicals`, `regime`, and
//! `news` and `fundamentals`, which Torghut ignores). The choices where the contract is silent are
//! in docs/decisions.md ("Torghut's market-context contract").

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::{Map, Number, Value};
use std::str::FromStr;
use torghut_policy::skills::{
    self, FUNDAMENTALS, MARKET_CONTEXT, NEWS_SENTIMENT, STATUS_MISSING, STATUS_OK, STATUS_STALE,
    TECHNICALS_REGIME,
};
use torghut_proto::v1::{MarketContextBundle, SkillOutput};

pub const CONTEXT_VERSION: &str = "torghut.market-context.v1";

/// The reasons `market-context-workflow` records when a domain's activity failed after its
/// retries (`decision::failure_reason`): the source is in error, which is not the same as a
/// source that answered "no data".
const SOURCE_FAILURES: [&str; 3] = ["failed_after_retries", "timeout", "invalid_input"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    // Ordered from best to worst: a domain built from two sources takes the worse state.
    Ok,
    Stale,
    Missing,
    Error,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Stale => "stale",
            State::Missing => "missing",
            State::Error => "error",
        }
    }

    fn has_data(self) -> bool {
        matches!(self, State::Ok | State::Stale)
    }

    fn of(output: &SkillOutput) -> Self {
        match output.status.as_str() {
            STATUS_OK => State::Ok,
            STATUS_STALE => State::Stale,
            _ if source_failed(output) => State::Error,
            _ => State::Missing,
        }
    }
}

fn source_failed(output: &SkillOutput) -> bool {
    output.status == STATUS_MISSING
        && output.risk_flags.iter().any(|f| {
            f.strip_prefix(&format!("{}:missing:", output.domain))
                .is_some_and(|reason| SOURCE_FAILURES.contains(&reason))
        })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    pub source: String,
    pub url: Option<String>,
    pub published_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub domain: &'static str,
    pub state: State,
    /// When the domain's newest datum was current; `None` without data.
    pub as_of: Option<String>,
    /// Age of that datum at the bundle's as-of; `None` without data (an unknown age, not zero).
    pub freshness_seconds: Option<u64>,
    pub max_freshness_seconds: u64,
    pub source_count: u32,
    pub quality_score: Number,
    pub payload: Map<String, Value>,
    pub citations: Vec<Citation>,
    pub risk_flags: Vec<String>,
}

/// `technicals` and `regime` are Torghut's; `news` and `fundamentals` are extra keys its
/// client ignores (an older client that still reads them gets valid domains).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Domains {
    pub technicals: Domain,
    pub regime: Domain,
    pub news: Domain,
    pub fundamentals: Domain,
}

impl Domains {
    fn all(&self) -> [&Domain; 4] {
        [
            &self.technicals,
            &self.regime,
            &self.news,
            &self.fundamentals,
        ]
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub context_version: &'static str,
    pub symbol: String,
    pub as_of_utc: String,
    /// The oldest of `technicals` and `regime`: what Torghut's gate recomputes.
    pub freshness_seconds: u64,
    /// The lower of `technicals` and `regime`: what Torghut's gate recomputes.
    pub quality_score: Number,
    pub source_count: u32,
    /// `<domain>_<state>` for every domain that is not `ok`.
    pub risk_flags: Vec<String>,
    pub domains: Domains,
}

/// A decimal as a JSON number (the contract's `qualityScore` and payload values are numbers):
/// whole values as integers, the rest as the nearest f64 (scores have four decimal places and
/// prices six, which an f64 prints back exactly).
fn number(d: Decimal) -> Number {
    let d = d.normalize();
    if d.scale() == 0
        && let Some(i) = d.to_i64()
    {
        return Number::from(i);
    }
    d.to_f64()
        .and_then(Number::from_f64)
        .unwrap_or_else(|| Number::from(0))
}

fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The skill payload with camelCase keys; decimal strings become numbers, labels stay strings.
fn payload(output: &SkillOutput) -> Map<String, Value> {
    output
        .payload
        .iter()
        .map(|(k, v)| {
            let value = Decimal::from_str(v)
                .map(|d| Value::Number(number(d)))
                .unwrap_or_else(|_| Value::String(v.clone()));
            (camel_case(k), value)
        })
        .collect()
}

fn parse_utc(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A citation's publication time as a full timestamp: filings carry a date only (midnight UTC
/// of that date, then), and a citation without a time takes the time of the domain's data.
fn published_at(raw: Option<&str>, data_time: Option<&str>) -> Option<String> {
    let raw = raw.or(data_time)?;
    parse_utc(raw).map(rfc3339).or_else(|| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| rfc3339(t.and_utc()))
    })
}

fn status_flag(name: &str, state: State) -> Option<String> {
    (state != State::Ok).then(|| format!("{name}_{}", state.as_str()))
}

/// One skill output as one contract domain.
fn domain(name: &'static str, output: &SkillOutput) -> Domain {
    let state = State::of(output);
    let freshness = state.has_data().then_some(output.freshness_seconds);
    let as_of = freshness.and_then(|age| {
        let bundle_as_of = parse_utc(&output.as_of_utc)?;
        let age = i64::try_from(age).ok()?;
        Some(rfc3339(bundle_as_of - Duration::seconds(age)))
    });
    let citations = output
        .citations
        .iter()
        .filter_map(|c| {
            Some(Citation {
                source: c.source.clone(),
                url: (!c.url.is_empty()).then(|| c.url.clone()),
                published_at: published_at(c.published_at.as_deref(), as_of.as_deref())?,
            })
        })
        .collect();
    Domain {
        domain: name,
        state,
        as_of,
        freshness_seconds: freshness,
        max_freshness_seconds: skills::freshness_target_seconds(&output.domain),
        source_count: output.source_count,
        quality_score: number(skills::quality(output)),
        payload: payload(output),
        citations,
        risk_flags: status_flag(name, state)
            .into_iter()
            .chain(output.risk_flags.iter().cloned())
            .collect(),
    }
}

/// `technicals`: the technicals-regime skill, with the payload names Torghut's prompts know
/// (`price`, `macdSignal`, `spread`) next to the skill's own.
fn technicals(output: &SkillOutput) -> Domain {
    let mut d = domain("technicals", output);
    let value = |k: &str| skills::payload_decimal(output, k);
    if let Some(price) = value("last_price") {
        d.payload
            .insert("price".into(), Value::Number(number(price)));
    }
    if let (Some(bid), Some(ask)) = (value("bid"), value("ask")) {
        d.payload
            .insert("spread".into(), Value::Number(number(ask - bid)));
    }
    d
}

/// `regime`: where the market is (the market-context skill: index moves and volatility,
/// session phase, relative strength) and how this symbol trades (from technicals-regime:
/// volatility, trend, liquidity). Built from both, it is as good as the worse of them.
fn regime(market: &SkillOutput, technicals: &SkillOutput) -> Domain {
    let (m, t) = (domain("regime", market), domain("regime", technicals));
    let state = m.state.max(t.state);
    let mut payload = m.payload;
    let value = |k: &str| skills::payload_decimal(technicals, k);
    if let Some(v) = value("realized_vol_annual") {
        payload.insert("volatility".into(), Value::Number(number(v)));
    }
    if let Some(v) = value("liquidity_score") {
        payload.insert("liquidityScore".into(), Value::Number(number(v)));
    }
    for (label, key) in [("trend", "trend"), ("regime", "regime")] {
        if let Some(v) = technicals.payload.get(label) {
            payload.insert(key.into(), Value::String(v.clone()));
        }
    }
    let freshness = match (m.freshness_seconds, t.freshness_seconds) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let as_of = match (&m.as_of, &t.as_of) {
        (Some(a), Some(b)) => Some(a.min(b).clone()),
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    let quality = skills::quality(market).min(skills::quality(technicals));
    Domain {
        domain: "regime",
        state,
        as_of,
        freshness_seconds: freshness,
        max_freshness_seconds: m.max_freshness_seconds.min(t.max_freshness_seconds),
        source_count: market.source_count + technicals.source_count,
        quality_score: number(quality),
        payload,
        citations: Vec::new(),
        risk_flags: status_flag("regime", state)
            .into_iter()
            .chain(market.risk_flags.iter().cloned())
            .collect(),
    }
}

/// The skill output of `name`, or the explicit missing output the workflow would have recorded.
fn output<'a>(engine: &'a MarketContextBundle, name: &str) -> std::borrow::Cow<'a, SkillOutput> {
    engine
        .domains
        .iter()
        .find(|d| d.domain == name)
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| {
            std::borrow::Cow::Owned(skills::missing_output(
                name,
                &engine.symbol,
                &engine.as_of_utc,
                "not_in_bundle",
            ))
        })
}

/// True when the engine has no intraday data at all for the symbol: the technicals skill says
/// the symbol is not covered. Such a symbol is a bad request, not a context of missing domains.
pub fn symbol_not_covered(engine: &MarketContextBundle) -> bool {
    let technicals = output(engine, TECHNICALS_REGIME);
    technicals.status == STATUS_MISSING
        && technicals
            .risk_flags
            .iter()
            .any(|f| f == &format!("{TECHNICALS_REGIME}:missing:symbol_not_covered"))
}

pub fn bundle(engine: &MarketContextBundle) -> Bundle {
    let technicals_out = output(engine, TECHNICALS_REGIME);
    let market_out = output(engine, MARKET_CONTEXT);
    let domains = Domains {
        technicals: technicals(&technicals_out),
        regime: regime(&market_out, &technicals_out),
        news: domain("news", &output(engine, NEWS_SENTIMENT)),
        fundamentals: domain("fundamentals", &output(engine, FUNDAMENTALS)),
    };
    let torghut = [&domains.technicals, &domains.regime];
    let freshness = torghut
        .iter()
        .filter_map(|d| d.freshness_seconds)
        .max()
        .unwrap_or(0);
    let quality = skills::quality(&technicals_out).min(skills::quality(&market_out));
    Bundle {
        context_version: CONTEXT_VERSION,
        symbol: engine.symbol.clone(),
        as_of_utc: engine.as_of_utc.clone(),
        freshness_seconds: freshness,
        quality_score: number(quality),
        source_count: technicals_out.source_count + market_out.source_count,
        risk_flags: domains
            .all()
            .iter()
            .filter_map(|d| status_flag(d.domain, d.state))
            .collect(),
        domains,
    }
}

/// The state of the whole context for Torghut: `ok` when technicals and regime are, `down`
/// when neither has data, else `degraded`. News and fundamentals are reported, not weighed.
pub fn overall_state(bundle: &Bundle) -> &'static str {
    let torghut = [&bundle.domains.technicals, &bundle.domains.regime];
    if torghut.iter().all(|d| d.state == State::Ok) {
        "ok"
    } else if torghut.iter().any(|d| d.state.has_data()) {
        "degraded"
    } else {
        "down"
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainHealth {
    pub state: State,
    pub available: bool,
    pub freshness_seconds: Option<u64>,
    pub max_freshness_seconds: u64,
    pub quality_score: Number,
    pub risk_flags: Vec<String>,
}

impl From<&Domain> for DomainHealth {
    fn from(d: &Domain) -> Self {
        Self {
            state: d.state,
            available: d.state.has_data(),
            freshness_seconds: d.freshness_seconds,
            max_freshness_seconds: d.max_freshness_seconds,
            quality_score: d.quality_score.clone(),
            risk_flags: d.risk_flags.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainsHealth {
    pub technicals: DomainHealth,
    pub regime: DomainHealth,
    pub news: DomainHealth,
    pub fundamentals: DomainHealth,
}

#[cfg(test)]
mod tests {
    use super::*;
    use torghut_policy::skills::{BUNDLE_VERSION, missing_output};
    use torghut_proto::v1::Citation as EngineCitation;

    const AS_OF: &str = "2013-10-08T14:30:00Z";

    fn ok(domain: &str, quality: &str, freshness: u64, payload: &[(&str, &str)]) -> SkillOutput {
        let mut o = missing_output(domain, "IBM", AS_OF, "x");
        o.status = STATUS_OK.to_owned();
        o.quality_score = quality.to_owned();
        o.freshness_seconds = freshness;
        o.source_count = 1;
        o.risk_flags.clear();
        o.payload = payload
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        o
    }

    fn engine(domains: Vec<SkillOutput>) -> MarketContextBundle {
        MarketContextBundle {
            symbol: "IBM".into(),
            as_of_utc: AS_OF.into(),
            context_version: BUNDLE_VERSION.into(),
            quality_score: "0.9".into(),
            min_quality_score: "0.5".into(),
            usable: true,
            risk_flags: Vec::new(),
            domains,
        }
    }

    fn full() -> Vec<SkillOutput> {
        vec![
            ok(
                MARKET_CONTEXT,
                "0.8",
                30,
                &[
                    ("session_phase", "midday"),
                    ("spy_intraday_return", "0.0012"),
                ],
            ),
            ok(NEWS_SENTIMENT, "1", 180, &[("item_count", "3")]),
            ok(FUNDAMENTALS, "0.7", 6000, &[("revenue", "104000000000")]),
            ok(
                TECHNICALS_REGIME,
                "0.9",
                0,
                &[
                    ("last_price", "183.5"),
                    ("macd_signal", "0.17"),
                    ("bid", "183.49"),
                    ("ask", "183.52"),
                    ("realized_vol_annual", "0.14"),
                    ("liquidity_score", "0.94"),
                    ("trend", "up"),
                    ("regime", "trending_up"),
                ],
            ),
        ]
    }

    #[test]
    fn a_full_context_is_camel_case_with_numbers_and_the_torghut_aggregates() {
        let b = bundle(&engine(full()));
        let v = serde_json::to_value(&b).expect("json");
        assert_eq!(v["contextVersion"], CONTEXT_VERSION);
        assert_eq!(v["asOfUtc"], AS_OF);
        assert_eq!(
            v["freshnessSeconds"], 30,
            "the older of technicals and regime"
        );
        assert_eq!(v["qualityScore"], 0.8, "the lower of technicals and regime");
        assert_eq!(v["sourceCount"], 2);
        assert_eq!(v["riskFlags"], serde_json::json!([]));
        let t = &v["domains"]["technicals"];
        assert_eq!(t["domain"], "technicals");
        assert_eq!(t["state"], "ok");
        assert_eq!(t["asOf"], AS_OF);
        assert_eq!(t["maxFreshnessSeconds"], 60);
        assert_eq!(t["payload"]["price"], 183.5);
        assert_eq!(t["payload"]["macdSignal"], 0.17);
        let spread = t["payload"]["spread"].as_f64().expect("spread");
        assert!((spread - 0.03).abs() < 1e-9, "{spread}");
        let r = &v["domains"]["regime"];
        assert_eq!(r["domain"], "regime");
        assert_eq!(r["asOf"], "2013-10-08T14:29:30Z", "the older source's data");
        assert_eq!(r["payload"]["volatility"], 0.14);
        assert_eq!(r["payload"]["liquidityScore"], 0.94);
        assert_eq!(r["payload"]["trend"], "up");
        assert_eq!(r["payload"]["sessionPhase"], "midday");
        assert_eq!(v["domains"]["news"]["domain"], "news");
        assert_eq!(
            v["domains"]["fundamentals"]["payload"]["revenue"],
            104000000000u64
        );
        assert_eq!(overall_state(&b), "ok");
    }

    #[test]
    fn a_failed_source_is_an_error_and_absent_data_is_missing() {
        let mut domains = full();
        domains[3] = missing_output(TECHNICALS_REGIME, "IBM", AS_OF, "failed_after_retries");
        domains[1] = missing_output(NEWS_SENTIMENT, "IBM", AS_OF, "no_recent_news");
        let b = bundle(&engine(domains));
        assert_eq!(b.domains.technicals.state, State::Error);
        assert_eq!(
            b.domains.technicals.freshness_seconds, None,
            "no data, no age"
        );
        assert_eq!(b.domains.technicals.as_of, None);
        assert_eq!(b.domains.regime.state, State::Error, "built on technicals");
        assert_eq!(b.domains.news.state, State::Missing);
        assert_eq!(
            b.risk_flags,
            vec!["technicals_error", "regime_error", "news_missing"]
        );
        assert_eq!(b.quality_score.as_f64(), Some(0.0));
        assert_eq!(
            overall_state(&b),
            "down",
            "regime is built on technicals: neither of Torghut's domains has data"
        );
        assert!(!symbol_not_covered(&engine(full())));

        let mut stale = full();
        stale[0].status = STATUS_STALE.to_owned();
        stale[0].freshness_seconds = 400;
        let b = bundle(&engine(stale));
        assert_eq!(b.domains.regime.state, State::Stale);
        assert_eq!(b.freshness_seconds, 400);
        assert_eq!(b.risk_flags, vec!["regime_stale"]);
        assert_eq!(overall_state(&b), "degraded");
    }

    #[test]
    fn an_uncovered_symbol_is_recognised() {
        let mut domains = full();
        domains[3] = missing_output(TECHNICALS_REGIME, "ZZZZ", AS_OF, "symbol_not_covered");
        assert!(symbol_not_covered(&engine(domains)));
    }

    #[test]
    fn citations_get_full_timestamps_and_no_empty_urls() {
        let mut domains = full();
        domains[2].citations = vec![EngineCitation {
            url: String::new(),
            published_at: Some("2013-07-30".into()),
            source: "sec-edgar".into(),
        }];
        domains[1].citations = vec![EngineCitation {
            url: "https://example.test/n/1".into(),
            published_at: None,
            source: "fixture".into(),
        }];
        let b = bundle(&engine(domains));
        assert_eq!(
            b.domains.fundamentals.citations,
            vec![Citation {
                source: "sec-edgar".into(),
                url: None,
                published_at: "2013-07-30T00:00:00Z".into(),
            }]
        );
        assert_eq!(
            b.domains.news.citations[0].published_at, "2013-10-08T14:27:00Z",
            "the time of the domain's data"
        );
    }

    #[test]
    fn nothing_at_all_is_down() {
        let b = bundle(&engine(Vec::new()));
        assert_eq!(overall_state(&b), "down");
        assert_eq!(b.freshness_seconds, 0);
        assert!(b.risk_flags.contains(&"technicals_missing".to_owned()));
    }

    #[test]
    fn snake_case_keys_become_camel_case() {
        assert_eq!(camel_case("spy_prev_day_return"), "spyPrevDayReturn");
        assert_eq!(camel_case("rsi14"), "rsi14");
    }
}
