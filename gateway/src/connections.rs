//! Accepting connections within bounds, so idle or slow clients cannot take the gateway down.
//!
//! Each open connection holds a file descriptor; a client that opens thousands and sends nothing
//! would otherwise exhaust them (`Too many open files`), and then nobody, probes included, gets
//! an answer. So:
//! - a cap on open connections in all ([`Limits::max_connections`]) and per client address
//!   ([`Limits::max_per_peer`]): one over a cap is answered `503` at once and closed;
//! - a header-read timeout: a connection that has not sent a complete request head in
//!   [`Limits::header_read_timeout`] (including one that sends nothing at all) is closed;
//! - an idle timeout: a connection with no request in flight and no byte either way for
//!   [`Limits::idle_timeout`] is closed. An SSE stream writes a heartbeat every 5-15 s, so a
//!   stream is never idle; a keep-alive connection between requests is.
//!
//! The caps are checked against the process's open-file limit at start ([`check_fd_limit`]),
//! after raising its soft limit to the hard one.

use crate::metrics::{ConnectionMetrics, Refusal};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Descriptors kept free of connections: the Temporal client, logs, the runtime.
pub const RESERVED_FDS: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_peer: usize,
}

/// Raises the soft open-file limit to the hard limit and checks that the connection cap fits
/// under it; returns the limit now in force.
pub fn check_fd_limit(limits: &Limits) -> Result<u64, String> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read the plain struct passed by pointer.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return Err("cannot read the open-file limit (getrlimit)".into());
        }
        if rl.rlim_cur < rl.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
        rl.rlim_cur
    };
    // rlim_t is u64 on the Linux targets we build for.
    let soft: u64 = soft;
    let needed = limits.max_connections as u64 + RESERVED_FDS;
    if soft < needed {
        return Err(format!(
            "TORGHUT_GATEWAY_MAX_CONNECTIONS: {} connections need an open-file limit of at least {needed}, and the hard limit is {soft}; lower the cap or raise the limit (ulimit -n, or the container runtime's nofile)",
            limits.max_connections
        ));
    }
    Ok(soft)
}

/// Open connections by client address.
#[derive(Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

/// One connection counted against its peer's cap until dropped.
struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<PeerSlot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What the watchdog of one connection looks at.
struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last byte read or written.
    last_io_ms: AtomicU64,
    read_any: std::sync::atomic::AtomicBool,
    in_flight: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        self.started.elapsed().saturating_sub(Duration::from_millis(
            self.last_io_ms.load(Ordering::Relaxed),
        ))
    }
}

/// The socket, noting each byte's passing for the watchdog.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_any.store(true, Ordering::Relaxed);
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Counts a request in flight until its handler has answered.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Why the watchdog closes a connection, if it does.
async fn watchdog(activity: &Activity, limits: Limits) -> &'static str {
    let tick = Duration::from_millis(500).min(limits.header_read_timeout);
    loop {
        tokio::time::sleep(tick).await;
        if !activity.read_any.load(Ordering::Relaxed)
            && activity.started.elapsed() >= limits.header_read_timeout
        {
            return "no request within the header-read timeout";
        }
        if activity.in_flight.load(Ordering::Relaxed) == 0
            && activity.idle_for() >= limits.idle_timeout
        {
            return "idle";
        }
    }
}

const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 110\r\n\r\n{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the gateway is at its connection cap; retry shortly\"}}\r\n";

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then stops accepting,
/// lets open connections finish (graceful shutdown) and returns once they have. `metrics`
/// follows the open connections and counts refusals.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: ConnectionMetrics,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    metrics.set_max(limits.max_connections);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let peers = Arc::new(Peers::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait for descriptors to come back rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let refuse = |stream: TcpStream, why: Refusal| {
            tracing::debug!(%peer, ?why, "connection refused");
            metrics.refused(why);
            // Best effort and never waiting: a client that reads gets a reason.
            let _ = stream.try_write(OVER_CAP);
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream, Refusal::TotalCap);
            continue;
        };
        let Some(peer_slot) = peers.take(peer.ip(), limits.max_per_peer) else {
            refuse(stream, Refusal::PeerCap);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let open = metrics.opened();
        tokio::spawn(async move {
            let _slots = (slot, peer_slot, open);
            let activity = Arc::new(Activity {
                started: Instant::now(),
                last_io_ms: AtomicU64::new(0),
                read_any: std::sync::atomic::AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
            });
            let io = TokioIo::new(Watched {
                inner: stream,
                activity: activity.clone(),
            });
            let counted = activity.clone();
            let service =
                tower::ServiceExt::<axum::http::Request<hyper::body::Incoming>>::map_future(
                    app,
                    move |fut| {
                        let guard = InFlight::enter(&counted);
                        async move {
                            let response = fut.await;
                            drop(guard);
                            response
                        }
                    },
                );
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let conn =
                builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
            let mut conn = std::pin::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(%peer, error = %e, "connection ended");
                        }
                        break;
                    }
                    why = watchdog(&activity, limits) => {
                        tracing::debug!(%peer, why, "closing connection");
                        break;
                    }
                    changed = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        if changed.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    stop_tx.send_replace(true);
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_cap_of_connections_and_a_slot_comes_back_when_one_closes() {
        let peers = Arc::new(Peers::default());
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.3".parse().expect("ip");
        let held: Vec<PeerSlot> = (0..3).map(|_| peers.take(a, 3).expect("slot")).collect();
        assert!(peers.take(a, 3).is_none(), "the fourth from one peer");
        assert!(peers.take(b, 3).is_some(), "another peer is not affected");
        drop(held.into_iter().next());
        assert!(peers.take(a, 3).is_some(), "a closed one frees its slot");
    }
}
