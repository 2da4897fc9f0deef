//! The daemon's side of a controller's control socket (`plan::control`): one JSON line out,
//! one JSON line back; a console or a watch keeps the connection.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use virt_core::VirtError;

use crate::driver::operation_failed;
use crate::plan::control::{Reply, Request};

/// Reads one line, byte by byte, so nothing after it (console bytes) is consumed.
async fn read_line(s: &mut UnixStream) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if s.read(&mut byte).await? == 0 {
            return Ok(if line.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&line).into_owned())
            });
        }
        if byte[0] == b'\n' {
            return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
        }
        line.push(byte[0]);
        if line.len() > 1 << 20 {
            return Err(std::io::Error::other("control reply line too long"));
        }
    }
}

/// Reads one reply; `None` at end of stream.
pub(crate) async fn read_reply(s: &mut UnixStream) -> Result<Option<Reply>, VirtError> {
    let Some(line) = read_line(s)
        .await
        .map_err(|e| operation_failed(format!("controller connection failed: {e}")))?
    else {
        return Ok(None);
    };
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| operation_failed(format!("controller sent an unreadable reply ({e}): {line}")))
}

/// Connects to `socket` and sends `req`; answers the connection and the first reply.
pub(crate) async fn open(socket: &Path, req: &Request) -> Result<(UnixStream, Reply), VirtError> {
    let mut s = UnixStream::connect(socket).await.map_err(|e| {
        operation_failed(format!(
            "cannot connect to the container's controller at {}: {e}",
            socket.display()
        ))
    })?;
    let mut line = serde_json::to_vec(req).expect("requests serialise");
    line.push(b'\n');
    s.write_all(&line)
        .await
        .map_err(|e| operation_failed(format!("cannot talk to the controller: {e}")))?;
    let reply = read_reply(&mut s)
        .await?
        .ok_or_else(|| operation_failed("the controller closed the connection without a reply"))?;
    if let Reply::Error { message } = &reply {
        return Err(operation_failed(message));
    }
    Ok((s, reply))
}

/// One request, one reply.
pub(crate) async fn call(socket: &Path, req: &Request) -> Result<Reply, VirtError> {
    open(socket, req).await.map(|(_, r)| r)
}
