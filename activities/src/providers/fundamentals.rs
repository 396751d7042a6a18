//! What `fundamentals` reads: a company's facts in SEC EDGAR's `companyfacts` format, the same
//! for the embedded files ([`super::files::fundamentals`]) and the live API ([`super::edgar`]),
//! with the filing-day rule that says when a fact became public.

use crate::skill::SkillError;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

/// EDGAR `companyfacts` JSON, the parts we read. The same type parses the live API's answers
/// ([`crate::providers::edgar`]) and the embedded files, and writes the embedded subset
/// (`examples/edgar_subset.rs`), so the three cannot drift apart.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanyFacts {
    #[serde(default)]
    pub cik: Option<u64>,
    #[serde(rename = "entityName", default)]
    pub entity_name: String,
    pub facts: BTreeMap<String, BTreeMap<String, Concept>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Concept {
    pub units: BTreeMap<String, Vec<Fact>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Fact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    pub end: NaiveDate,
    /// Written back as a JSON number, as EDGAR sends it (the crate's default writes a string).
    #[serde(serialize_with = "decimal_as_json_number")]
    pub val: Decimal,
    /// The accession number of the filing that reported this value: its provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fy: Option<i32>,
    #[serde(default)]
    pub fp: Option<String>,
    #[serde(default)]
    pub form: Option<String>,
    pub filed: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// JSON only (the raw value is serde_json's): the number's exact decimal text, never via `f64`.
fn decimal_as_json_number<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    serde_json::value::RawValue::from_string(d.normalize().to_string())
        .map_err(S::Error::custom)?
        .serialize(s)
}

impl Fact {
    /// When a fact filed on `filed` is certainly public: 17:30 New York time that day, EDGAR's
    /// cut-off for a filing to carry that day's date (later submissions are dated the next
    /// business day). Company facts carry only the date, so a decision earlier on the filing day
    /// must not see it: the filing may have come in after the decision.
    pub fn visible_from(filed: NaiveDate) -> DateTime<Utc> {
        let cutoff = filed.and_time(EDGAR_FILING_DAY_CUTOFF);
        match chrono_tz::America::New_York.from_local_datetime(&cutoff) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(_, t) => {
                t.with_timezone(&Utc)
            }
            // 17:30 is never skipped by a daylight-time change; were it, the day's end is safe.
            chrono::LocalResult::None => (filed + chrono::Days::new(1))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc(),
        }
    }

    /// Filed by `as_of`, by [`Fact::visible_from`].
    pub fn known_at(&self, as_of: DateTime<Utc>) -> bool {
        Self::visible_from(self.filed) <= as_of
    }
}

const EDGAR_FILING_DAY_CUTOFF: chrono::NaiveTime = match chrono::NaiveTime::from_hms_opt(17, 30, 0)
{
    Some(t) => t,
    None => chrono::NaiveTime::MIN,
};

pub trait FundamentalsProvider: Send + Sync {
    fn company_facts(&self, symbol: &str) -> Result<Option<CompanyFacts>, SkillError>;
}
