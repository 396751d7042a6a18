//! Report of the news-sentiment scorers' accuracy on the crate's two labelled sets.
//!
//! `cargo run -p torghut-activities --example sentiment_accuracy --release`
//!
//! Two sets (see `activities/data/labelled/README.md`): the licensed Twitter Financial News set
//! (the model is trained on its `train` split and its setting picked on `dev`; `test` is never
//! tuned on) and the team's own finance sentences (the lexicon's rules were tuned on its `dev`;
//! the model never saw any of it). For each: the majority class, the bare VADER lexicon, the
//! finance-aware lexicon (the fallback) and the default scorer (model, lexicon fallback), on dev
//! and test; then the test rows the default scorer gets wrong on the team's set. When tuning,
//! list dev errors instead, so choices never look at test:
//!
//! `cargo run -p torghut-activities --example sentiment_accuracy --release -- --errors dev`

use std::error::Error;
use std::path::Path;
use torghut_activities::sentiment::eval::{
    Evaluation, LabelledSentence, Polarity, Split, constant_baseline, embedded_labelled_path,
    embedded_licensed_path, evaluate, load_labelled, majority_label, predict,
};
use torghut_activities::sentiment::{ReadBy, SentimentScorer};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let errors_of = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["--errors", "test"] => Split::Test,
        ["--errors", "dev"] => Split::Dev,
        _ => return Err(format!("unknown arguments {args:?}; usage: [--errors dev|test]").into()),
    };
    let model = SentimentScorer::embedded()?;
    report(&embedded_licensed_path(), &model, None)?;
    report(&embedded_labelled_path(), &model, Some(errors_of))?;
    Ok(())
}

fn report(
    path: &Path,
    model: &SentimentScorer,
    errors_of: Option<Split>,
) -> Result<(), Box<dyn Error>> {
    let rows = load_labelled(path)?;
    let split = |s: Split| rows.iter().filter(move |r| r.split == s);
    let dev: Vec<&LabelledSentence> = split(Split::Dev).collect();
    let test: Vec<&LabelledSentence> = split(Split::Test).collect();
    let vader = SentimentScorer::embedded_vader_only();
    let lexicon = SentimentScorer::embedded_lexicon();
    let majority = majority_label(dev.iter().copied())
        .ok_or("the dev split is empty: nothing to pick a majority class from")?;

    println!("\n##### Labelled set: {}", path.display());
    println!(
        "{} rows: train {}, dev {}, test {}",
        rows.len(),
        split(Split::Train).count(),
        dev.len(),
        test.len()
    );
    for (name, part) in [("dev", &dev), ("test", &test)] {
        println!("\n=== {name} split ({} rows) ===", part.len());
        let base = constant_baseline(majority, part.iter().copied());
        print_summary(
            &format!("majority baseline (always {majority}, picked on dev)"),
            &base,
        );
        let v = evaluate(&vader, part.iter().copied());
        print_summary("VADER lexicon only", &v);
        let l = evaluate(&lexicon, part.iter().copied());
        print_summary("finance-aware lexicon (fallback)", &l);
        print_detail(&l);
        let m = evaluate(model, part.iter().copied());
        let by_lexicon = part
            .iter()
            .filter(|r| model.read(&r.sentence).by == ReadBy::Lexicon)
            .count();
        print_summary(
            &format!(
                "default scorer: model, lexicon fallback ({by_lexicon} rows read by the fallback)"
            ),
            &m,
        );
        print_detail(&m);
    }

    let Some(errors_of) = errors_of else {
        return Ok(());
    };
    let (errors_name, errors_rows) = match errors_of {
        Split::Dev | Split::Train => ("dev", &dev),
        Split::Test => ("test", &test),
    };
    let wrong: Vec<_> = predict(model, errors_rows.iter().copied())
        .into_iter()
        .filter(|p| p.predicted != p.row.label)
        .collect();
    println!(
        "\n=== {errors_name} rows the default scorer gets wrong ({} of {}) ===",
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
