//! The headline scorer of `news-sentiment`.
//!
//! Each text is read by a linear model trained on licensed labelled finance text
//! ([`super::model`]), which also takes the lexicon scorer's reading as a feature. The
//! lexicon scorer alone — VADER's lexicon with a finance layer on top ([`super::lexicon`]:
//! general-purpose lexicons miss "beats", "downgrade", "guidance cut"), negation, intensifiers
//! and VADER's "but" rule — is the fallback: for a text in which the model knows no word, or when
//! configured (`TORGHUT_NEWS_SCORER=lexicon`). Measured accuracy of both:
//! `docs/sentiment-accuracy.md`.

use super::eval::Polarity;
use super::lexicon::*;
use super::model::{LinearModel, ModelFormatError, lexicon_features, text_features};
use std::collections::HashMap;

/// A lexicon score within `±NEUTRAL_BAND` reads as neutral.
pub const NEUTRAL_BAND: f64 = 0.05;

/// Which reader produced a [`Reading`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBy {
    Model,
    Lexicon,
}

/// One text's sentiment: a score in [-1, 1] and its three-way class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The model's `P(positive) - P(negative)`, or the lexicon's normalised valence.
    pub score: f64,
    /// The model's most probable class, or the lexicon score read with [`NEUTRAL_BAND`].
    pub polarity: Polarity,
    pub by: ReadBy,
}

pub struct SentimentScorer {
    valence: HashMap<String, f64>,
    /// Phrases, direction-quantity pairs, "less than" and the finance negations. Off only in the
    /// VADER-only baseline, so the baseline is the lexicon with VADER's own rules and nothing else.
    finance_rules: bool,
    /// `None`: the lexicon scorer alone.
    model: Option<LinearModel>,
}

impl SentimentScorer {
    /// VADER's lexicon, compiled into the binary: the scorer's parameters belong to the build
    /// that was measured (docs/sentiment-accuracy.md), not to whatever file a host provides.
    const EMBEDDED_LEXICON: &str = include_str!("../../data/lexicons/vader_lexicon.txt");
    /// The trained weights, compiled in for the same reason (`examples/train_sentiment_model.rs`).
    pub const EMBEDDED_MODEL: &str = include_str!("../../data/models/news-sentiment-linear.tsv");

    pub fn from_lexicon_text(text: &str) -> Self {
        let mut scorer = Self::vader_only(text);
        for (term, v) in FINANCE_TERMS {
            scorer.valence.insert((*term).to_owned(), *v);
        }
        scorer.finance_rules = true;
        scorer
    }

    /// The lexicon alone, without the finance layer. Not for the skill: it is the baseline that
    /// `sentiment::eval` measures the finance layer against, so its value is shown, not assumed.
    pub fn vader_only(text: &str) -> Self {
        let valence = text
            .lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let token = cols.next()?;
                let v = cols.next()?.parse::<f64>().ok()?;
                Some((token.to_owned(), v))
            })
            .collect();
        Self {
            valence,
            finance_rules: false,
            model: None,
        }
    }

    /// The default: the embedded model over the embedded finance-aware lexicon.
    pub fn embedded() -> Result<Self, ModelFormatError> {
        Ok(Self::embedded_lexicon().with_model(LinearModel::parse(Self::EMBEDDED_MODEL)?))
    }

    /// The finance-aware lexicon scorer alone: the fallback, and `TORGHUT_NEWS_SCORER=lexicon`.
    pub fn embedded_lexicon() -> Self {
        Self::from_lexicon_text(Self::EMBEDDED_LEXICON)
    }

    pub fn with_model(mut self, model: LinearModel) -> Self {
        self.model = Some(model);
        self
    }

    /// Reads one text: the model when it knows at least one of the text's words, else the
    /// lexicon.
    pub fn read(&self, text: &str) -> Reading {
        let lexicon = self.lexicon_score(text);
        if let Some(model) = &self.model {
            let r = model.read(&text_features(text), &lexicon_features(lexicon));
            if r.known_features > 0 {
                return Reading {
                    score: r.signal().clamp(-1.0, 1.0),
                    polarity: r.polarity(),
                    by: ReadBy::Model,
                };
            }
        }
        Reading {
            score: lexicon,
            polarity: Polarity::of_score(lexicon, NEUTRAL_BAND),
            by: ReadBy::Lexicon,
        }
    }

    /// [`Self::vader_only`] over the lexicon shipped in the crate.
    pub fn embedded_vader_only() -> Self {
        Self::vader_only(Self::EMBEDDED_LEXICON)
    }

    /// Sentiment of one text in `[-1, 1]`, as [`Self::read`] scores it.
    pub fn score(&self, text: &str) -> f64 {
        self.read(text).score
    }

    /// The lexicon's sentiment of one text in `[-1, 1]` (VADER's `x / sqrt(x^2 + 15)`
    /// normalisation), whether or not a model is loaded.
    pub fn lexicon_score(&self, text: &str) -> f64 {
        let (tokens, clauses) = Self::tokenise(text);
        let mut valence: Vec<Option<f64>> = tokens
            .iter()
            .map(|t| self.valence.get(t).copied())
            .collect();
        let mut flipped = vec![false; tokens.len()];
        if self.finance_rules {
            Self::apply_finance_rules(&tokens, &clauses, &mut valence, &mut flipped);
        }
        let but = tokens.iter().position(|t| t == "but");
        let mut sum = 0.0;
        for (i, v) in valence.iter().enumerate() {
            let Some(mut v) = *v else {
                continue;
            };
            let window = &tokens[i.saturating_sub(3)..i];
            if window.iter().any(|w| BOOSTERS.contains(&w.as_str())) {
                v += 0.293 * v.signum();
            }
            if window.iter().any(|w| {
                NEGATIONS.contains(&w.as_str())
                    || w.ends_with("n't")
                    || (self.finance_rules && FINANCE_NEGATIONS.contains(&w.as_str()))
            }) {
                v *= -0.74;
            }
            if flipped[i] {
                v *= -0.74;
            }
            if let Some(b) = but {
                v *= if i < b {
                    0.5
                } else if i > b {
                    1.5
                } else {
                    1.0
                };
            }
            sum += v;
        }
        sum / (sum * sum + 15.0).sqrt()
    }

    /// Lower-cased words stripped of edge punctuation, and each word's clause number: a clause ends
    /// after `,` `;` `:` `.` and before a [`CLAUSE_WORDS`] word.
    fn tokenise(text: &str) -> (Vec<String>, Vec<usize>) {
        let (mut tokens, mut clauses, mut clause) = (Vec::new(), Vec::new(), 0);
        for raw in text.split_whitespace() {
            let t = raw
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase();
            if !t.is_empty() {
                if CLAUSE_WORDS.contains(&t.as_str()) {
                    clause += 1;
                }
                tokens.push(t);
                clauses.push(clause);
            }
            if raw.ends_with([',', ';', ':', '.']) {
                clause += 1;
            }
        }
        (tokens, clauses)
    }

    /// Rewrites per-word valences where finance news means something the words alone do not:
    /// phrases first, then each direction word takes the nearest quantity in its clause (the
    /// quantity's own valence is then dropped, so "profit drops" is not half positive), then
    /// "less than" / "smaller than" marks what precedes it in the clause as flipped.
    fn apply_finance_rules(
        tokens: &[String],
        clauses: &[usize],
        valence: &mut [Option<f64>],
        flipped: &mut [bool],
    ) {
        let lookup =
            |table: &[(&str, f64)], w: &str| table.iter().find(|(t, _)| *t == w).map(|(_, v)| *v);
        let mut in_phrase = vec![false; tokens.len()];
        for i in 1..tokens.len() {
            if let Some((_, _, v)) = FINANCE_PHRASES
                .iter()
                .find(|(a, b, _)| tokens[i - 1] == *a && tokens[i] == *b)
            {
                valence[i - 1] = Some(*v);
                valence[i] = None;
                in_phrase[i - 1] = true;
                in_phrase[i] = true;
            }
        }
        let mut paired_quantity = vec![false; tokens.len()];
        for i in 0..tokens.len() {
            let Some(direction) = lookup(FINANCE_DIRECTIONS, &tokens[i]).filter(|_| !in_phrase[i])
            else {
                continue;
            };
            let lo = i.saturating_sub(PAIR_WINDOW);
            let hi = (i + PAIR_WINDOW).min(tokens.len() - 1);
            // Nearest first; at equal distance the word before wins (subject before verb).
            let quantity = (lo..=hi)
                .filter(|&j| j != i && clauses[j] == clauses[i] && !in_phrase[j])
                .filter_map(|j| lookup(FINANCE_QUANTITIES, &tokens[j]).map(|q| (j, q)))
                .min_by_key(|&(j, _)| (j.abs_diff(i), j > i));
            if let Some((j, q)) = quantity {
                let strength = valence[i].map_or(PAIR_VALENCE, |v| v.abs().max(PAIR_VALENCE));
                valence[i] = Some(q * direction * strength);
                paired_quantity[j] = true;
            }
        }
        for (v, paired) in valence.iter_mut().zip(&paired_quantity) {
            if *paired {
                *v = None;
            }
        }
        for i in 0..tokens.len().saturating_sub(1) {
            if FLIP_BEFORE_THAN.contains(&tokens[i].as_str()) && tokens[i + 1] == "than" {
                for j in (0..i).filter(|&j| clauses[j] == clauses[i]) {
                    flipped[j] = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lexicon rules' tests read the lexicon alone; the model has its own.
    fn scorer() -> SentimentScorer {
        SentimentScorer::embedded_lexicon()
    }

    #[test]
    fn finance_terms_negation_and_but_clauses() {
        let s = scorer();
        assert!(s.score("Acme beats estimates and raises guidance") > 0.3);
        assert!(s.score("Acme downgraded after revenue shortfall") < -0.3);
        assert!(s.score("Acme did not beat estimates") < 0.0);
        let but = s.score("Results were good but the outlook is terrible");
        assert!(but < 0.0, "the clause after 'but' dominates: {but}");
        assert!(s.score("Acme reports very strong demand") > s.score("Acme reports strong demand"));
    }

    #[test]
    fn the_finance_rules_read_which_way_a_quantity_moved() {
        let s = scorer();
        let vader = SentimentScorer::embedded_vader_only();
        for (text, sign) in [
            ("Acme's quarterly loss narrows", 1.0),
            ("Acme's fuel costs surge", -1.0),
            ("Acme to cut costs", 1.0),
            ("Acme cuts guidance", -1.0),
            ("Acme did not cut its dividend", 1.0),
            ("Acme sales fell less than expected", 1.0),
            ("Acme profit was smaller than expected", -1.0),
            ("Acme shares sink", -1.0),
            ("Acme failed to win the contract", -1.0),
        ] {
            let got = s.score(text);
            assert!(got * sign > 0.05, "{text:?} scored {got}");
        }
        for text in [
            "Acme sets the record date for its dividend",
            "Acme Securities shares were little changed",
        ] {
            assert!(s.score(text).abs() <= 0.05, "{text:?} should be neutral");
        }
        let names = "Acme Securities shares were little changed";
        assert!(
            vader.score(names) > 0.05,
            "the bare lexicon reads nouns as praise"
        );
    }

    #[test]
    fn the_default_scorer_reads_finance_news_with_the_model() {
        let s = SentimentScorer::embedded().expect("the embedded model parses");
        for (text, want) in [
            (
                "Acme upgraded to buy from hold at a large broker",
                Polarity::Positive,
            ),
            (
                "Acme price target cut at a large broker on weak outlook",
                Polarity::Negative,
            ),
            (
                "Acme to present at an industry conference next week",
                Polarity::Neutral,
            ),
        ] {
            let r = s.read(text);
            assert_eq!(r.by, ReadBy::Model, "{text:?}");
            assert_eq!(r.polarity, want, "{text:?}: {r:?}");
            assert!((-1.0..=1.0).contains(&r.score), "{r:?}");
        }
    }

    #[test]
    fn a_text_the_model_knows_no_word_of_falls_back_to_the_lexicon() {
        let s = SentimentScorer::embedded().expect("the embedded model parses");
        let text = "zxqv wqzr";
        let r = s.read(text);
        assert_eq!(r.by, ReadBy::Lexicon);
        assert_eq!(r.score, scorer().lexicon_score(text));
        let lexicon_only = scorer().read("Acme upgraded to buy from hold");
        assert_eq!(lexicon_only.by, ReadBy::Lexicon, "no model loaded");
    }
}
