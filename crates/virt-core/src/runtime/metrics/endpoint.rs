//! The `/metrics` endpoint: HTTP/1.1 (hyper's http1 server) on a loopback TCP address or a
//! UNIX socket.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::codegen::Bytes;

use super::text::Format;
use super::{Metrics, MetricsListen};
use crate::runtime::listener::clear_stale;
use crate::runtime::RuntimeError;

/// How long a client gets to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound metrics listener; a UNIX socket it bound is unlinked on drop.
#[derive(Debug)]
pub struct Bound {
    kind: BoundKind,
    /// Where it listens, for logs (`127.0.0.1:9177`, `unix:/run/...`).
    pub label: String,
}

#[derive(Debug)]
enum BoundKind {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let BoundKind::Unix(_, path) = &self.kind {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds `listen` (a stale socket file is replaced; a live one is an error).
pub async fn bind(listen: &MetricsListen) -> Result<Bound, RuntimeError> {
    let err = |source| RuntimeError::Metrics {
        listen: listen.to_string(),
        source,
    };
    match listen {
        MetricsListen::Tcp(addr) => {
            let l = TcpListener::bind(addr).await.map_err(err)?;
            let label = l.local_addr().map_or(addr.to_string(), |a| a.to_string());
            Ok(Bound {
                kind: BoundKind::Tcp(l),
                label,
            })
        }
        MetricsListen::Unix { path, mode } => {
            clear_stale(path)?;
            let l = UnixListener::bind(path).map_err(err)?;
            // Unlinked on drop from here on, also when the chmod fails.
            let bound = Bound {
                kind: BoundKind::Unix(l, path.clone()),
                label: listen.to_string(),
            };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)).map_err(
                |source| RuntimeError::Chmod {
                    path: path.clone(),
                    mode: *mode,
                    source,
                },
            )?;
            Ok(bound)
        }
    }
}

/// Serves scrapes on `bound` until `stop` turns true; open connections are dropped then.
pub async fn serve(bound: Bound, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            a = accept(&bound) => a,
        };
        match accepted {
            Ok(io) => {
                let metrics = metrics.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let metrics = metrics.clone();
                        async move { Ok::<_, Infallible>(answer(&metrics, req).await) }
                    });
                    let res = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(io, svc)
                        .await;
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "metrics connection ended with an error");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(listener = %bound.label, error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Either kind of accepted stream, as hyper's IO.
enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(bound: &Bound) -> std::io::Result<TokioIo<Conn>> {
    Ok(TokioIo::new(match &bound.kind {
        BoundKind::Tcp(l) => Conn::Tcp(l.accept().await?.0),
        BoundKind::Unix(l, _) => Conn::Unix(l.accept().await?.0),
    }))
}

impl tokio::io::AsyncRead for Conn {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Conn::Unix(s) => std::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Conn {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Conn::Unix(s) => std::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => std::pin::Pin::new(s).poll_flush(cx),
            Conn::Unix(s) => std::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Conn::Unix(s) => std::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}

fn plain(status: http::StatusCode, text: &str) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::from(text.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// One request: `GET /metrics` is a scrape; anything else is 404 or 405.
async fn answer<B>(metrics: &Metrics, req: http::Request<B>) -> http::Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(
            http::StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        );
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        let mut resp = plain(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET\n",
        );
        resp.headers_mut().insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD"),
        );
        return resp;
    }
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = metrics.render(format).await;
    let body = if req.method() == http::Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut resp = http::Response::new(Full::new(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(format.content_type()),
    );
    resp
}
