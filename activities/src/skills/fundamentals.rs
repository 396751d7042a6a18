//! `fundamentals`: normalised factors from SEC EDGAR company facts, as known at as-of.
//!
//! Only facts *filed* by as-of count (from 17:30 New York time on the filing date, see
//! [`Fact::visible_from`]), so a replay never sees a 10-Q published later, nor a
//! per-share value restated after a later stock split (Apple's 10-K of 2014-10-27 restates fiscal
//! 2013 diluted EPS from 39.75 to 5.68 for the 7-for-1 split of 2014-06-09; a decision before
//! that filing sees 39.75). When a period was reported more than once by as-of, the latest filing
//! wins. Freshness is judged against the filing calendar, not a clock: the latest report (10-Q or
//! 10-K) is current until the next one is due — the next quarter's end plus 45 days, or plus 60
//! days when that quarter closes the fiscal year (a 10-K) — and only then flagged
//! `filing_overdue`.

use crate::providers::bars::BarProvider;
use crate::providers::fundamentals::{CompanyFacts, Fact, FundamentalsProvider};
use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use torghut_policy::skills::FUNDAMENTALS;
use torghut_proto::v1::SkillOutput;

/// Every `us-gaap` concept the skill reads, and so everything the embedded files need to hold.
pub const CONCEPTS_READ: &[&str] = &[
    "Revenues",
    "RevenueFromContractWithCustomerExcludingAssessedTax",
    "SalesRevenueNet",
    "NetIncomeLoss",
    "Liabilities",
    "StockholdersEquity",
    EPS_DILUTED,
];

const EPS_DILUTED: &str = "EarningsPerShareDiluted";

/// Whether a fact is a full fiscal year from an annual report: a 10-K (or 10-K/A) with `fp` FY
/// and, when it has a start, a year-long period (a 10-K also reports its fourth quarter, with
/// `fp` FY and a three-month period).
fn is_annual(f: &Fact) -> bool {
    f.fp.as_deref() == Some("FY")
        && f.form.as_deref().is_some_and(|x| x.starts_with("10-K"))
        && f.start.is_none_or(|s| (f.end - s).num_days() > 300)
}

/// Annual values of `concepts` (one quantity reported under several names over the years) in
/// `unit`, as known at `as_of`: only facts filed by then, and for a period reported more than once
/// (a later 10-K repeats earlier years, restated after a split) the latest such filing. Latest
/// period first.
fn annual_in(
    facts: &CompanyFacts,
    concepts: &[&str],
    unit: &str,
    as_of: DateTime<Utc>,
) -> Vec<Fact> {
    let Some(gaap) = facts.facts.get("us-gaap") else {
        return Vec::new();
    };
    let mut by_end: BTreeMap<NaiveDate, Fact> = BTreeMap::new();
    let known = concepts
        .iter()
        .filter_map(|name| gaap.get(*name))
        .flat_map(|c| c.units.get(unit).into_iter().flatten())
        .filter(|f| f.known_at(as_of) && is_annual(f));
    for f in known {
        if by_end.get(&f.end).is_none_or(|seen| f.filed > seen.filed) {
            by_end.insert(f.end, f.clone());
        }
    }
    by_end.into_values().rev().collect()
}

fn annual(facts: &CompanyFacts, concepts: &[&str], as_of: DateTime<Utc>) -> Vec<Fact> {
    annual_in(facts, concepts, "USD", as_of)
}

/// Annual per-share values (`USD/shares` unit), latest first, on the share basis of their filing.
fn annual_per_share(facts: &CompanyFacts, concept: &str, as_of: DateTime<Utc>) -> Vec<Fact> {
    annual_in(facts, &[concept], "USD/shares", as_of)
}

/// How far the price may have moved since the EPS was filed before a P/E is no longer trusted:
/// EDGAR facts say nothing of a split until the next filing restates them, so a price on the
/// new share basis over EPS on the old one (Apple on 2014-06-09: $93 over $39.75) would read as a
/// P/E of 2.3. A move this large in a few months is a split or an event no stale P/E describes.
const MAX_PRICE_MOVE_SINCE_EPS_FILING: Decimal = Decimal::from_parts(25, 0, 0, false, 1);

/// Sessions of daily bars searched for the close on the EPS filing date: an annual EPS is at most
/// about 15 months old before the next 10-K replaces it.
const DAILY_LOOKBACK_FOR_EPS_FILING: usize = 400;

/// The names revenue has been reported under: Apple used `SalesRevenueNet` until 2018, one
/// `Revenues` filing in 2018, then the ASC 606 concept; all are read as one series.
const REVENUE_CONCEPTS: &[&str] = &[
    "Revenues",
    "RevenueFromContractWithCustomerExcludingAssessedTax",
    "SalesRevenueNet",
];

/// The most recent report (any form) filed by `as_of`: the latest filing date, and within it
/// the latest period (a 10-K also restates prior years).
fn latest_report(facts: &CompanyFacts, as_of: DateTime<Utc>) -> Option<Fact> {
    let gaap = facts.facts.get("us-gaap")?;
    REVENUE_CONCEPTS
        .iter()
        .filter_map(|c| gaap.get(*c))
        .flat_map(|c| c.units.get("USD").into_iter().flatten())
        .filter(|f| f.known_at(as_of))
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

/// `bars` value the company: the last trade visible at as-of, and the daily close on the EPS
/// filing date to tell whether that EPS is on today's share basis.
pub fn fundamentals(
    provider: &dyn FundamentalsProvider,
    bars: &dyn BarProvider,
    symbol: &str,
    as_of: DateTime<Utc>,
) -> Result<SkillOutput, SkillError> {
    let day = as_of.date_naive();
    // Freshness is judged by the filing calendar below; the builder's target is set past it.
    let out = OutputBuilder::new(FUNDAMENTALS, symbol, as_of, u64::MAX);
    let Some(facts) = provider.company_facts(symbol)? else {
        return Ok(out.missing("no_company_facts"));
    };
    let revenue = annual(&facts, REVENUE_CONCEPTS, as_of);
    let income = annual(&facts, &["NetIncomeLoss"], as_of);
    let liabilities = annual(&facts, &["Liabilities"], as_of);
    let equity = annual(&facts, &["StockholdersEquity"], as_of);
    let (Some(latest), Some(report)) = (revenue.first(), latest_report(&facts, as_of)) else {
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
    let eps = annual_per_share(&facts, EPS_DILUTED, as_of);
    if let Some(e) = eps.first().filter(|e| e.val > Decimal::ZERO) {
        out = out
            .value("eps_diluted", e.val)
            .label("eps_filed", e.filed.to_string());
        let last = bars
            .minute_bars(symbol, as_of, 1)
            .ok()
            .and_then(|b| b.last().map(|b| b.close));
        let at_filing = bars
            .daily_bars(symbol, as_of, DAILY_LOOKBACK_FOR_EPS_FILING)
            .ok()
            .and_then(|b| b.iter().rev().find(|d| d.date <= e.filed).map(|d| d.close));
        match (last, at_filing) {
            (Some(p), Some(then)) if then > Decimal::ZERO => {
                let moved = p / then;
                let limit = MAX_PRICE_MOVE_SINCE_EPS_FILING;
                if moved <= limit && moved >= Decimal::ONE / limit {
                    out = out.value("pe_ratio", p / e.val);
                } else {
                    out = out.flag("per_share_basis_changed");
                }
            }
            (None, _) => out = out.label("pe_ratio_omitted", "no_price_at_as_of"),
            _ => out = out.label("pe_ratio_omitted", "no_price_at_eps_filing"),
        }
    }
    let freshness = (as_of - Fact::visible_from(report.filed))
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
    use crate::providers::bars::{BarError, DailyBar, MinuteBar};
    use crate::providers::files::bars::{FileBarProvider, embedded_dir};
    use crate::providers::files::fundamentals::{
        FileFundamentalsProvider, embedded_fundamentals_dir,
    };
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    struct Fixed(CompanyFacts);
    impl FundamentalsProvider for Fixed {
        fn company_facts(&self, _: &str) -> Result<Option<CompanyFacts>, SkillError> {
            Ok(Some(self.0.clone()))
        }
    }

    /// A last trade and one daily close on a given day, for the synthetic company.
    struct Prices {
        last: Decimal,
        close_day: NaiveDate,
        close: Decimal,
    }
    impl BarProvider for Prices {
        fn minute_bars(
            &self,
            _: &str,
            as_of: DateTime<Utc>,
            _: usize,
        ) -> Result<Vec<MinuteBar>, BarError> {
            let p = self.last;
            Ok(vec![MinuteBar {
                ts: as_of - chrono::Duration::minutes(1),
                open: p,
                high: p,
                low: p,
                close: p,
                volume: 1,
                bid: None,
                ask: None,
            }])
        }
        fn daily_bars(
            &self,
            _: &str,
            _: DateTime<Utc>,
            _: usize,
        ) -> Result<Vec<DailyBar>, BarError> {
            let c = self.close;
            Ok(vec![DailyBar {
                date: self.close_day,
                open: c,
                high: c,
                low: c,
                close: c,
                volume: 1,
            }])
        }
    }

    fn bars() -> FileBarProvider {
        FileBarProvider::new(embedded_dir())
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("time")
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
          "StockholdersEquity": {"units": {"USD": [{"end":"2012-12-31","val":800,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"}]}},
          "EarningsPerShareDiluted": {"units": {"USD/shares": [
            {"start":"2012-10-01","end":"2012-12-31","val":0.5,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"},
            {"start":"2012-01-01","end":"2012-12-31","val":2,"fy":2012,"fp":"FY","form":"10-K","filed":"2013-02-20"}]}}
        }}}"#).expect("synthetic facts")
    }

    fn prices(last: Decimal, close_at_filing: Decimal) -> Prices {
        Prices {
            last,
            close_day: NaiveDate::from_ymd_opt(2013, 2, 20).expect("date"),
            close: close_at_filing,
        }
    }

    #[test]
    fn factors_use_only_what_was_filed_by_as_of() {
        let as_of = utc(2013, 10, 8, 14, 30);
        let bars = prices(dec!(30), dec!(28));
        let out = fundamentals(&Fixed(facts()), &bars, "SYN", as_of).expect("skill");
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
        assert_eq!(
            out.payload["eps_diluted"], "2",
            "the full year's EPS, not the fourth quarter's that the same 10-K reports"
        );
        assert_eq!(out.payload["pe_ratio"], "15");
        assert!(out.risk_flags.is_empty(), "{:?}", out.risk_flags);
        assert!(out.payload["signal"].parse::<f64>().expect("signal") > 0.5);
    }

    #[test]
    fn a_filing_date_is_public_from_the_edgar_cut_off_in_new_york() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(
            Fact::visible_from(d(2014, 6, 9)),
            utc(2014, 6, 9, 21, 30),
            "EDT"
        );
        assert_eq!(
            Fact::visible_from(d(2014, 1, 28)),
            utc(2014, 1, 28, 22, 30),
            "EST"
        );
    }

    #[test]
    fn a_price_on_a_new_share_basis_gets_no_pe_against_old_eps() {
        // A 7-for-1 split after the EPS was filed: $30 a share now, $210 then.
        let bars = prices(dec!(30), dec!(210));
        let out =
            fundamentals(&Fixed(facts()), &bars, "SYN", utc(2013, 10, 8, 14, 30)).expect("skill");
        assert_eq!(out.payload["eps_diluted"], "2");
        assert!(!out.payload.contains_key("pe_ratio"), "{:?}", out.payload);
        assert_eq!(
            out.risk_flags,
            vec!["fundamentals:per_share_basis_changed".to_owned()]
        );
        assert_eq!(out.status, "ok", "the other factors still hold");
    }

    #[test]
    fn an_overdue_filing_is_flagged_and_no_facts_is_missing() {
        let late = utc(2013, 12, 2, 0, 0);
        // The Q3 10-Q was due 2013-11-14 and never came; the Q2 figures are all there is.
        let out = fundamentals(&Fixed(facts()), &bars(), "SYN", late).expect("skill");
        assert!(
            out.risk_flags
                .contains(&"fundamentals:filing_overdue".to_owned()),
            "{:?}",
            out.risk_flags
        );
        assert_eq!(
            out.payload["pe_ratio_omitted"], "no_price_at_as_of",
            "no bars for SYN: said, not defaulted"
        );
    }

    fn embedded() -> FileFundamentalsProvider {
        FileFundamentalsProvider::new(embedded_fundamentals_dir())
    }

    #[test]
    fn ibm_bac_and_aig_have_no_company_facts_and_say_so() {
        for symbol in ["IBM", "BAC", "AIG", "SPY"] {
            let out = fundamentals(&embedded(), &bars(), symbol, utc(2013, 10, 8, 14, 30))
                .expect("skill");
            assert_eq!(out.status, "missing", "{symbol}");
            assert_eq!(
                out.risk_flags,
                vec!["fundamentals:missing:no_company_facts".to_owned()],
                "{symbol}"
            );
        }
    }

    #[test]
    fn aapl_is_live_on_every_embedded_day() {
        for (d, h) in [(5, 14), (5, 19), (6, 14), (6, 19), (9, 14), (9, 19)] {
            let as_of = utc(2014, 6, d, h, 30);
            let out = fundamentals(&embedded(), &bars(), "AAPL", as_of).expect("skill");
            assert_eq!(out.status, "ok", "{as_of}: {out:?}");
            assert!(
                torghut_policy::skills::quality(&out) > Decimal::ZERO,
                "{out:?}"
            );
            // Fiscal 2013 (ended 2013-09-28) from the 10-K filed 2013-10-30, in SalesRevenueNet.
            assert_eq!(out.payload["revenue"], "170910000000");
            assert_eq!(out.payload["period_end"], "2013-09-28");
            assert_eq!(
                out.payload["last_filed"], "2014-04-24",
                "the fiscal Q2 10-Q"
            );
            assert_eq!(out.payload["last_report_form"], "10-Q");
            assert_eq!(out.payload["next_expected_filing"], "2014-08-13");
            assert!(
                out.citations[0].url.ends_with("/CIK0000320193.json"),
                "{:?}",
                out.citations
            );
        }
    }

    #[test]
    fn the_worker_s_embedded_providers_give_aapl_a_live_domain() {
        let providers = crate::context::Providers::embedded().expect("providers");
        for d in [5, 6, 9] {
            let out = providers
                .run_skill(
                    FUNDAMENTALS,
                    "AAPL",
                    utc(2014, 6, d, 15, 0),
                    &BTreeMap::new(),
                )
                .expect("skill");
            assert_eq!(out.status, "ok", "{out:?}");
            assert!(torghut_policy::skills::quality(&out) > Decimal::ZERO);
            assert!(out.payload.contains_key("signal"), "{out:?}");
        }
    }

    #[test]
    fn a_fact_is_not_used_before_its_filing_day_cut_off() {
        // Apple filed its fiscal 2013 10-K on 2013-10-30; a filing with that date is public by
        // 17:30 New York time (21:30 UTC in daylight time), and not certainly before.
        for as_of in [utc(2013, 10, 29, 23, 59), utc(2013, 10, 30, 21, 29)] {
            let before = fundamentals(&embedded(), &bars(), "AAPL", as_of).expect("skill");
            assert_eq!(before.payload["period_end"], "2012-09-29", "{as_of}");
            assert_eq!(before.payload["revenue"], "156508000000", "fiscal 2012");
            assert_eq!(before.payload["eps_diluted"], "44.15");
        }
        let on =
            fundamentals(&embedded(), &bars(), "AAPL", utc(2013, 10, 30, 21, 30)).expect("skill");
        assert_eq!(on.payload["period_end"], "2013-09-28");
        assert_eq!(on.payload["revenue"], "170910000000", "fiscal 2013");
        assert_eq!(on.payload["eps_diluted"], "39.75");
        assert_eq!(on.payload["last_filed"], "2013-10-30");
    }

    #[test]
    fn split_restated_eps_is_not_seen_before_the_filing_that_restated_it() {
        // The 7-for-1 split took effect 2014-06-09; the 10-K of 2014-10-27 restated fiscal 2013
        // diluted EPS from 39.75 to 5.68. Until then a decision sees what had been filed.
        let facts = embedded()
            .company_facts("AAPL")
            .expect("read")
            .expect("AAPL facts");
        let restated = facts.facts["us-gaap"][EPS_DILUTED].units["USD/shares"]
            .iter()
            .any(|f| f.end.to_string() == "2013-09-28" && f.val == dec!(5.68));
        assert!(restated, "the embedded file holds the restated value");
        for as_of in [utc(2014, 6, 9, 19, 0), utc(2014, 10, 27, 21, 29)] {
            let out = fundamentals(&embedded(), &bars(), "AAPL", as_of).expect("skill");
            assert_eq!(out.payload["eps_diluted"], "39.75", "{as_of}");
        }
        let after =
            fundamentals(&embedded(), &bars(), "AAPL", utc(2014, 10, 27, 21, 30)).expect("skill");
        assert_eq!(
            after.payload["eps_diluted"], "6.45",
            "fiscal 2014, on the post-split basis"
        );
        assert_eq!(after.payload["eps_filed"], "2014-10-27");
    }

    #[test]
    fn aapl_after_the_split_gets_no_pe_from_pre_split_eps() {
        let bars = FileBarProvider::new(embedded_dir());
        let before =
            fundamentals(&embedded(), &bars, "AAPL", utc(2014, 6, 6, 15, 0)).expect("skill");
        let pe = before.payload["pe_ratio"].parse::<f64>().expect("pe");
        assert!(
            (10.0..25.0).contains(&pe),
            "a pre-split price over 39.75: {pe}"
        );
        assert!(before.risk_flags.is_empty(), "{:?}", before.risk_flags);
        let after =
            fundamentals(&embedded(), &bars, "AAPL", utc(2014, 6, 9, 15, 0)).expect("skill");
        assert!(
            !after.payload.contains_key("pe_ratio"),
            "{:?}",
            after.payload
        );
        assert_eq!(
            after.risk_flags,
            vec!["fundamentals:per_share_basis_changed".to_owned()]
        );
        assert_eq!(after.status, "ok");
    }

    #[test]
    fn the_embedded_file_holds_only_what_the_skill_reads() {
        let facts = embedded()
            .company_facts("AAPL")
            .expect("read")
            .expect("AAPL facts");
        assert_eq!(facts.cik, Some(320193));
        assert_eq!(facts.facts.keys().collect::<Vec<_>>(), ["us-gaap"]);
        for (name, concept) in &facts.facts["us-gaap"] {
            assert!(CONCEPTS_READ.contains(&name.as_str()), "{name}");
            for (unit, fs) in &concept.units {
                assert!(["USD", "USD/shares"].contains(&unit.as_str()), "{unit}");
                assert!(
                    fs.iter().all(|f| f.accn.is_some()),
                    "every fact names its filing"
                );
            }
        }
    }
}
