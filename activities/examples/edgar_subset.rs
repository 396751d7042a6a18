//! Cuts an SEC EDGAR company-facts document down to what the `fundamentals` skill reads, for the
//! embedded data in `activities/data/fundamentals/` (see its README for provenance).
//!
//! `cargo run -p torghut-activities --example edgar_subset -- IN.json OUT.json [--filed-through YYYY-MM-DD]`
//!
//! The document is parsed and written by the skill's own types (`CompanyFacts`), so the subset
//! is exactly what the live EDGAR provider would have parsed, less: the `dei` taxonomy, every
//! `us-gaap` concept not in `CONCEPTS_READ`, units other than `USD` and `USD/shares`, each
//! concept's label and description, and (with `--filed-through`) facts filed after that date.
//! Values and filing dates are copied unchanged; one fact per line keeps diffs reviewable.

use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use torghut_activities::providers::fundamentals::{CompanyFacts, Concept};
use torghut_activities::skills::fundamentals::CONCEPTS_READ;

const UNITS: &[&str] = &["USD", "USD/shares"];

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output, filed_through) = match &args[..] {
        [i, o] => (i, o, None),
        [i, o, flag, d] if flag == "--filed-through" => (i, o, Some(d.parse::<NaiveDate>()?)),
        _ => {
            return Err("usage: edgar_subset IN.json OUT.json [--filed-through YYYY-MM-DD]".into());
        }
    };
    let facts: CompanyFacts = serde_json::from_str(&std::fs::read_to_string(input)?)
        .map_err(|e| format!("{input}: not EDGAR company facts: {e}"))?;
    let gaap = facts
        .facts
        .get("us-gaap")
        .ok_or_else(|| format!("{input}: no us-gaap facts"))?;
    let mut kept: BTreeMap<String, Concept> = BTreeMap::new();
    for name in CONCEPTS_READ {
        let Some(concept) = gaap.get(*name) else {
            continue;
        };
        let units: BTreeMap<String, _> = concept
            .units
            .iter()
            .filter(|(u, _)| UNITS.contains(&u.as_str()))
            .map(|(u, fs)| {
                let fs: Vec<_> = fs
                    .iter()
                    .filter(|f| filed_through.is_none_or(|d| f.filed <= d))
                    .cloned()
                    .collect();
                (u.clone(), fs)
            })
            .filter(|(_, fs)| !fs.is_empty())
            .collect();
        if !units.is_empty() {
            kept.insert((*name).to_owned(), Concept { units });
        }
    }

    let mut out = String::new();
    writeln!(out, "{{")?;
    writeln!(out, "  \"cik\": {},", serde_json::to_string(&facts.cik)?)?;
    writeln!(
        out,
        "  \"entityName\": {},",
        serde_json::to_string(&facts.entity_name)?
    )?;
    writeln!(out, "  \"facts\": {{\"us-gaap\": {{")?;
    let mut total = 0;
    for (ci, (name, concept)) in kept.iter().enumerate() {
        writeln!(out, "    {}: {{\"units\": {{", serde_json::to_string(name)?)?;
        for (ui, (unit, fs)) in concept.units.iter().enumerate() {
            writeln!(out, "      {}: [", serde_json::to_string(unit)?)?;
            for (fi, f) in fs.iter().enumerate() {
                let sep = if fi + 1 < fs.len() { "," } else { "" };
                writeln!(out, "        {}{sep}", serde_json::to_string(f)?)?;
                total += 1;
            }
            let sep = if ui + 1 < concept.units.len() {
                ","
            } else {
                ""
            };
            writeln!(out, "      ]{sep}")?;
        }
        let sep = if ci + 1 < kept.len() { "," } else { "" };
        writeln!(out, "    }}}}{sep}")?;
    }
    writeln!(out, "  }}}}")?;
    writeln!(out, "}}")?;

    // The subset must read back as the same facts: the skill's parser is the judge.
    let back: CompanyFacts = serde_json::from_str(&out)?;
    let back_total: usize = back
        .facts
        .values()
        .flat_map(|g| g.values())
        .flat_map(|c| c.units.values())
        .map(Vec::len)
        .sum();
    if back_total != total {
        return Err(format!("wrote {total} facts but {back_total} read back").into());
    }
    std::fs::write(output, out)?;
    eprintln!(
        "{output}: {total} facts in {} concepts{}",
        kept.len(),
        filed_through.map_or_else(String::new, |d| format!(", filed through {d}"))
    );
    Ok(())
}
