//! `virt-proxy --stdio`: the remote end of the `+ssh` transport. ssh runs it on the remote host;
//! it connects to that host's proxy socket and copies bytes both ways between the socket and its
//! own stdin/stdout, so the client's HTTP/2 connection runs over ssh to the local proxy, as
//! libvirt's ssh transport runs `virt-ssh-helper`. It neither decodes nor buffers: the proxy
//! behind it enforces everything, read-only included (`--readonly` picks the `-ro` socket).

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use virt_core::runtime::{Mode, Paths};

/// The proxy socket a bridge for `uri` connects to: `socket` when given; else the proxy's
/// socket in the system tree for `/system` URIs, the caller's session tree for `/session`, the
/// caller's own mode otherwise; `-ro` when `read_only`. `root` moves the tree (`VIRT_ROOT`).
pub fn bridge_socket(
    uri: Option<&str>,
    socket: Option<&Path>,
    read_only: bool,
    root: Option<&Path>,
) -> PathBuf {
    if let Some(s) = socket {
        return s.to_path_buf();
    }
    let path = uri
        .and_then(|u| virt_core::uri::ConnectUri::parse(u).ok())
        .map(|u| u.path)
        .unwrap_or_default();
    let mode = match path.as_str() {
        "/system" => Mode::System,
        "/session" => Mode::Session,
        _ => Mode::current(),
    };
    let paths = Paths::resolve(root, mode);
    if read_only && paths.has_ro_socket() {
        paths.socket_ro(crate::DAEMON_NAME)
    } else {
        paths.socket(crate::DAEMON_NAME)
    }
}

/// Connects to `socket` and copies `input` to it and its output to `output` until either side
/// closes. The error names the socket when it cannot be reached.
pub async fn bridge<R, W>(socket: &Path, mut input: R, mut output: W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot connect to the proxy socket {}: {e}",
                socket.display()
            ),
        )
    })?;
    let (mut from_proxy, mut to_proxy) = stream.into_split();
    let upstream = async {
        tokio::io::copy(&mut input, &mut to_proxy).await?;
        to_proxy.shutdown().await
    };
    let downstream = async {
        tokio::io::copy(&mut from_proxy, &mut output).await?;
        output.flush().await
    };
    // The client closing its side (ssh's stdin at EOF) ends the session once the proxy has
    // answered and closed; the proxy closing ends it at once.
    tokio::pin!(upstream, downstream);
    tokio::select! {
        r = &mut downstream => r,
        r = &mut upstream => {
            r?;
            downstream.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn socket_follows_uri_mode_and_read_only() {
        let root = Path::new("/r");
        assert_eq!(
            bridge_socket(Some("qemu:///system"), None, false, Some(root)),
            Path::new("/r/run/virt/virt-proxy-sock")
        );
        assert_eq!(
            bridge_socket(Some("qemu:///system"), None, true, Some(root)),
            Path::new("/r/run/virt/virt-proxy-sock-ro")
        );
        assert_eq!(
            bridge_socket(None, Some(Path::new("/x.sock")), true, Some(root)),
            Path::new("/x.sock")
        );
    }

    #[tokio::test]
    async fn bytes_cross_both_ways_and_eof_ends_the_bridge() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("echo.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.expect("read");
            buf.reverse();
            s.write_all(&buf).await.expect("write");
        });
        let input: &[u8] = b"hello proxy";
        let mut output = Vec::new();
        bridge(&path, input, &mut output).await.expect("bridge");
        assert_eq!(output, b"yxorp olleh");
    }

    #[tokio::test]
    async fn missing_proxy_names_the_socket() {
        let e = bridge(
            Path::new("/nonexistent/virt-proxy-sock"),
            &b""[..],
            Vec::new(),
        )
        .await
        .expect_err("no proxy");
        assert!(
            e.to_string().contains("/nonexistent/virt-proxy-sock"),
            "{e}"
        );
    }
}
