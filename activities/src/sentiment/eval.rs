//! Accuracy of the `news-sentiment` scorer on labelled sentences.
//!
//! The scorer's output is a number; the skill turns it into a polarity with a neutral band (see
//! `news_sentiment` in [`crate::skills::news`]). Evaluating that same three-way decision against hand labels
//! is what tells whether the finance layer earns its place, so everything here is pure: rows in,
//! metrics out, no I/O beyond the optional loader for the shipped set.

use super::scorer::SentimentScorer;
use std::fmt;
use std::path::{Path, PathBuf};

/// The band within which `news_sentiment` reads a lexicon score as neutral.
pub const SKILL_NEUTRAL_BAND: f64 = super::scorer::NEUTRAL_BAND;

/// Three-way polarity. The discriminant is the row/column index in [`Evaluation::confusion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Polarity {
    Negative = 0,
    Neutral = 1,
    Positive = 2,
}

impl Polarity {
    /// In confusion-matrix order.
    pub const ALL: [Polarity; 3] = [Polarity::Negative, Polarity::Neutral, Polarity::Positive];

    pub fn as_str(self) -> &'static str {
        match self {
            Polarity::Negative => "negative",
            Polarity::Neutral => "neutral",
            Polarity::Positive => "positive",
        }
    }

    /// The skill's reading of a score: strictly outside `±band` is polar, the band itself neutral.
    pub fn of_score(score: f64, band: f64) -> Self {
        if score > band {
            Polarity::Positive
        } else if score < -band {
            Polarity::Negative
        } else {
            Polarity::Neutral
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Polarity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The held-out discipline: choices are made on `Dev`, the reported figure is `Test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// What a model is fitted on (only the licensed sets have one).
    Train,
    Dev,
    Test,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSentence {
    pub split: Split,
    pub label: Polarity,
    pub sentence: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelledSetError {
    #[error("reading labelled set {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "labelled set line {line}: {reason} (expected `split<TAB>label<TAB>sentence` with split \
         train|dev|test and label positive|negative|neutral)"
    )]
    Line { line: usize, reason: String },
}

/// Where the crate's own labelled set lives; see `data/labelled/README.md` for how it was made.
pub fn embedded_labelled_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/labelled/finance-sentences.tsv"
    ))
}

pub fn load_labelled(path: &Path) -> Result<Vec<LabelledSentence>, LabelledSetError> {
    let text = std::fs::read_to_string(path).map_err(|source| LabelledSetError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_labelled(&text)
}

/// Parses the TSV: `#` lines and blank lines are skipped, as is the `split label sentence` header.
pub fn parse_labelled(text: &str) -> Result<Vec<LabelledSentence>, LabelledSetError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') || raw.starts_with("split\t") {
            continue;
        }
        let err = |reason: String| LabelledSetError::Line { line, reason };
        let mut cols = raw.splitn(3, '\t');
        let (Some(split), Some(label), Some(sentence)) = (cols.next(), cols.next(), cols.next())
        else {
            return Err(err(format!(
                "fewer than three tab-separated columns: {raw:?}"
            )));
        };
        let split = match split {
            "train" => Split::Train,
            "dev" => Split::Dev,
            "test" => Split::Test,
            other => return Err(err(format!("unknown split {other:?}"))),
        };
        let label = match label {
            "positive" => Polarity::Positive,
            "negative" => Polarity::Negative,
            "neutral" => Polarity::Neutral,
            other => return Err(err(format!("unknown label {other:?}"))),
        };
        if sentence.trim().is_empty() {
            return Err(err("empty sentence".to_owned()));
        }
        rows.push(LabelledSentence {
            split,
            label,
            sentence: sentence.to_owned(),
        });
    }
    Ok(rows)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassMetrics {
    /// Zero when the class was never predicted (no division by zero, and no credit either).
    pub precision: f64,
    /// Zero when the class never occurs in the labels.
    pub recall: f64,
    pub f1: f64,
    /// How many rows carry this label.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub total: usize,
    pub accuracy: f64,
    /// Indexed by [`Polarity`] discriminant.
    pub per_class: [ClassMetrics; 3],
    /// Unweighted mean of the three F1s, so the neutral majority cannot carry the figure.
    pub macro_f1: f64,
    /// `confusion[actual][predicted]`, indexed by [`Polarity`] discriminant.
    pub confusion: [[usize; 3]; 3],
}

impl Evaluation {
    pub fn class(&self, p: Polarity) -> &ClassMetrics {
        &self.per_class[p.index()]
    }
}

/// Metrics over `(actual, predicted)` pairs. Separate from the scorer so the arithmetic can be
/// tested on a hand-computed example and reused for baselines.
pub fn metrics<I>(pairs: I) -> Evaluation
where
    I: IntoIterator<Item = (Polarity, Polarity)>,
{
    let mut confusion = [[0usize; 3]; 3];
    for (actual, predicted) in pairs {
        confusion[actual.index()][predicted.index()] += 1;
    }
    let total: usize = confusion.iter().flatten().sum();
    let correct: usize = (0..3).map(|k| confusion[k][k]).sum();
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let per_class = Polarity::ALL.map(|p| {
        let k = p.index();
        let tp = confusion[k][k];
        let predicted: usize = (0..3).map(|a| confusion[a][k]).sum();
        let support: usize = confusion[k].iter().sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, support);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        ClassMetrics {
            precision,
            recall,
            f1,
            support,
        }
    });
    let macro_f1 = per_class.iter().map(|c| c.f1).sum::<f64>() / 3.0;
    Evaluation {
        total,
        accuracy: ratio(correct, total),
        per_class,
        macro_f1,
        confusion,
    }
}

/// One scored row, kept so a report can list what the scorer got wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction<'a> {
    pub row: &'a LabelledSentence,
    pub score: f64,
    pub predicted: Polarity,
}

/// Reads every row the way the skill does ([`SentimentScorer::read`]).
pub fn predict<'a>(
    scorer: &SentimentScorer,
    rows: impl IntoIterator<Item = &'a LabelledSentence>,
) -> Vec<Prediction<'a>> {
    rows.into_iter()
        .map(|row| {
            let r = scorer.read(&row.sentence);
            Prediction {
                row,
                score: r.score,
                predicted: r.polarity,
            }
        })
        .collect()
}

/// The scorer's metrics on `rows`.
pub fn evaluate<'a>(
    scorer: &SentimentScorer,
    rows: impl IntoIterator<Item = &'a LabelledSentence>,
) -> Evaluation {
    metrics(
        predict(scorer, rows)
            .iter()
            .map(|p| (p.row.label, p.predicted)),
    )
}

/// Where the licensed labelled set lives; see `data/labelled/README.md`.
pub fn embedded_licensed_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/labelled/twitter-financial-news.tsv"
    ))
}

/// The most frequent label in `rows` (ties go to the earlier class in [`Polarity::ALL`]); `None`
/// for no rows. Pick it on the dev split and score it on test, like any other choice.
pub fn majority_label<'a>(
    rows: impl IntoIterator<Item = &'a LabelledSentence>,
) -> Option<Polarity> {
    let mut counts = [0usize; 3];
    for r in rows {
        counts[r.label.index()] += 1;
    }
    Polarity::ALL
        .into_iter()
        .filter(|p| counts[p.index()] > 0)
        .max_by_key(|p| (counts[p.index()], std::cmp::Reverse(p.index())))
}

/// Metrics of always answering `label`: the floor any scorer must clear to be worth running.
pub fn constant_baseline<'a>(
    label: Polarity,
    rows: impl IntoIterator<Item = &'a LabelledSentence>,
) -> Evaluation {
    metrics(rows.into_iter().map(|r| (r.label, label)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Polarity::{Negative as Neg, Neutral as Neu, Positive as Pos};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn metrics_match_a_hand_computed_confusion_matrix() {
        // actual -> predicted, 10 rows:
        //   positive (4): pos, pos, pos, neu
        //   negative (3): neg, neg, pos
        //   neutral  (3): neu, neg, neu
        let pairs = [
            (Pos, Pos),
            (Pos, Pos),
            (Pos, Pos),
            (Pos, Neu),
            (Neg, Neg),
            (Neg, Neg),
            (Neg, Pos),
            (Neu, Neu),
            (Neu, Neg),
            (Neu, Neu),
        ];
        let e = metrics(pairs);
        assert_eq!(e.total, 10);
        assert_eq!(e.confusion, [[2, 0, 1], [1, 2, 0], [0, 1, 3]]);
        assert!(close(e.accuracy, 0.7), "{}", e.accuracy);
        // positive: tp 3, predicted 4, support 4 -> P 3/4, R 3/4, F1 3/4
        let p = e.class(Pos);
        assert!(close(p.precision, 0.75) && close(p.recall, 0.75) && close(p.f1, 0.75));
        assert_eq!(p.support, 4);
        // negative: tp 2, predicted 3, support 3 -> P 2/3, R 2/3, F1 2/3
        let n = e.class(Neg);
        assert!(close(n.precision, 2.0 / 3.0) && close(n.recall, 2.0 / 3.0));
        assert!(close(n.f1, 2.0 / 3.0));
        // neutral: tp 2, predicted 3, support 3 -> P 2/3, R 2/3, F1 2/3
        let u = e.class(Neu);
        assert!(close(u.precision, 2.0 / 3.0) && close(u.recall, 2.0 / 3.0));
        // macro-F1 = (3/4 + 2/3 + 2/3) / 3 = 25/36
        assert!(close(e.macro_f1, 25.0 / 36.0), "{}", e.macro_f1);
    }

    #[test]
    fn unequal_precision_and_recall_give_the_harmonic_mean() {
        // positive: tp 1, predicted 3 (two neutrals called positive), support 2.
        let e = metrics([(Pos, Pos), (Pos, Neu), (Neu, Pos), (Neu, Pos)]);
        let p = e.class(Pos);
        assert!(close(p.precision, 1.0 / 3.0) && close(p.recall, 0.5));
        // 2 * (1/3) * (1/2) / (1/3 + 1/2) = (1/3) / (5/6) = 2/5
        assert!(close(p.f1, 0.4), "{}", p.f1);
        assert!(close(e.accuracy, 0.25));
    }

    #[test]
    fn a_class_never_predicted_or_never_present_scores_zero_not_nan() {
        let e = metrics([(Neu, Neu), (Pos, Neu)]);
        let pos = e.class(Pos);
        assert_eq!((pos.precision, pos.recall, pos.f1), (0.0, 0.0, 0.0));
        let neg = e.class(Neg);
        assert_eq!(
            (neg.precision, neg.recall, neg.f1, neg.support),
            (0.0, 0.0, 0.0, 0)
        );
        assert!(close(e.class(Neu).precision, 0.5) && close(e.class(Neu).recall, 1.0));
        assert!(e.macro_f1.is_finite());
        assert_eq!(metrics([]).accuracy, 0.0);
    }

    #[test]
    fn the_neutral_band_is_exclusive_like_the_skill() {
        assert_eq!(Polarity::of_score(0.05, 0.05), Neu);
        assert_eq!(Polarity::of_score(-0.05, 0.05), Neu);
        assert_eq!(Polarity::of_score(0.0501, 0.05), Pos);
        assert_eq!(Polarity::of_score(-0.0501, 0.05), Neg);
    }

    #[test]
    fn the_tsv_is_parsed_and_bad_lines_are_named() {
        let rows = parse_labelled(
            "# comment\nsplit\tlabel\tsentence\ndev\tpositive\tA beats\n\ntest\tneutral\tB, C\td\n",
        )
        .expect("parse");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].split, Split::Dev);
        assert_eq!(rows[1].label, Neu);
        assert_eq!(
            rows[1].sentence, "B, C\td",
            "the sentence is the rest of the line"
        );
        let err = parse_labelled("dev\tbullish\tx\n").expect_err("bad label");
        assert!(
            err.to_string()
                .contains("line 1: unknown label \"bullish\""),
            "{err}"
        );
        assert!(parse_labelled("dev\tpositive\n").is_err());
        assert!(parse_labelled("validation\tpositive\tx\n").is_err());
        assert_eq!(
            parse_labelled("train\tpositive\tx\n").expect("train")[0].split,
            Split::Train
        );
    }

    #[test]
    fn majority_baseline_predicts_the_commonest_label() {
        let rows =
            parse_labelled("dev\tneutral\ta\ndev\tneutral\tb\ndev\tpositive\tc\n").expect("parse");
        assert_eq!(majority_label(&rows), Some(Neu));
        assert_eq!(majority_label(&[]), None);
        let e = constant_baseline(Neu, &rows);
        assert!(close(e.accuracy, 2.0 / 3.0));
        // neutral F1 = 2 * (2/3) * 1 / (5/3) = 4/5; the others are 0.
        assert!(close(e.macro_f1, 0.8 / 3.0), "{}", e.macro_f1);
    }
}
