//! ConsoleService: the console as a bidirectional byte stream. The first client message opens
//! the console; bytes flow both ways until either side closes or the domain stops.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Request, Response, Status, Streaming};

use super::events::async_stream;
use super::{status, Ctx};
use crate::proto::console_service_server::ConsoleService;
use crate::proto::open_console_request::Item;
use crate::proto::*;
use crate::proto_conv::lookup;

type ConsoleOut = Pin<Box<dyn Stream<Item = Result<OpenConsoleResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConsoleService for Ctx {
    type OpenConsoleStream = ConsoleOut;

    async fn open_console(
        &self,
        req: Request<Streaming<OpenConsoleRequest>>,
    ) -> Result<Response<ConsoleOut>, Status> {
        let d = self.driver(&req)?;
        let mut inbound = req.into_inner();
        let open = match inbound.next().await {
            Some(Ok(OpenConsoleRequest {
                item: Some(Item::Open(o)),
            })) => o,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(Status::invalid_argument(
                    "the first OpenConsole message must carry `open`",
                ))
            }
        };
        let io = d
            .open_console(&lookup(open.domain.as_ref())?, &open.dev_name, open.flags)
            .await
            .map_err(|e| status(&e))?;
        let (mut rd, mut wr) = tokio::io::split(io);
        tokio::spawn(async move {
            while let Some(Ok(msg)) = inbound.next().await {
                if let Some(Item::Data(bytes)) = msg.item {
                    if wr.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
            }
            let _ = wr.shutdown().await;
        });
        let out = async_stream(move |tx| async move {
            let mut buf = vec![0u8; 8192];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let msg = OpenConsoleResponse {
                            data: buf[..n].to_vec(),
                        };
                        if tx.send(Ok(msg)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Response::new(out))
    }
}
