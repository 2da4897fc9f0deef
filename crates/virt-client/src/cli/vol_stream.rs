//! `virt vol-upload` and `vol-download`: a volume's bytes to and from a local file over the
//! UploadStorageVolume / DownloadStorageVolume streams, with a progress bar on standard error
//! only when standard output is a terminal.

use std::io::{IsTerminal, Read, Write};

use virt_client::{ClientError, Connection};
use virt_core::proto::{
    upload_storage_volume_request, DownloadStorageVolumeRequest, UploadStart,
    UploadStorageVolumeRequest,
};

use super::output::Output;
use super::report::CliError;
use super::storage::{vol_ref, volume};

/// Bytes per stream message.
const CHUNK: usize = 256 * 1024;

/// Options of `vol-upload` and `vol-download`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Volume name, key or path.
    #[arg(value_name = "VOL")]
    pub vol: String,
    /// The local file.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Pool name or UUID.
    #[arg(long)]
    pub pool: Option<String>,
    /// Volume offset to start at.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Amount of data to move.
    #[arg(long, default_value_t = 0)]
    pub length: u64,
    /// Preserve sparseness of the volume.
    #[arg(long)]
    pub sparse: bool,
}

/// A `[ 42%]`-style progress line, drawn only on a terminal.
struct Progress {
    on: bool,
    total: u64,
    done: u64,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            on: std::io::stdout().is_terminal(),
            total,
            done: 0,
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if !self.on {
            return;
        }
        let pct = (self.done * 100)
            .checked_div(self.total)
            .unwrap_or(100)
            .min(100);
        let bar = "=".repeat((pct / 4) as usize);
        eprint!("\r[{bar:<25}] {pct:>3}% {} bytes", self.done);
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.on {
            eprintln!();
        }
    }
}

fn failed(e: impl Into<ClientError>, what: String) -> CliError {
    CliError::Call {
        context: Some(what),
        source: Box::new(e.into()),
    }
}

/// Runs `vol-upload`.
pub async fn upload(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let mut file = std::fs::File::open(&a.file)
        .map_err(|e| CliError::msg(format!("cannot read {}: {e}", a.file)))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let total = if a.length > 0 {
        a.length.min(size)
    } else {
        size
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<UploadStorageVolumeRequest>(4);
    let start = UploadStorageVolumeRequest {
        part: Some(upload_storage_volume_request::Part::Start(UploadStart {
            volume: Some(vol_ref(&v)),
            offset: a.offset,
            length: a.length,
            flags: u32::from(a.sparse),
        })),
    };
    let _ = tx.send(start).await;
    let reader = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut progress = Progress::new(total);
        let mut left = total;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = (left as usize).min(CHUNK);
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            left -= n as u64;
            progress.add(n as u64);
            let msg = UploadStorageVolumeRequest {
                part: Some(upload_storage_volume_request::Part::Data(buf[..n].to_vec())),
            };
            if tx.blocking_send(msg).is_err() {
                break;
            }
        }
        progress.finish();
        Ok(())
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let r = conn.storage_client().upload_storage_volume(stream).await;
    let read = reader.await;
    r.map_err(|e| failed(e, format!("cannot upload to volume {}", a.vol)))?;
    match read {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CliError::msg(format!("cannot read {}: {e}", a.file))),
        Err(e) => Err(CliError::msg(format!("cannot read {}: {e}", a.file))),
    }
}

/// Runs `vol-download`.
pub async fn download(conn: &Connection, a: &Args, out: &mut Output) -> Result<(), CliError> {
    let _ = out;
    let v = volume(conn, &a.vol, a.pool.as_deref()).await?;
    let what = || format!("cannot download from volume {}", a.vol);
    let mut stream = conn
        .storage_client()
        .download_storage_volume(DownloadStorageVolumeRequest {
            volume: Some(vol_ref(&v)),
            offset: a.offset,
            length: a.length,
            flags: u32::from(a.sparse),
        })
        .await
        .map_err(|e| failed(e, what()))?
        .into_inner();
    let mut file = std::fs::File::create(&a.file)
        .map_err(|e| CliError::msg(format!("cannot create {}: {e}", a.file)))?;
    let mut progress: Option<Progress> = None;
    loop {
        match stream.message().await {
            Ok(Some(m)) => {
                let p = progress.get_or_insert_with(|| Progress::new(m.total));
                file.write_all(&m.data)
                    .map_err(|e| CliError::msg(format!("cannot write {}: {e}", a.file)))?;
                p.add(m.data.len() as u64);
            }
            Ok(None) => break,
            Err(e) => {
                let _ = std::fs::remove_file(&a.file);
                return Err(failed(e, what()));
            }
        }
    }
    if let Some(p) = progress {
        p.finish();
    }
    Ok(())
}
