//! `fundamentals`: normalised factors from SEC EDGAR company facts, as known at as-of.
//!
//! Only facts *filed* by as-of count, so a replay never sees a 10-Q published later. Freshness is
//! judged against the filing calendar, not a clock: the latest report (10-Q or 10-K) is current
//! until the next one is due — the next quarter's end plus 45 days, or plus 60 days when that
//! quarter closes the fiscal year (a 10-K) — and only then flagged `filing_overdue`.

use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use torghut_policy::skills::FUNDAMENTALS;
use torghut_proto::v1::SkillOutput;

/// EDGAR `companyfacts` JSON, the parts we read.
#[derive(Debug, Clone, Deserialize)]
pub struct CompanyFacts {
    #[serde(default)]
    pub cik: Option<u64>,
    #[serde(rename = "entityName", default)]
    pub entity_name: String,
    pub facts: BTreeMap<String, BTreeMap<String, Concept>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Concept {
    pub units: BTreeMap<String, Vec<Fact>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fact {
    pub end: NaiveDate,
    pub val: Decimal,
    #[serde(default)]
    pub fp: Option<String>,
    #[serde(default)]
    pub form: Option<String>,
    pub filed: NaiveDate,
    #[serde(default)]
    pub start: Option<NaiveDate>,
}

pub trait FundamentalsProvider: Send + Sync {
    fn company_facts(&self, symbol: &str) -> Result<Option<CompanyFacts>, SkillError>;
}

pub fn embedded_fundamentals_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/fundamentals"))
}

/// Reads `<dir>/<SYMBOL>.json` (EDGAR company-facts format); no file means no facts.
pub struct FileFundamentalsProvider {
    dir: PathBuf,
}

impl FileFundamentalsProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl FundamentalsProvider for FileFundamentalsProvider {
    fn company_facts(&self, symbol: &str) -> Result<Option<CompanyFacts>, SkillError> {
        let path = self.dir.join(format!("{symbol}.json"));
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                SkillError::Unavailable(format!("{}: not EDGAR company facts: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SkillError::Unavailable(format!("{}: {e}", path.display()))),
        }
    }
}

/// Annual (10-K, full-year) values of a concept filed by `as_of`, latest period first.
fn annual(facts: &CompanyFacts, concepts: &[&str], as_of: NaiveDate) -> Vec<Fact> {
    for name in concepts {
        if let Some(c) = facts.facts.get("us-gaap").and_then(|g| g.get(*name)) {
            let mut by_end: BTreeMap<NaiveDate, Fact> = BTreeMap::new();
            for f in c.units.get("USD").into_iter().flatten() {
                let full_year = f.fp.as_deref() == Some("FY")
                    && f.form.as_deref().is_some_and(|x| x.starts_with("10-K"));
                let year_long = f.start.is_none_or(|s| (f.end - s).num_days() > 300);
                if f.filed <= as_of && full_year && year_long {
                    by_end.insert(f.end, f.clone());
                }
            }
            if !by_end.is_empty() {
                return by_end.into_values().rev().collect();
            }
        }
    }
    Vec::new()
}

/// Annual per-share values (`USD/shares` unit), latest first.
fn annual_per_share(facts: &CompanyFacts, concept: &str, as_of: NaiveDate) -> Vec<Fact> {
    let mut v: Vec<Fact> = facts
        .facts
        .get("us-gaap")
        .and_then(|g| g.get(concept))
        .and_then(|c| c.units.get("USD/shares"))
        .into_iter()
        .flatten()
        .filter(|f| f.filed <= as_of && f.fp.as_deref() == Some("FY"))
        .cloned()
        .collect();
    v.sort_by_key(|f| std::cmp::Reverse(f.end));
    v
}

const REVENUE_CONCEPTS: &[&str] = &[
    "Revenues",
    "RevenueFromContractWithCustomerExcludingAssessedTax",
    "SalesRevenueNet",
];

/// The most recent report (any form) filed by `as_of`: the latest filing date, and within it
/// the latest period (a 10-K also restates prior years).
fn latest_report(facts: &CompanyFacts, as_of: NaiveDate) -> Option<Fact> {
    let gaap = facts.facts.get("us-gaap")?;
    REVENUE_CONCEPTS
        .iter()
        .filter_map(|c| gaap.get(*c))
        .flat_map(|c| c.units.get("USD").into_iter().flatten())
        .filter(|f| f.filed <= as_of)
        .max_by_key(|f| (f.filed, f.end))
        .cloned()
}

/// When the report after `latest` is due: the next fiscal quarter's end plus the SEC deadline
/// (45 days for a 10-Q; 60 for a 10-K, the large-accelerated-filer deadline, after Q3).
fn next_expected_filing(latest: &Fact) -> Option<NaiveDate> {
    let next_end = latest.end.checked_add_months(chrono::Months::new(3))?;
    let days = if latest.fp.as_deref() == Some("Q3") {
        60
    } else if latest.fp.as_deref() == Some("FY") || latest.fp.is_some() {
        45
    } else {
        // No fiscal period on the fact: assume an annual filer.
        return latest
            .end
            .checked_add_months(chrono::Months::new(12))?
            .checked_add_days(chrono::Days::new(60));
    };
    next_end.checked_add_days(chrono::Days::new(days))
}

fn growth(now: Decimal, before: Decimal) -> Option<Decimal> {
    (!before.is_zero()).then(|| (now - before) / before.abs())
}

pub fn fundamentals(
    provider: &dyn FundamentalsProvider,
    symbol: &str,
    as_of: DateTime<Utc>,
    price: Option<Decimal>,
) -> Result<SkillOutput, SkillError> {
    let day = as_of.date_naive();
    // Freshness is judged by the filing calendar below; the builder's target is set past it.
    let out = OutputBuilder::new(FUNDAMENTALS, symbol, as_of, u64::MAX);
    let Some(facts) = provider.company_facts(symbol)? else {
        return Ok(out.missing("no_company_facts"));
    };
    let revenue = annual(&facts, REVENUE_CONCEPTS, day);
    let income = annual(&facts, &["NetIncomeLoss"], day);
    let liabilities = annual(&facts, &["Liabilities"], day);
    let equity = annual(&facts, &["StockholdersEquity"], day);
    let (Some(latest), Some(report)) = (revenue.first(), latest_report(&facts, day)) else {
        return Ok(out.missing("no_annual_revenue_filed_by_as_of"));
    };
    let next_filing = next_expected_filing(&report);
    let mut out = out
        .value("revenue", latest.val)
        .label("period_end", latest.end.to_string())
        .label("last_filed", report.filed.to_string())
        .label("last_report_period_end", report.end.to_string())
        .label(
            "last_report_form",
            report.form.clone().unwrap_or_else(|| "unknown".to_owned()),
        )
        .label(
            "next_expected_filing",
            next_filing.map_or_else(|| "unknown".to_owned(), |d| d.to_string()),
        )
        .sources(1)
        .citation(
            facts.cik.map_or_else(String::new, |c| {
                format!("https://data.sec.gov/api/xbrl/companyfacts/CIK{c:010}.json")
            }),
            Some(latest.filed.to_string()),
            "sec-edgar",
        );
    let mut signal = Decimal::ZERO;
    let mut quality = Decimal::new(6, 1);
    let rev_growth = revenue.get(1).and_then(|p| growth(latest.val, p.val));
    if let Some(g) = rev_growth {
        out = out.value("revenue_growth", g);
        signal += Decimal::new(5, 1) * (g * Decimal::new(5, 0)).clamp(-Decimal::ONE, Decimal::ONE);
        quality += Decimal::new(1, 1);
    }
    let margin_of = |i: usize| {
        let inc = income
            .iter()
            .find(|f| Some(f.end) == revenue.get(i).map(|r| r.end))?;
        let rev = revenue.get(i)?;
        (!rev.val.is_zero()).then(|| inc.val / rev.val)
    };
    if let Some(m) = margin_of(0) {
        out = out.value("net_margin", m);
        quality += Decimal::new(1, 1);
        if let Some(prev) = margin_of(1) {
            out = out.value("net_margin_delta", m - prev);
        }
    }
    if let (Some(i0), Some(i1)) = (income.first(), income.get(1))
        && let Some(g) = growth(i0.val, i1.val)
    {
        out = out.value("earnings_growth", g);
        signal += Decimal::new(5, 1) * (g * Decimal::new(2, 0)).clamp(-Decimal::ONE, Decimal::ONE);
    }
    if let (Some(l), Some(e)) = (liabilities.first(), equity.first())
        && e.val > Decimal::ZERO
    {
        let lev = l.val / e.val;
        out = out.value("leverage", lev);
        if lev > Decimal::new(3, 0) {
            out = out.flag("high_leverage");
            signal -= Decimal::new(2, 1);
        }
        quality += Decimal::new(1, 1);
    }
    // P/E needs shares outstanding to turn net income into EPS; use diluted EPS when filed.
    let eps = annual_per_share(&facts, "EarningsPerShareDiluted", day);
    if let (Some(p), Some(e)) = (price, eps.first())
        && e.val > Decimal::ZERO
    {
        out = out.value("eps_diluted", e.val).value("pe_ratio", p / e.val);
    }
    let freshness = (as_of
        - report
            .filed
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc())
    .num_seconds()
    .max(0) as u64;
    if next_filing.is_some_and(|due| day > due) {
        out = out.flag("filing_overdue");
        quality /= Decimal::TWO;
    }
    Ok(out
        .value("signal", signal.clamp(-Decimal::ONE, Decimal::ONE))
        .finish(freshness, quality))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    struct Fixed(CompanyFacts);
    impl FundamentalsProvider for Fixed {
        fn company_facts(&self, _: &str) -> Result<Option<CompanyFacts>, SkillError> {
            Ok(Some(self.0.clone()))
        }
    }

    /// Synthetic company facts in the EDGAR shape (not real filings).
    fn facts() -> CompanyFacts {
        serde_json::from_str(r#"{"cik": 1, "entityName": "Synthetic Co", "facts": {"us-gaap": {
          "Revenues": {"units": {"USD": [
            {"start":"2011-01-01","end":"2011-12-31","val":1000,"fy":2011,"fp":"FY","form":"10-K","filed":"2012-02-20"},
            {"start":"2012-01-01","end":"2012-12-31","val":1200,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"},
            {"start":"2013-01-01","end":"2013-12-31","val":900,"fy":2013,"fp":"FY","form":"10-K","filed":"2014-02-20"},
            {"start":"2013-04-01","end":"2013-06-30","val":310,"fy":2013,"fp":"Q2","form":"10-Q","filed":"2013-07-30"}]}},
          "NetIncomeLoss": {"units": {"USD": [
            {"start":"2011-01-01","end":"2011-12-31","val":100,"fy":2011,"fp":"FY","form":"10-K","filed":"2012-02-20"},
            {"start":"2012-01-01","end":"2012-12-31","val":150,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"}]}},
          "Liabilities": {"units": {"USD": [{"end":"2012-12-31","val":400,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"}]}},
          "StockholdersEquity": {"units": {"USD": [{"end":"2012-12-31","val":800,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"}]}}
        }}}"#).expect("synthetic facts")
    }

    #[test]
    fn factors_use_only_what_was_filed_by_as_of() {
        let as_of = Utc
            .with_ymd_and_hms(2013, 10, 8, 14, 30, 0)
            .single()
            .expect("time");
        let out = fundamentals(&Fixed(facts()), "SYN", as_of, Some(dec!(10))).expect("skill");
        assert_eq!(
            out.payload["revenue"], "1200",
            "the FY2013 filing is in the future"
        );
        assert_eq!(out.payload["revenue_growth"], "0.2");
        assert_eq!(out.payload["net_margin"], "0.125");
        assert_eq!(out.payload["net_margin_delta"], "0.025");
        assert_eq!(out.payload["earnings_growth"], "0.5");
        assert_eq!(out.payload["leverage"], "0.5");
        assert_eq!(out.status, "ok");
        assert_eq!(out.payload["last_filed"], "2013-07-30", "the Q2 10-Q");
        assert_eq!(
            out.payload["next_expected_filing"], "2013-11-14",
            "Q3 ends 2013-09-30; a 10-Q is due 45 days later"
        );
        assert!(out.risk_flags.is_empty(), "{:?}", out.risk_flags);
        assert!(out.payload["signal"].parse::<f64>().expect("signal") > 0.5);
    }

    #[test]
    fn an_overdue_filing_is_flagged_and_no_facts_is_missing() {
        let late = Utc
            .with_ymd_and_hms(2013, 12, 2, 0, 0, 0)
            .single()
            .expect("time");
        // The Q3 10-Q was due 2013-11-14 and never came; the Q2 figures are all there is.
        let out = fundamentals(&Fixed(facts()), "SYN", late, None).expect("skill");
        assert!(
            out.risk_flags
                .contains(&"fundamentals:filing_overdue".to_owned()),
            "{:?}",
            out.risk_flags
        );
        let none = fundamentals(
            &FileFundamentalsProvider::new(embedded_fundamentals_dir()),
            "IBM",
            late,
            None,
        )
        .expect("skill");
        assert_eq!(none.status, "missing");
    }
}
