//! The console stream of [`Connection`] (ConsoleService): a bidirectional byte stream to a
//! domain's serial console.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use virt_core::proto::{self, open_console_request::Item};
use virt_core::types::DomainLookup;

use crate::connection::Connection;
use crate::domain::domain_ref;
use crate::error::ClientError;

/// How many guest-bound chunks may wait before [`ConsoleWriter::send`] waits.
const OUTBOUND_QUEUE: usize = 64;

/// An open console: a writer for guest-bound bytes and a reader for the guest's output.
pub struct Console {
    /// Sends bytes to the guest.
    pub writer: ConsoleWriter,
    /// Receives the guest's output.
    pub reader: ConsoleReader,
}

/// The guest-bound half of a [`Console`]. Dropping it closes the client side of the stream.
#[derive(Clone)]
pub struct ConsoleWriter {
    tx: mpsc::Sender<proto::OpenConsoleRequest>,
}

/// The guest-output half of a [`Console`].
pub struct ConsoleReader {
    inner: tonic::Streaming<proto::OpenConsoleResponse>,
}

impl ConsoleWriter {
    /// Sends `data` to the guest; `false` when the stream has ended.
    pub async fn send(&self, data: Vec<u8>) -> bool {
        let req = proto::OpenConsoleRequest {
            item: Some(Item::Data(data)),
        };
        self.tx.send(req).await.is_ok()
    }
}

impl ConsoleReader {
    /// The next chunk of guest output; `None` when the stream ended.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        Ok(self.inner.message().await?.map(|m| m.data))
    }
}

impl Connection {
    /// Connects to `dom`'s console `dev_name` (first console when `None`), with ConsoleFlag
    /// bits. libvirt: virDomainOpenConsole.
    pub async fn open_console(
        &self,
        dom: &DomainLookup,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Console, ClientError> {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let open = proto::OpenConsoleRequest {
            item: Some(Item::Open(proto::ConsoleOpen {
                domain: Some(domain_ref(dom)),
                dev_name: dev_name.unwrap_or_default().to_string(),
                flags,
            })),
        };
        tx.send(open)
            .await
            .expect("the receiver is held in this scope");
        let inner = self
            .console_client()
            .open_console(ReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(Console {
            writer: ConsoleWriter { tx },
            reader: ConsoleReader { inner },
        })
    }
}
