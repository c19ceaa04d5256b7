//! The HTTP listener: an accept loop over hyper's HTTP/1 connections, for what
//! `axum::serve` cannot do: a header-read timeout (which is also the idle keep-alive
//! timeout), a request-body timeout, and a cap on open connections below the open-files
//! limit.
//!
//! A connection over the cap is closed at once (counted in
//! `tandem_http_connections_refused_total`, logged at most once per 10 s), so Tandem keeps
//! descriptors for its store, its outbound HTTP and `/healthz` instead of stopping
//! silently when the process runs out of them. Upgraded connections (WebSockets) keep
//! their place under the cap until they close.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tandem_core::metrics::Metrics;
use tandem_sdk::telemetry::Throttle;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;
use tracing::{info, warn};

/// Descriptors kept free for everything that is not a client connection: at least this
/// many, and at least a tenth of the limit.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The listener's limits (`[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a client may take to send a request's headers, counted from when the
    /// connection is ready for the next request: also the idle keep-alive timeout.
    pub header_read_timeout: Duration,
    /// Longest pause while a request body is read.
    pub body_timeout: Duration,
    /// Open connections at most (WebSockets included).
    pub max_connections: usize,
}

/// Raises the soft open-files limit to the hard limit where the system allows it;
/// returns the soft limit in force afterwards (`None` where it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            warn!(error = %e, "Could not raise the open-files limit.");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The connection cap: `configured`, but never more than the open-files limit minus the
/// reserve (the limit is what it is; a cap above it would fail silently again).
pub fn connection_cap(configured: Option<usize>, open_files: Option<u64>) -> usize {
    let ceiling = open_files.map(|limit| {
        let reserve = RESERVED_DESCRIPTORS.max(limit / 10);
        usize::try_from(limit.saturating_sub(reserve).max(16)).unwrap_or(usize::MAX)
    });
    match (configured, ceiling) {
        (Some(n), Some(ceiling)) if n > ceiling => {
            warn!(
                configured = n,
                cap = ceiling,
                "server.max_connections is above what the open-files limit allows; lowered."
            );
            ceiling
        }
        (Some(n), _) => n,
        (None, Some(ceiling)) => ceiling,
        (None, None) => 10_000,
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets in-flight
/// requests finish (at most `drain`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    drain: Duration,
) {
    static REFUSED: Throttle = Throttle::new(Duration::from_secs(10));
    static ACCEPT_FAILED: Throttle = Throttle::new(Duration::from_secs(10));
    info!(
        max_connections = limits.max_connections,
        header_read_timeout_s = limits.header_read_timeout.as_secs_f64(),
        body_timeout_s = limits.body_timeout.as_secs_f64(),
        "HTTP limits."
    );
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning.
                    if let Some(suppressed) = ACCEPT_FAILED.check() {
                        warn!(error = %e, suppressed, "Accepting a connection failed.");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.connection_refused();
            if let Some(suppressed) = REFUSED.check() {
                warn!(
                    max_connections = limits.max_connections,
                    suppressed, "Connection cap reached; new connections are closed at once."
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body_timeout = limits.body_timeout;
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)))
            });
        let io = TokioIo::new(Counted {
            stream,
            _permit: permit,
        });
        let builder = builder.clone();
        let stop = shutdown.clone();
        connections.spawn(async move {
            let connection = builder
                .serve_connection(io, TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain, connections.wait())
        .await
        .is_err()
    {
        warn!(
            drain_s = drain.as_secs(),
            "HTTP requests still running after the drain time; closing them."
        );
    }
}

/// A client connection holding its place under the cap until it is dropped (after an
/// upgrade, the WebSocket owns it).
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn the_cap_stays_below_the_open_files_limit() {
        assert_eq!(connection_cap(None, Some(1024)), 922);
        assert_eq!(connection_cap(None, Some(20_000)), 18_000);
        assert_eq!(connection_cap(Some(50_000), Some(1024)), 922);
        assert_eq!(connection_cap(Some(500), Some(1024)), 500);
        assert_eq!(connection_cap(Some(500), None), 500);
        assert_eq!(connection_cap(None, Some(10)), 16);
    }
}
