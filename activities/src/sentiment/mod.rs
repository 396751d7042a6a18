//! Headline sentiment, the part of `news-sentiment` that reads text: the finance [`lexicon`],
//! the linear [`model`] trained on licensed labelled text, the [`scorer`] that combines them, and
//! the [`eval`]uation that measures both (`examples/sentiment_accuracy.rs`,
//! `docs/sentiment-accuracy.md`). Pure: text in, a reading out; the skill that turns readings
//! into a domain output is `crate::skills::news`.

pub mod eval;
pub mod lexicon;
pub mod model;
pub mod scorer;

pub use eval::Polarity;
pub use scorer::{NEUTRAL_BAND, ReadBy, Reading, SentimentScorer};
