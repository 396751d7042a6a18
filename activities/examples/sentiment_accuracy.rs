//! Report of the news-sentiment scorer's accuracy on the crate's labelled finance sentences.
//!
//! `cargo run -p torghut-activities --example sentiment_accuracy --release`
//!
//! Prints dev and test figures for the plain VADER lexicon and for the finance-aware scorer, next
//! to the majority-class baseline, so the finance layer's value is measured rather than claimed;
//! then lists the test sentences the finance-aware scorer gets wrong. Scorer changes are chosen on
//! dev; test is the held-out figure (see `activities/data/labelled/README.md`). When tuning, list
//! the dev errors instead, so the choices never look at test:
//!
//! `cargo run -p torghut-activities --example sentiment_accuracy --release -- --errors dev`

use std::error::Error;
use torghut_activities::skills::news::SentimentScorer;
use torghut_activities::skills::sentiment_eval::{
    Evaluation, LabelledSentence, Polarity, SKILL_NEUTRAL_BAND, Split, constant_baseline,
    embedded_labelled_path, evaluate, load_labelled, majority_label, predict,
};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let errors_of = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["--errors", "test"] => Split::Test,
        ["--errors", "dev"] => Split::Dev,
        _ => return Err(format!("unknown arguments {args:?}; usage: [--errors dev|test]").into()),
    };
    let path = embedded_labelled_path();
    let rows = load_labelled(&path)?;
    let split = |s: Split| rows.iter().filter(move |r| r.split == s);
    let dev: Vec<&LabelledSentence> = split(Split::Dev).collect();
    let test: Vec<&LabelledSentence> = split(Split::Test).collect();
    let vader = SentimentScorer::embedded_vader_only();
    let finance = SentimentScorer::embedded();
    let majority = majority_label(dev.iter().copied())
        .ok_or("the dev split is empty: nothing to pick a majority class from")?;

    println!("Labelled set: {}", path.display());
    println!(
        "{} sentences: dev {}, test {}; neutral band ±{SKILL_NEUTRAL_BAND} (as in news_sentiment)",
        rows.len(),
        dev.len(),
        test.len()
    );
    for (name, part) in [("dev", &dev), ("test", &test)] {
        println!("\n=== {name} split ({} sentences) ===", part.len());
        let base = constant_baseline(majority, part.iter().copied());
        print_summary(
            &format!("majority baseline (always {majority}, picked on dev)"),
            &base,
        );
        let v = evaluate(&vader, part.iter().copied(), SKILL_NEUTRAL_BAND);
        print_summary("VADER lexicon only", &v);
        print_detail(&v);
        let f = evaluate(&finance, part.iter().copied(), SKILL_NEUTRAL_BAND);
        print_summary("finance-aware scorer", &f);
        print_detail(&f);
    }

    let (errors_name, errors_rows) = match errors_of {
        Split::Dev => ("dev", &dev),
        Split::Test => ("test", &test),
    };
    let wrong: Vec<_> = predict(&finance, errors_rows.iter().copied(), SKILL_NEUTRAL_BAND)
        .into_iter()
        .filter(|p| p.predicted != p.row.label)
        .collect();
    println!(
        "\n=== {errors_name} sentences the finance-aware scorer gets wrong ({} of {}) ===",
        wrong.len(),
        errors_rows.len()
    );
    println!("{:<9} {:<9} {:>7}  sentence", "label", "predicted", "score");
    for p in &wrong {
        println!(
            "{:<9} {:<9} {:>7.3}  {}",
            p.row.label.as_str(),
            p.predicted.as_str(),
            p.score,
            p.row.sentence
        );
    }
    Ok(())
}

fn print_summary(name: &str, e: &Evaluation) {
    println!(
        "\n{name}: accuracy {:.3} ({}/{}), macro-F1 {:.3}",
        e.accuracy,
        (0..3).map(|k| e.confusion[k][k]).sum::<usize>(),
        e.total,
        e.macro_f1
    );
}

fn print_detail(e: &Evaluation) {
    println!(
        "  {:<9} {:>9} {:>6} {:>6} {:>7}",
        "class", "precision", "recall", "F1", "support"
    );
    for p in Polarity::ALL {
        let c = e.class(p);
        println!(
            "  {:<9} {:>9.3} {:>6.3} {:>6.3} {:>7}",
            p.as_str(),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
    println!("  confusion (rows = label, columns = predicted):");
    println!(
        "  {:<9} {:>8} {:>8} {:>8}",
        "", "negative", "neutral", "positive"
    );
    for p in Polarity::ALL {
        let row = e.confusion[p as usize];
        println!(
            "  {:<9} {:>8} {:>8} {:>8}",
            p.as_str(),
            row[0],
            row[1],
            row[2]
        );
    }
}
