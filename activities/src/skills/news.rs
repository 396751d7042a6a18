//! `news-sentiment`: recency-weighted headline sentiment with sources and citations.
//!
//! Each text is read by a linear model trained on licensed labelled finance text
//! ([`super::sentiment_model`]), which also takes the lexicon scorer's reading as a feature. The
//! lexicon scorer alone — VADER's lexicon with a finance layer on top (general-purpose lexicons
//! miss "beats", "downgrade", "guidance cut"), negation, intensifiers and VADER's "but" rule — is
//! the fallback: for a text in which the model knows no word, or when configured
//! (`TORGHUT_NEWS_SCORER=lexicon`). Measured accuracy of both: `docs/sentiment-accuracy.md`.

use super::sentiment_eval::Polarity;
use super::sentiment_model::{LinearModel, ModelFormatError, lexicon_features, text_features};
use crate::skill::{OutputBuilder, SkillError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use torghut_policy::skills::NEWS_SENTIMENT;
use torghut_proto::v1::SkillOutput;

const FRESHNESS_TARGET_SECONDS: u64 = torghut_policy::skills::NEWS_FRESHNESS_TARGET_SECONDS;
const LOOKBACK_HOURS: i64 = 24;
const HALF_LIFE_MINUTES: f64 = 120.0;
/// A lexicon score within `±NEUTRAL_BAND` reads as neutral.
pub const NEUTRAL_BAND: f64 = 0.05;

#[derive(Debug, Clone, PartialEq)]
pub struct NewsItem {
    pub id: String,
    pub headline: String,
    pub summary: String,
    pub source: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub symbols: Vec<String>,
}

impl NewsItem {
    /// Published in `(as_of - lookback, as_of]`: what a decision at `as_of` may see.
    pub fn visible(&self, as_of: DateTime<Utc>, lookback: Duration) -> bool {
        self.created_at <= as_of && self.created_at > as_of - lookback
    }
}

/// Alpaca's `GET /v1beta1/news` response, as it comes over the wire.
#[derive(Debug, Deserialize)]
pub struct AlpacaNewsResponse {
    pub news: Vec<AlpacaNewsItem>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AlpacaNewsItem {
    pub id: i64,
    pub headline: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub url: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub symbols: Vec<String>,
}

impl From<AlpacaNewsItem> for NewsItem {
    fn from(a: AlpacaNewsItem) -> Self {
        NewsItem {
            id: a.id.to_string(),
            headline: a.headline,
            summary: a.summary,
            source: a.source,
            url: a.url,
            created_at: a.created_at,
            symbols: a.symbols,
        }
    }
}

pub trait NewsProvider: Send + Sync {
    /// Items about `symbol` published in `(as_of - lookback, as_of]`.
    fn headlines(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Vec<NewsItem>, SkillError>;
}

pub fn embedded_news_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/news"))
}

/// Reads `<dir>/<SYMBOL>.json` in the Alpaca wire format; no file means no news.
pub struct FileNewsProvider {
    dir: PathBuf,
}

impl FileNewsProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl NewsProvider for FileNewsProvider {
    fn headlines(
        &self,
        symbol: &str,
        as_of: DateTime<Utc>,
        lookback: Duration,
    ) -> Result<Vec<NewsItem>, SkillError> {
        let path = self.dir.join(format!("{symbol}.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SkillError::Unavailable(format!("{}: {e}", path.display()))),
        };
        let parsed: AlpacaNewsResponse = serde_json::from_str(&text).map_err(|e| {
            SkillError::Unavailable(format!("{}: not Alpaca news JSON: {e}", path.display()))
        })?;
        Ok(parsed
            .news
            .into_iter()
            .map(NewsItem::from)
            .filter(|n| n.visible(as_of, lookback))
            .collect())
    }
}

/// Finance terms and their valence on VADER's -4..4 scale. A zero silences a word the general
/// lexicon reads as sentiment but finance news uses as a plain noun ("shares", "interest",
/// "Securities" in a company name); whether such a quantity is good news depends on which way it
/// moved, which [`FINANCE_QUANTITIES`] handles.
const FINANCE_TERMS: &[(&str, f64)] = &[
    ("beat", 2.0),
    ("beats", 2.0),
    ("miss", -2.0),
    ("misses", -2.0),
    ("missed", -2.0),
    ("upgrade", 2.2),
    ("upgrades", 2.2),
    ("upgraded", 2.2),
    ("downgrade", -2.2),
    ("downgrades", -2.2),
    ("downgraded", -2.2),
    ("outperform", 1.8),
    ("underperform", -1.8),
    ("bankruptcy", -3.5),
    ("bankrupt", -3.5),
    ("default", -2.5),
    ("lawsuit", -1.8),
    ("probe", -1.6),
    ("investigation", -1.6),
    ("fraud", -3.2),
    ("layoffs", -1.8),
    ("recall", -1.8),
    // A regular dividend is routine; raised, cut or suspended ones score through the pair rule.
    ("dividend", 0.0),
    ("buyback", 1.5),
    ("repurchase", 1.2),
    ("record", 1.2),
    ("surge", 2.0),
    ("surges", 2.0),
    ("soar", 2.2),
    ("soars", 2.2),
    ("plunge", -2.5),
    ("plunges", -2.5),
    ("slump", -2.0),
    ("tumbles", -2.2),
    ("rally", 1.8),
    ("rallies", 1.8),
    ("selloff", -2.0),
    ("bullish", 2.0),
    ("bearish", -2.0),
    ("raises", 1.0),
    ("cuts", -1.2),
    ("shortfall", -2.0),
    ("writedown", -2.0),
    ("impairment", -1.8),
    ("share", 0.0),
    ("shares", 0.0),
    ("securities", 0.0),
    ("energy", 0.0),
    ("interest", 0.0),
    ("credit", 0.0),
    ("agreement", 0.0),
    ("treasury", 0.0),
    ("holiday", 0.0),
    ("liability", 0.0),
    ("liabilities", 0.0),
    ("tumble", -2.2),
    ("layoff", -1.8),
    ("breach", -2.0),
    ("burn", -1.5),
    ("burns", -1.5),
    ("scrutiny", -1.2),
    ("exposure", -0.6),
    ("terminates", -1.2),
    ("terminated", -1.2),
    // "did not meet its target"; not "meets", which is mostly a calendar verb ("committee meets").
    ("meet", 1.0),
    ("met", 1.0),
];

/// Two-word phrases whose meaning is not the sum of their words: the valence goes on the first
/// word and the second is silenced ("record date" is a calendar entry, not a record).
const FINANCE_PHRASES: &[(&str, &str, f64)] = &[
    ("record", "date", 0.0),
    ("lay", "off", -1.8),
    ("laid", "off", -1.8),
    ("buy", "rating", 1.8),
    ("sell", "rating", -1.8),
];

/// Quantities whose news value is the direction they moved: `1.0` good when it rises (profit,
/// guidance, the share price), `-1.0` bad when it rises (losses, costs, unemployment). Paired with a
/// nearby [`FINANCE_DIRECTIONS`] word, "loss narrows" scores positive and "costs surge" negative,
/// which no per-word lexicon can do.
const FINANCE_QUANTITIES: &[(&str, f64)] = &[
    ("earnings", 1.0),
    ("profit", 1.0),
    ("profits", 1.0),
    ("revenue", 1.0),
    ("revenues", 1.0),
    ("income", 1.0),
    ("sales", 1.0),
    ("margin", 1.0),
    ("margins", 1.0),
    ("growth", 1.0),
    ("output", 1.0),
    ("production", 1.0),
    ("deliveries", 1.0),
    ("orders", 1.0),
    ("volumes", 1.0),
    ("backlog", 1.0),
    ("demand", 1.0),
    ("activity", 1.0),
    ("confidence", 1.0),
    ("guidance", 1.0),
    ("outlook", 1.0),
    ("forecast", 1.0),
    ("target", 1.0),
    ("rating", 1.0),
    ("dividend", 1.0),
    ("buyback", 1.0),
    ("share", 1.0),
    ("shares", 1.0),
    ("stock", 1.0),
    ("stocks", 1.0),
    ("cash", 1.0),
    ("consensus", 1.0),
    ("estimates", 1.0),
    ("forecasts", 1.0),
    ("loss", -1.0),
    ("losses", -1.0),
    ("cost", -1.0),
    ("costs", -1.0),
    ("expenses", -1.0),
    ("debt", -1.0),
    ("liability", -1.0),
    ("liabilities", -1.0),
    ("unemployment", -1.0),
    ("inflation", -1.0),
    ("yields", -1.0),
    ("lawsuit", -1.0),
    ("probe", -1.0),
];

/// Movement words: `1.0` up, `-1.0` down. Next to a quantity they score as the pair; alone they keep
/// their own lexicon valence ("shares plunge" and a bare "plunge" both read negative).
const FINANCE_DIRECTIONS: &[(&str, f64)] = &[
    ("rise", 1.0),
    ("rises", 1.0),
    ("rose", 1.0),
    ("climb", 1.0),
    ("climbs", 1.0),
    ("climbed", 1.0),
    ("jump", 1.0),
    ("jumps", 1.0),
    ("jumped", 1.0),
    ("surge", 1.0),
    ("surges", 1.0),
    ("surged", 1.0),
    ("soar", 1.0),
    ("soars", 1.0),
    ("spike", 1.0),
    ("spikes", 1.0),
    ("grow", 1.0),
    ("grows", 1.0),
    ("grew", 1.0),
    ("widen", 1.0),
    ("widens", 1.0),
    ("expand", 1.0),
    ("expands", 1.0),
    ("raise", 1.0),
    ("raises", 1.0),
    ("raised", 1.0),
    ("lift", 1.0),
    ("lifts", 1.0),
    ("lifted", 1.0),
    ("lifting", 1.0),
    ("boost", 1.0),
    ("boosts", 1.0),
    ("increase", 1.0),
    ("increases", 1.0),
    ("double", 1.0),
    ("doubles", 1.0),
    ("accelerate", 1.0),
    ("accelerates", 1.0),
    ("reinstate", 1.0),
    ("reinstates", 1.0),
    ("tops", 1.0),
    ("higher", 1.0),
    ("high", 1.0),
    ("above", 1.0),
    ("up", 1.0),
    ("fall", -1.0),
    ("falls", -1.0),
    ("fell", -1.0),
    ("drop", -1.0),
    ("drops", -1.0),
    ("dropped", -1.0),
    ("decline", -1.0),
    ("declines", -1.0),
    ("declined", -1.0),
    ("slip", -1.0),
    ("slips", -1.0),
    ("slipped", -1.0),
    ("slide", -1.0),
    ("slides", -1.0),
    ("sink", -1.0),
    ("sinks", -1.0),
    ("sank", -1.0),
    ("plunge", -1.0),
    ("plunges", -1.0),
    ("tumble", -1.0),
    ("tumbles", -1.0),
    ("slump", -1.0),
    ("slumps", -1.0),
    ("shrink", -1.0),
    ("shrinks", -1.0),
    ("shrank", -1.0),
    ("narrow", -1.0),
    ("narrows", -1.0),
    ("narrowed", -1.0),
    ("cut", -1.0),
    ("cuts", -1.0),
    ("slash", -1.0),
    ("slashes", -1.0),
    ("lower", -1.0),
    ("lowers", -1.0),
    ("lowered", -1.0),
    ("low", -1.0),
    ("below", -1.0),
    ("down", -1.0),
    ("short", -1.0),
    ("slow", -1.0),
    ("slows", -1.0),
    ("cool", -1.0),
    ("cools", -1.0),
    ("ease", -1.0),
    ("eases", -1.0),
    ("weaken", -1.0),
    ("weakens", -1.0),
    ("deteriorate", -1.0),
    ("deteriorates", -1.0),
    ("contract", -1.0),
    ("contracts", -1.0),
    ("halt", -1.0),
    ("halts", -1.0),
    ("suspend", -1.0),
    ("suspends", -1.0),
    ("squeeze", -1.0),
    ("squeezes", -1.0),
    ("squeezing", -1.0),
    ("dismiss", -1.0),
    ("dismisses", -1.0),
];

/// How far (in words, within one clause) a direction word looks for its quantity: far enough for
/// "revenue at Acme Foods slipped", near enough not to reach into the next fact.
const PAIR_WINDOW: usize = 4;
/// Valence of a direction-quantity pair, unless the direction word is stronger on its own
/// ("plunge" keeps its -2.5 with the sign the quantity gives it).
const PAIR_VALENCE: f64 = 1.8;
/// Words that start a new clause for pairing and "less than": a quantity in one clause does not
/// move with a verb in the next ("stocks tumble as bond yields spike").
const CLAUSE_WORDS: &[&str] = &["but", "as", "after", "while", "amid", "despite", "and"];
/// "sales fell less than feared": what the clause says is softened into its opposite.
const FLIP_BEFORE_THAN: &[&str] = &["less", "smaller"];
/// Verbs that negate their object in finance news, beyond VADER's grammatical negations
/// ("failed to win", "avoids layoffs").
const FINANCE_NEGATIONS: &[&str] = &["fail", "fails", "failed", "avoid", "avoids", "avoided"];
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "without", "isn't", "wasn't", "don't", "doesn't", "didn't", "won't",
    "can't",
];
const BOOSTERS: &[&str] = &[
    "very",
    "sharply",
    "significantly",
    "strongly",
    "hugely",
    "deeply",
    "extremely",
];

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
    /// `sentiment_eval` measures the finance layer against, so its value is shown, not assumed.
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

fn normalise(headline: &str) -> String {
    headline
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn news_sentiment(
    provider: &dyn NewsProvider,
    scorer: &SentimentScorer,
    symbol: &str,
    as_of: DateTime<Utc>,
) -> Result<SkillOutput, SkillError> {
    let mut out = OutputBuilder::new(NEWS_SENTIMENT, symbol, as_of, FRESHNESS_TARGET_SECONDS);
    let mut items = provider.headlines(symbol, as_of, Duration::hours(LOOKBACK_HOURS))?;
    items.sort_by_key(|n| std::cmp::Reverse(n.created_at));
    let mut seen = BTreeSet::new();
    let total = items.len();
    items.retain(|n| seen.insert(normalise(&n.headline)));
    let removed = total - items.len();
    let Some(newest) = items.first().map(|n| n.created_at) else {
        return Ok(out.missing("no_recent_news"));
    };
    let (mut weighted, mut weights, mut positive, mut negative) = (0.0, 0.0, 0u32, 0u32);
    let mut sources = BTreeSet::new();
    for n in &items {
        let r = scorer.read(&format!("{}. {}", n.headline, n.summary));
        let age_min = (as_of - n.created_at).num_seconds() as f64 / 60.0;
        let w = 0.5f64.powf(age_min / HALF_LIFE_MINUTES);
        weighted += r.score * w;
        weights += w;
        match r.polarity {
            Polarity::Positive => positive += 1,
            Polarity::Negative => negative += 1,
            Polarity::Neutral => {}
        }
        sources.insert(n.source.clone());
        out = out.citation(
            n.url.clone(),
            Some(n.created_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            n.source.clone(),
        );
    }
    let signal = if weights > 0.0 {
        weighted / weights
    } else {
        0.0
    };
    let freshness = (as_of - newest).num_seconds().max(0) as u64;
    let recent = freshness <= 3600;
    let quality = (0.4 + 0.15 * items.len() as f64).min(1.0) * if recent { 1.0 } else { 0.7 };
    let dec = |f: f64| Decimal::from_f64(f).unwrap_or_default().round_dp(4);
    out = out
        .value("signal", dec(signal.clamp(-1.0, 1.0)))
        .value("item_count", Decimal::from(items.len() as u64))
        .value("dedup_removed", Decimal::from(removed as u64))
        .value("positive_count", Decimal::from(positive))
        .value("negative_count", Decimal::from(negative))
        .sources(sources.len() as u32);
    Ok(out.finish(freshness, dec(quality)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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

    fn write_feed(json: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("news-test-{}-{}", std::process::id(), json.len()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("TEST.json"), json).expect("write");
        dir
    }

    #[test]
    fn the_alpaca_wire_format_is_read_deduplicated_and_cut_at_as_of() {
        // Synthetic items for a made-up ticker; not market data.
        let feed = r#"{"news":[
          {"id":1,"headline":"TEST Corp beats estimates","author":"x","created_at":"2013-10-08T14:00:00Z","updated_at":"2013-10-08T14:00:00Z","summary":"","content":"","url":"https://example.test/1","images":[],"symbols":["TEST"],"source":"benzinga"},
          {"id":2,"headline":"TEST corp BEATS estimates!","author":"x","created_at":"2013-10-08T14:05:00Z","updated_at":"2013-10-08T14:05:00Z","summary":"","content":"","url":"https://example.test/2","images":[],"symbols":["TEST"],"source":"reuters"},
          {"id":3,"headline":"TEST Corp faces fraud probe","author":"x","created_at":"2013-10-08T16:00:00Z","updated_at":"2013-10-08T16:00:00Z","summary":"","content":"","url":"https://example.test/3","images":[],"symbols":["TEST"],"source":"benzinga"}
        ],"next_page_token":null}"#;
        let provider = FileNewsProvider::new(write_feed(feed));
        let as_of = Utc
            .with_ymd_and_hms(2013, 10, 8, 14, 30, 0)
            .single()
            .expect("time");
        let out = news_sentiment(&provider, &scorer(), "TEST", as_of).expect("skill");
        assert_eq!(out.payload["item_count"], "1", "{out:?}");
        assert_eq!(out.payload["dedup_removed"], "1");
        assert!(
            out.payload["signal"].parse::<f64>().expect("signal") > 0.0,
            "the future fraud probe is invisible"
        );
        assert_eq!(out.citations.len(), 1);
        assert_eq!(out.status, "stale", "newest item is 25 min old");
    }

    #[test]
    fn no_news_is_an_explicit_missing_domain() {
        let provider = FileNewsProvider::new(embedded_news_dir());
        let as_of = Utc
            .with_ymd_and_hms(2013, 10, 8, 14, 30, 0)
            .single()
            .expect("time");
        let out = news_sentiment(&provider, &scorer(), "IBM", as_of).expect("skill");
        assert_eq!(out.status, "missing");
        assert_eq!(
            out.risk_flags,
            vec!["news-sentiment:missing:no_recent_news".to_owned()]
        );
    }
}
