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
use torghut_activities::sentiment::SentimentScorer;
use torghut_activities::sentiment::eval::{
    Evaluation, LabelledSentence, Split, embedded_licensed_path, load_labelled, metrics,
};
use torghut_activities::sentiment::model::{
    LEXICON_NEGATIVE, LEXICON_POSITIVE, LinearModel, lexicon_features, softmax, text_features,
};

const OUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/models/news-sentiment-linear.tsv"
);
const EPOCHS: usize = 12;
const LEARNING_RATE: f64 = 0.5;
/// Pruning thresholds tried: a feature whose centred weights are all below the threshold is
/// dropped. The largest that costs at most [`PRUNE_TOLERANCE`] of dev macro-F1 is shipped, so
/// the compiled-in file stays small.
const PRUNE_THRESHOLDS: [f64; 6] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5];
const PRUNE_TOLERANCE: f64 = 0.005;

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
    let mut state: u64 =
        0x9E37_79B9_7F4A_7C15 ^ (epoch as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
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

/// Scales tried for the lexicon features' weights, and how much dev macro-F1 trusting the lexicon
/// more may cost.
const LEXICON_SCALES: [f64; 7] = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0];
const LEXICON_SCALE_TOLERANCE: f64 = 0.01;

fn scale_lexicon(model: &LinearModel, gamma: f64) -> LinearModel {
    let mut m = model.clone();
    for name in [LEXICON_POSITIVE, LEXICON_NEGATIVE] {
        if let Some(w) = m.weights.get_mut(name) {
            *w = w.map(|x| x * gamma);
        }
    }
    m
}

/// Softmax ignores a constant added to a feature's three weights, so each is centred on its mean
/// first: what is left is what the feature says, and what pruning should judge it by.
fn centred(v: &[f64; 3]) -> [f64; 3] {
    let m = v.iter().sum::<f64>() / 3.0;
    v.map(|x| x - m)
}

/// The shipped form: centred, pruned below `threshold`, rounded to 2 decimals; the caller parses
/// it back, so what is evaluated is what ships.
fn serialise(model: &LinearModel, header: &str, threshold: f64) -> String {
    let sorted: BTreeMap<&String, [f64; 3]> = model
        .weights
        .iter()
        .map(|(k, v)| (k, centred(v)))
        .filter(|(k, v)| {
            v.iter().any(|x| x.abs() >= threshold.max(0.005)) && !k.contains(['\t', '\n'])
        })
        .filter(|(k, _)| k.as_str() != "bias")
        .collect();
    let mut out = String::from(header);
    let row = |name: &str, v: &[f64; 3]| {
        format!("{name}\t{:.2}\t{:.2}\t{:.2}\n", v[0], v[1], v[2]).replace("-0.00", "0.00")
    };
    out.push_str(&row("bias", &model.bias));
    for (name, v) in sorted {
        out.push_str(&row(name, &v));
    }
    out
}

fn evaluate(
    model: &LinearModel,
    rows: &[&LabelledSentence],
    lexicon: SentimentScorer,
) -> Evaluation {
    let scorer = lexicon.with_model(model.clone());
    metrics(
        rows.iter()
            .map(|r| (r.label, scorer.read(&r.sentence).polarity)),
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = embedded_licensed_path();
    let rows = load_labelled(&path)?;
    let split = |s: Split| {
        rows.iter()
            .filter(move |r| r.split == s)
            .collect::<Vec<_>>()
    };
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
    // Balanced class weights and l2 1e-3 lost on dev in every combination of a wider first
    // grid (docs/sentiment-accuracy.md); a feature seen in one training text only memorises it.
    for l2 in [0.0, 1e-4] {
        for min_count in [2, 3, 5] {
            for balanced in [false] {
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

    // Tweets are not news prose: trained on tweets alone the model leans on tweet vocabulary, and
    // on news sentences it never saw it does worse than the lexicon (docs/sentiment-accuracy.md).
    // So the lexicon features' weights are scaled up as far as the tweets' dev figure allows: the
    // largest scale whose dev macro-F1 is within LEXICON_SCALE_TOLERANCE of the best scale's. The
    // team's sentences are not used for this: the lexicon was fitted to their dev split, which
    // would reward trusting it for that reason alone.
    let readings: Vec<(f64, Evaluation)> = LEXICON_SCALES
        .iter()
        .map(|&gamma| {
            let e = evaluate(
                &scale_lexicon(&model, gamma),
                &dev_rows,
                SentimentScorer::embedded_lexicon(),
            );
            println!(
                "dev, lexicon weights x{gamma}: accuracy {:.3}, macro-F1 {:.3}",
                e.accuracy, e.macro_f1
            );
            (gamma, e)
        })
        .collect();
    let top = readings
        .iter()
        .map(|(_, e)| e.macro_f1)
        .fold(f64::NEG_INFINITY, f64::max);
    let best_gamma = readings
        .iter()
        .filter(|(_, e)| e.macro_f1 >= top - LEXICON_SCALE_TOLERANCE)
        .map(|(g, _)| *g)
        .fold(1.0, f64::max);
    let gamma = if s.lexicon { best_gamma } else { 1.0 };
    let model = scale_lexicon(&model, gamma);
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
        "# Setting picked on dev: l2 {}, min_count {}, balanced classes {}, lexicon features {} (weights x{gamma}).",
        s.l2, s.min_count, s.balanced, s.lexicon
    )?;
    writeln!(
        header,
        "# Features: words and word pairs (see sentiment_model::text_features), {LEXICON_POSITIVE} and {LEXICON_NEGATIVE}."
    )?;
    writeln!(header, "# feature\tnegative\tneutral\tpositive")?;
    let mut shipped: Option<(f64, String, Evaluation)> = None;
    let mut unpruned_f1 = None;
    for threshold in PRUNE_THRESHOLDS {
        let text = serialise(&model, &header, threshold);
        let e = evaluate(
            &LinearModel::parse(&text)?,
            &dev_rows,
            SentimentScorer::embedded_lexicon(),
        );
        println!(
            "dev, pruned below {threshold}: accuracy {:.3}, macro-F1 {:.3}, {} bytes",
            e.accuracy,
            e.macro_f1,
            text.len()
        );
        let base = *unpruned_f1.get_or_insert(e.macro_f1);
        if e.macro_f1 >= base - PRUNE_TOLERANCE {
            shipped = Some((threshold, text, e));
        }
    }
    let (threshold, text, e) = shipped.ok_or("no pruning threshold kept the dev figure")?;
    let text = text.replacen(
        "# feature\t",
        &format!(
            "# Pruned: features whose centred weights are all below {threshold}.\n# feature\t"
        ),
        1,
    );
    std::fs::write(OUT, &text)?;
    println!(
        "picked {s:?}, pruned below {threshold}; shipped model on dev: accuracy {:.3}, macro-F1 {:.3}; {} features, {} bytes -> {OUT}",
        e.accuracy,
        e.macro_f1,
        LinearModel::parse(&text)?.weights.len(),
        text.len()
    );
    Ok(())
}
