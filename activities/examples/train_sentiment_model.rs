//! Trains the news-sentiment linear model and writes its weights file.
//!
//! `cargo run -p torghut-activities --release --example train_sentiment_model`
//!
//! Reads the licensed labelled set (`data/labelled/twitter-financial-news.tsv`), fits
//! multinomial logistic regression on its `train` split for each setting in a small grid,
//! picks the setting with the best macro-F1 on `dev`, and writes the pruned weights to
//! `data/models/news-sentiment-linear.tsv` (compiled into the worker). It never reads the `test`
//! split: that is the held-out figure, reported by the `sentiment_accuracy` example. Fully
//! deterministic: the same data gives byte-identical weights.
//!
//! Features ([`text_features`]): words and adjacent word pairs seen in at least `min_count`
//! training texts, plus, when `lexicon` is on, the finance lexicon's score split into its
//! positive and negative parts. Optimiser: AdaGrad over the training rows in a fixed
//! pseudo-random order, L2 penalty `l2`, optional class weights inverse to class frequency.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fmt::Write as _;
use torghut_activities::skills::news::SentimentScorer;
use torghut_activities::skills::sentiment_eval::{
    Evaluation, LabelledSentence, Split, embedded_licensed_path, load_labelled, metrics,
};
use torghut_activities::skills::sentiment_model::{
    LEXICON_NEGATIVE, LEXICON_POSITIVE, LinearModel, lexicon_features, softmax, text_features,
};

const OUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/models/news-sentiment-linear.tsv"
);
const EPOCHS: usize = 12;
const LEARNING_RATE: f64 = 0.5;
/// Weights below this (in every class) are dropped from the shipped file.
const PRUNE_BELOW: f64 = 0.02;

#[derive(Debug, Clone, Copy)]
struct Setting {
    l2: f64,
    min_count: usize,
    balanced: bool,
    lexicon: bool,
}

struct Example {
    words: Vec<String>,
    lexicon: [(&'static str, f64); 2],
    label: usize,
}

fn examples(rows: &[&LabelledSentence], lexicon: &SentimentScorer) -> Vec<Example> {
    rows.iter()
        .map(|r| Example {
            words: text_features(&r.sentence),
            lexicon: lexicon_features(lexicon.lexicon_score(&r.sentence)),
            label: r.label as usize,
        })
        .collect()
}

/// A fixed permutation per epoch (xorshift), so the fit never depends on a random seed.
fn order(n: usize, epoch: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ (epoch as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        idx.swap(i, (state % (i as u64 + 1)) as usize);
    }
    idx
}

fn train(data: &[Example], s: Setting) -> LinearModel {
    let mut doc_freq: HashMap<&str, usize> = HashMap::new();
    for e in data {
        let mut seen: Vec<&str> = e.words.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *doc_freq.entry(w).or_default() += 1;
        }
    }
    let mut class_count = [0usize; 3];
    for e in data {
        class_count[e.label] += 1;
    }
    let class_weight: [f64; 3] = if s.balanced {
        class_count.map(|c| data.len() as f64 / (3.0 * c.max(1) as f64))
    } else {
        [1.0; 3]
    };
    let mut w: HashMap<String, [f64; 3]> = HashMap::new();
    let mut g2: HashMap<String, [f64; 3]> = HashMap::new();
    let mut bias = [0.0; 3];
    let mut bias_g2 = [0.0; 3];
    let step = |weight: &mut [f64; 3], acc: &mut [f64; 3], grad: [f64; 3]| {
        for k in 0..3 {
            acc[k] += grad[k] * grad[k];
            weight[k] -= LEARNING_RATE * grad[k] / (acc[k].sqrt() + 1e-8);
        }
    };
    for epoch in 0..EPOCHS {
        for i in order(data.len(), epoch) {
            let e = &data[i];
            let words: Vec<&String> = e
                .words
                .iter()
                .filter(|f| doc_freq.get(f.as_str()).copied().unwrap_or(0) >= s.min_count)
                .collect();
            let extra: &[(&str, f64)] = if s.lexicon { &e.lexicon } else { &[] };
            let mut z = bias;
            for f in &words {
                if let Some(v) = w.get(f.as_str()) {
                    for k in 0..3 {
                        z[k] += v[k];
                    }
                }
            }
            for (name, x) in extra {
                if let Some(v) = w.get(*name) {
                    for k in 0..3 {
                        z[k] += v[k] * x;
                    }
                }
            }
            let p = softmax(z);
            let cw = class_weight[e.label];
            let err: [f64; 3] =
                std::array::from_fn(|k| cw * (p[k] - if k == e.label { 1.0 } else { 0.0 }));
            step(&mut bias, &mut bias_g2, err);
            for f in &words {
                let v = w.entry((*f).clone()).or_insert([0.0; 3]);
                let grad: [f64; 3] = std::array::from_fn(|k| err[k] + s.l2 * v[k]);
                step(v, g2.entry((*f).clone()).or_insert([0.0; 3]), grad);
            }
            for (name, x) in extra {
                let v = w.entry((*name).to_owned()).or_insert([0.0; 3]);
                let grad: [f64; 3] = std::array::from_fn(|k| err[k] * x + s.l2 * v[k]);
                step(v, g2.entry((*name).to_owned()).or_insert([0.0; 3]), grad);
            }
        }
    }
    LinearModel { bias, weights: w }
}

/// The shipped form: pruned and rounded, then parsed back, so what is evaluated is what ships.
fn serialise(model: &LinearModel, header: &str) -> Result<String, Box<dyn Error>> {
    let sorted: BTreeMap<&String, &[f64; 3]> = model
        .weights
        .iter()
        .filter(|(_, v)| v.iter().any(|x| x.abs() >= PRUNE_BELOW))
        .collect();
    let mut out = String::from(header);
    let row = |name: &str, v: &[f64; 3]| format!("{name}\t{:.3}\t{:.3}\t{:.3}\n", v[0], v[1], v[2]);
    out.push_str(&row("bias", &model.bias));
    for (name, v) in sorted {
        if name.contains(['\t', '\n']) || name == "bias" {
            continue;
        }
        out.push_str(&row(name, v));
    }
    Ok(out.replace("-0.000", "0.000"))
}

fn evaluate(model: &LinearModel, rows: &[&LabelledSentence], lexicon: SentimentScorer) -> Evaluation {
    let scorer = lexicon.with_model(model.clone());
    metrics(rows.iter().map(|r| (r.label, scorer.read(&r.sentence).polarity)))
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = embedded_licensed_path();
    let rows = load_labelled(&path)?;
    let split = |s: Split| rows.iter().filter(move |r| r.split == s).collect::<Vec<_>>();
    let (train_rows, dev_rows) = (split(Split::Train), split(Split::Dev));
    let lexicon = SentimentScorer::embedded_lexicon();
    let train_data = examples(&train_rows, &lexicon);
    println!(
        "{}: train {}, dev {} (test not read)",
        path.display(),
        train_rows.len(),
        dev_rows.len()
    );

    let mut best: Option<(f64, Setting, LinearModel)> = None;
    for l2 in [0.0, 1e-4, 1e-3] {
        for min_count in [1, 2] {
            for balanced in [false, true] {
                for lexicon_on in [false, true] {
                    let s = Setting {
                        l2,
                        min_count,
                        balanced,
                        lexicon: lexicon_on,
                    };
                    let m = train(&train_data, s);
                    let e = evaluate(&m, &dev_rows, SentimentScorer::embedded_lexicon());
                    println!(
                        "dev: l2 {l2:<6} min_count {min_count} balanced {balanced:<5} lexicon {lexicon_on:<5} -> accuracy {:.3}, macro-F1 {:.3}",
                        e.accuracy, e.macro_f1
                    );
                    if best.as_ref().is_none_or(|(f1, _, _)| e.macro_f1 > *f1) {
                        best = Some((e.macro_f1, s, m));
                    }
                }
            }
        }
    }
    let (_, s, model) = best.ok_or("no setting trained")?;
    let mut header = String::new();
    writeln!(
        header,
        "# news-sentiment linear model: multinomial logistic regression, weights per class"
    )?;
    writeln!(
        header,
        "# (negative, neutral, positive). Generated by `cargo run -p torghut-activities --release"
    )?;
    writeln!(
        header,
        "# --example train_sentiment_model`; do not edit. Trained on the train split of"
    )?;
    writeln!(
        header,
        "# activities/data/labelled/twitter-financial-news.tsv (MIT; see its README.md)."
    )?;
    writeln!(
        header,
        "# Setting picked on dev: l2 {}, min_count {}, balanced classes {}, lexicon features {}.",
        s.l2, s.min_count, s.balanced, s.lexicon
    )?;
    writeln!(
        header,
        "# Features: words and word pairs (see sentiment_model::text_features), {LEXICON_POSITIVE} and {LEXICON_NEGATIVE}."
    )?;
    writeln!(header, "# feature\tnegative\tneutral\tpositive")?;
    let text = serialise(&model, &header)?;
    let shipped = LinearModel::parse(&text)?;
    let e = evaluate(&shipped, &dev_rows, SentimentScorer::embedded_lexicon());
    std::fs::write(OUT, &text)?;
    println!(
        "picked {s:?}; shipped (pruned) model on dev: accuracy {:.3}, macro-F1 {:.3}; {} features, {} bytes -> {OUT}",
        e.accuracy,
        e.macro_f1,
        shipped.weights.len(),
        text.len()
    );
    Ok(())
}
