//! Regression floor for the news-sentiment scorer on the held-out test split of the crate's
//! labelled finance sentences (`activities/data/labelled/`). A scorer change that loses accuracy,
//! or makes the finance layer stop paying for itself, fails here rather than in production.
//!
//! Measured when the floors were set (`cargo run -p torghut-activities --example
//! sentiment_accuracy --release`), test split, 124 sentences, neutral band ±0.05:
//!   finance-aware: accuracy 0.806 (100/124), macro-F1 0.801
//!   VADER only:    accuracy 0.532 (66/124),  macro-F1 0.506
//!   majority:      accuracy 0.403 (50/124),  macro-F1 0.192
//! The floors sit a few points below so noise-free regressions of two or three sentences show.
//! Raise them when the scorer improves; never tune the scorer on the test split to clear them.

use torghut_activities::skills::news::SentimentScorer;
use torghut_activities::skills::sentiment_eval::{
    LabelledSentence, SKILL_NEUTRAL_BAND, Split, embedded_labelled_path, evaluate, load_labelled,
};

const ACCURACY_FLOOR: f64 = 0.77;
const MACRO_F1_FLOOR: f64 = 0.76;
/// The finance layer must beat the bare lexicon by a clear margin, not by one lucky sentence.
const MIN_MACRO_F1_GAIN_OVER_VADER: f64 = 0.15;

fn test_split() -> Vec<LabelledSentence> {
    let rows = load_labelled(&embedded_labelled_path()).expect("the labelled set loads");
    assert_eq!(rows.len(), 248, "the labelled set changed size; re-measure");
    let test: Vec<_> = rows
        .into_iter()
        .filter(|r| r.split == Split::Test)
        .collect();
    assert_eq!(test.len(), 124, "the test split changed size; re-measure");
    test
}

#[test]
fn the_finance_aware_scorer_keeps_its_held_out_accuracy() {
    let test = test_split();
    let scorer = SentimentScorer::embedded();
    let e = evaluate(&scorer, &test, SKILL_NEUTRAL_BAND);
    assert!(
        e.accuracy >= ACCURACY_FLOOR,
        "test accuracy {:.3} fell below the floor {ACCURACY_FLOOR} (measured 0.806); \
         run the sentiment_accuracy example to see what it now gets wrong",
        e.accuracy
    );
    assert!(
        e.macro_f1 >= MACRO_F1_FLOOR,
        "test macro-F1 {:.3} fell below the floor {MACRO_F1_FLOOR} (measured 0.801)",
        e.macro_f1
    );
}

#[test]
fn the_finance_layer_beats_the_bare_vader_lexicon_on_held_out_sentences() {
    let test = test_split();
    let finance = evaluate(&SentimentScorer::embedded(), &test, SKILL_NEUTRAL_BAND);
    let vader = evaluate(
        &SentimentScorer::embedded_vader_only(),
        &test,
        SKILL_NEUTRAL_BAND,
    );
    assert!(
        finance.macro_f1 >= vader.macro_f1 + MIN_MACRO_F1_GAIN_OVER_VADER,
        "finance-aware macro-F1 {:.3} vs VADER-only {:.3}: the finance layer no longer earns \
         its place (measured 0.801 vs 0.506)",
        finance.macro_f1,
        vader.macro_f1
    );
}
