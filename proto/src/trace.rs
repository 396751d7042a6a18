//! W3C Trace Context (`traceparent`): how a run names the distributed trace it belongs to.
//!
//! The gateway parses the caller's header with [`TraceParent::parse`]; the workflow records the
//! result in its input and stamps [`TraceParent::trace_id_hex`] on every event; activities parse
//! it again to join the same trace. A run started without one (the intraday loop, an old client)
//! gets [`TraceParent::derived`] from its request id: the same id on every replay, because
//! workflow code may not draw random numbers.
//!
//! Parsing follows the W3C recommendation (Trace Context Level 1, section 3.2): lowercase hex
//! only, all-zero ids invalid, version `ff` invalid, and a future version parsed by its first
//! four fields. An invalid header is not an error for the caller: the gateway starts a new trace,
//! as the recommendation says a receiver must.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The parts of a `traceparent` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    /// The span id of the caller's span: the parent of whatever the receiver starts.
    pub parent_id: [u8; 8],
    /// Bit 0 is `sampled`.
    pub flags: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("traceparent: {reason}")]
pub struct TraceParentError {
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> TraceParentError {
    TraceParentError {
        reason: reason.into(),
    }
}

/// `N` bytes from exactly `2N` lowercase hex digits (`hex` alone would accept uppercase).
fn lower_hex<const N: usize>(field: &str, text: &str) -> Result<[u8; N], TraceParentError> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(invalid(format!(
            "{field}: expected {} lowercase hex digits, got {text:?}",
            2 * N
        )));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| invalid(format!("{field}: {e}")))?;
    Ok(out)
}

impl TraceParent {
    /// Length of a version-00 header: `00-` + 32 + `-` + 16 + `-` + 2.
    pub const LEN: usize = 55;
    pub const SAMPLED: u8 = 0x01;

    pub fn parse(header: &str) -> Result<Self, TraceParentError> {
        let header = header.trim_matches(|c| c == ' ' || c == '\t');
        let version: [u8; 1] = lower_hex("version", header.get(..2).unwrap_or(header))?;
        match version[0] {
            0xff => return Err(invalid("version ff is invalid")),
            0x00 if header.len() != Self::LEN => {
                return Err(invalid(format!(
                    "version 00 is exactly {} characters, got {}",
                    Self::LEN,
                    header.len()
                )));
            }
            // A later version may append fields, after a dash.
            _ if header.len() < Self::LEN
                || (header.len() > Self::LEN && header.as_bytes()[Self::LEN] != b'-') =>
            {
                return Err(invalid(format!(
                    "expected at least {} characters, then `-` before any further field",
                    Self::LEN
                )));
            }
            _ => {}
        }
        let fields = header.get(..Self::LEN).unwrap_or_default();
        let mut parts = fields.split('-');
        let (Some(_), Some(trace), Some(parent), Some(flags), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid("expected version-traceid-parentid-flags"));
        };
        let trace_id: [u8; 16] = lower_hex("trace-id", trace)?;
        let parent_id: [u8; 8] = lower_hex("parent-id", parent)?;
        let [flags] = lower_hex::<1>("trace-flags", flags)?;
        if trace_id == [0; 16] {
            return Err(invalid("trace-id: all zeros is invalid"));
        }
        if parent_id == [0; 8] {
            return Err(invalid("parent-id: all zeros is invalid"));
        }
        Ok(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// A trace context that is a pure function of `key` (a run's request id): what a run started
    /// without a `traceparent` is traced as, identically on every replay. Sampled, so its spans
    /// are exported like any other run's.
    pub fn derived(key: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(b"torghut/trace/v1\0")
            .chain_update(key.as_bytes())
            .finalize();
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        trace_id.copy_from_slice(&digest[..16]);
        parent_id.copy_from_slice(&digest[16..24]);
        // All zeros is invalid; a digest that starts with 16 (or 8) zero bytes is not a worry
        // in practice, but the result must be valid for every input.
        trace_id[15] |= u8::from(trace_id == [0; 16]);
        parent_id[7] |= u8::from(parent_id == [0; 8]);
        Self {
            trace_id,
            parent_id,
            flags: Self::SAMPLED,
        }
    }

    /// The trace id as 32 lowercase hex digits: what events, logs and trace backends show.
    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn sampled(&self) -> bool {
        self.flags & Self::SAMPLED != 0
    }
}

impl fmt::Display for TraceParent {
    /// Always version 00, the only version this engine writes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex::encode(self.trace_id),
            hex::encode(self.parent_id),
            self.flags
        )
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_round_trips() {
        let tp = TraceParent::parse(EXAMPLE).expect("valid");
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex::encode(tp.parent_id), "00f067aa0ba902b7");
        assert!(tp.sampled());
        assert_eq!(tp.to_string(), EXAMPLE);
        assert_eq!(EXAMPLE.parse::<TraceParent>(), Ok(tp));
    }

    #[test]
    fn headers_the_recommendation_accepts() {
        for (header, trace_id, sampled) in [
            (EXAMPLE, "4bf92f3577b34da6a3ce929d0e0e4736", true),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                "4bf92f3577b34da6a3ce929d0e0e4736",
                false,
            ),
            (
                " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t",
                "4bf92f3577b34da6a3ce929d0e0e4736",
                true,
            ),
            // A future version: the first four fields count, later ones are ignored.
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds",
                "4bf92f3577b34da6a3ce929d0e0e4736",
                true,
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                "4bf92f3577b34da6a3ce929d0e0e4736",
                false,
            ),
        ] {
            let tp = TraceParent::parse(header).unwrap_or_else(|e| panic!("{header:?}: {e}"));
            assert_eq!(tp.trace_id_hex(), trace_id, "{header:?}");
            assert_eq!(tp.sampled(), sampled, "{header:?}");
        }
    }

    #[test]
    fn headers_the_recommendation_rejects_name_what_is_wrong() {
        for (header, says) in [
            ("", "version"),
            ("garbage", "version"),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "version ff",
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                "trace-id",
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "trace-id: all zeros",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "parent-id: all zeros",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                "exactly 55",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                "exactly 55",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
                "trace-id",
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                "version-traceid-parentid-flags",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-xy",
                "trace-flags",
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                "then `-`",
            ),
        ] {
            let err = TraceParent::parse(header).expect_err(header);
            assert!(err.reason.contains(says), "{header:?}: {err}");
        }
    }

    #[test]
    fn a_derived_context_is_stable_distinct_and_valid() {
        let a = TraceParent::derived("6f1d3c52-8e0a-4b7e-9d61-2a47c31580e9");
        assert_eq!(
            a,
            TraceParent::derived("6f1d3c52-8e0a-4b7e-9d61-2a47c31580e9")
        );
        assert_ne!(a.trace_id, TraceParent::derived("another").trace_id);
        assert!(a.sampled());
        assert_eq!(TraceParent::parse(&a.to_string()), Ok(a));
        // Pinned: a run's derived trace must not change between engine versions, or a run
        // replayed on a newer worker would stamp a different trace id on its events.
        assert_eq!(
            TraceParent::derived("decision-r-1").to_string(),
            "00-b25e4ba11f41e94500b8f78bdadf0635-d8690f1f2f79b257-01"
        );
    }
}
