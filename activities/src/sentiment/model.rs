//! A linear sentiment model: multinomial logistic regression over words, word pairs and the
//! finance lexicon's own score, trained offline on licensed labelled finance text.
//!
//! The weights ship as data (`data/models/news-sentiment-linear.tsv`, compiled in like the
//! lexicon) and are produced by `examples/train_sentiment_model.rs`; see
//! `docs/sentiment-accuracy.md` for the data, the split discipline and the measured accuracy.
//! Features and scoring live here, in one place, so the trainer and the skill cannot tokenise
//! differently.

use super::eval::Polarity;
use std::collections::HashMap;

/// The lexicon score enters as two non-negative features, so the model can weigh positive and
/// negative lexicon evidence differently.
pub const LEXICON_POSITIVE: &str = "lex:positive";
pub const LEXICON_NEGATIVE: &str = "lex:negative";
const TICKER: &str = "$ticker";
const NUMBER: &str = "<num>";

/// The words and adjacent word pairs of `text`: lower-cased, a `$TICKER` folded to one token (a
/// ticker says which company, not how the news is), every number to another.
pub fn text_features(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for raw in text.split(|c: char| c.is_whitespace() || c == '/' || c == '—' || c == '-') {
        if raw.starts_with('$') && raw[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            words.push(TICKER.to_owned());
            continue;
        }
        let w: String = raw
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '%')
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '%' || *c == '.')
            .collect::<String>()
            .to_lowercase();
        let w = w.trim_matches('.').replace("'s", "");
        if w.is_empty() {
            continue;
        }
        if w.starts_with(|c: char| c.is_ascii_digit()) {
            words.push(if w.ends_with('%') {
                format!("{NUMBER}%")
            } else {
                NUMBER.to_owned()
            });
        } else {
            words.push(w);
        }
    }
    let mut out: Vec<String> = words.clone();
    out.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

/// What the model makes of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelReading {
    /// Class probabilities in [`Polarity`] order.
    pub probabilities: [f64; 3],
    /// How many of the text's word features the model knows; zero means it has nothing to go on.
    pub known_features: usize,
}

impl ModelReading {
    /// `P(positive) - P(negative)`: the expected polarity, in [-1, 1].
    pub fn signal(&self) -> f64 {
        self.probabilities[Polarity::Positive as usize]
            - self.probabilities[Polarity::Negative as usize]
    }

    /// The most probable class; any tie for the top reads as neutral.
    pub fn polarity(&self) -> Polarity {
        let [n, u, p] = self.probabilities;
        if p > u && p > n {
            Polarity::Positive
        } else if n > u && n > p {
            Polarity::Negative
        } else {
            Polarity::Neutral
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("sentiment model line {line}: {reason}")]
pub struct ModelFormatError {
    pub line: usize,
    pub reason: String,
}

/// Multinomial logistic regression: one weight per feature and class, plus a bias per class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinearModel {
    pub bias: [f64; 3],
    pub weights: HashMap<String, [f64; 3]>,
}

impl LinearModel {
    /// Reads the TSV the trainer writes: `#` comments, then `feature<TAB>w_negative<TAB>
    /// w_neutral<TAB>w_positive` rows, one of which is the feature `bias`.
    pub fn parse(text: &str) -> Result<Self, ModelFormatError> {
        let mut model = LinearModel::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: String| ModelFormatError {
                line: i + 1,
                reason,
            };
            let cols: Vec<&str> = line.split('\t').collect();
            let [feature, n, u, p] = cols[..] else {
                return Err(err(format!(
                    "expected 4 tab-separated columns, got {}",
                    cols.len()
                )));
            };
            let mut w = [0.0; 3];
            for (slot, v) in w.iter_mut().zip([n, u, p]) {
                *slot = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| err(format!("weight {v:?} is not a finite number")))?;
            }
            if feature == "bias" {
                model.bias = w;
            } else if model.weights.insert(feature.to_owned(), w).is_some() {
                return Err(err(format!("feature {feature:?} appears twice")));
            }
        }
        Ok(model)
    }

    /// The class scores (logits) of a feature vector: word features count once each occurrence,
    /// `extra` are real-valued features such as the lexicon's.
    pub fn logits(&self, words: &[String], extra: &[(&str, f64)]) -> ([f64; 3], usize) {
        let mut z = self.bias;
        let mut known = 0;
        for f in words {
            if let Some(w) = self.weights.get(f) {
                known += 1;
                for k in 0..3 {
                    z[k] += w[k];
                }
            }
        }
        for (name, x) in extra {
            if let Some(w) = self.weights.get(*name) {
                for k in 0..3 {
                    z[k] += w[k] * x;
                }
            }
        }
        (z, known)
    }

    pub fn read(&self, words: &[String], extra: &[(&str, f64)]) -> ModelReading {
        let (z, known_features) = self.logits(words, extra);
        ModelReading {
            probabilities: softmax(z),
            known_features,
        }
    }
}

pub fn softmax(z: [f64; 3]) -> [f64; 3] {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = z.map(|x| (x - m).exp());
    let s: f64 = e.iter().sum();
    e.map(|x| x / s)
}

/// The lexicon score as the model's two real-valued features.
pub fn lexicon_features(score: f64) -> [(&'static str, f64); 2] {
    [
        (LEXICON_POSITIVE, score.max(0.0)),
        (LEXICON_NEGATIVE, (-score).max(0.0)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_fold_tickers_and_numbers_and_pair_adjacent_words() {
        let f = text_features("$AAPL - Apple's PT raised to $150 from 130, up 5%");
        assert!(f.contains(&"$ticker".to_owned()), "{f:?}");
        assert!(f.contains(&"apple".to_owned()), "{f:?}");
        assert!(f.contains(&"pt raised".to_owned()), "{f:?}");
        assert!(f.contains(&"<num>".to_owned()), "{f:?}");
        assert!(f.contains(&"<num>%".to_owned()), "{f:?}");
        assert!(!f.iter().any(|w| w.contains("150")), "{f:?}");
    }

    #[test]
    fn the_weights_file_is_read_and_bad_rows_are_named() {
        let m = LinearModel::parse("# c\nbias\t0\t1\t0\nbeats\t-1\t0\t2\n").expect("parse");
        let r = m.read(&text_features("Acme beats"), &[]);
        assert_eq!(r.known_features, 1);
        assert_eq!(r.polarity(), Polarity::Positive);
        assert!(r.signal() > 0.0 && r.signal() <= 1.0);
        let none = m.read(&text_features("unrelated words"), &[]);
        assert_eq!(none.known_features, 0);
        assert_eq!(none.polarity(), Polarity::Neutral, "the bias alone");
        let e = LinearModel::parse("bias\t0\t1\n").expect_err("3 columns");
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(LinearModel::parse("x\t0\tNaN\t0\n").is_err());
        assert!(LinearModel::parse("x\t0\t0\t0\nx\t0\t0\t0\n").is_err());
    }

    #[test]
    fn a_tie_reads_as_neutral() {
        let r = ModelReading {
            probabilities: [0.4, 0.2, 0.4],
            known_features: 1,
        };
        assert_eq!(r.polarity(), Polarity::Neutral);
        let r = ModelReading {
            probabilities: [0.3, 0.3, 0.4],
            known_features: 1,
        };
        assert_eq!(r.polarity(), Polarity::Positive);
    }
}
