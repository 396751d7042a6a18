//! The one exception to bearer-token authentication that configuration can make:
//! `TORGHUT_MARKET_CONTEXT_PUBLIC=true` opens the market-context routes to readers without a
//! token. Torghut's `MarketContextClient` cannot send an `Authorization` header, and these routes
//! carry market data only: no portfolio, no run, no token name. Off by default; deploy/README.md
//! describes it and the network policy that should limit who can reach an open route.
//!
//! Kept apart from `auth` so the switch is one small, separately reviewable rule: exact paths,
//! no prefixes, and everything else goes through `auth::require_token` unchanged.

use crate::auth::{Auth, require_token};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Both shapes of the market context and their health, compared exactly.
pub const MARKET_CONTEXT_PATHS: [&str; 4] = [
    "/api/torghut/market-context",
    "/api/torghut/market-context/health",
    "/api/torghut/market-context/engine",
    "/api/torghut/market-context/engine/health",
];

fn is_market_context(path: &str) -> bool {
    MARKET_CONTEXT_PATHS.contains(&path)
}

/// The authentication layer: `require_token`, except for the market-context routes when they
/// are configured public.
pub async fn authenticate(
    State((auth, market_context_public)): State<(Option<Arc<Auth>>, bool)>,
    request: Request,
    next: Next,
) -> Response {
    if market_context_public && is_market_context(request.uri().path()) {
        return next.run(request).await;
    }
    require_token(State(auth), request, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_market_context_routes_can_be_opened() {
        for (path, open) in [
            ("/api/torghut/market-context", true),
            ("/api/torghut/market-context/health", true),
            ("/api/torghut/market-context/engine", true),
            ("/api/torghut/market-context/engine/health", true),
            ("/api/torghut/market-context/", false),
            ("/api/torghut/market-context/../decision-engine/runs", false),
            ("/api/torghut/decision-engine/stream", false),
            ("/api/torghut/decision-engine/runs/x", false),
            ("/openapi.json", false),
        ] {
            assert_eq!(is_market_context(path), open, "{path}");
        }
    }
}
