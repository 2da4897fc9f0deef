//! Any HTTP/2 `:authority` on a UNIX socket: [`AuthorityFix`] rewrites one the HTTP/2 layer
//! would refuse to `localhost` before the server reads it.
//!
//! Why: over a UNIX socket there is no host, and gRPC stacks disagree on what to send as
//! `:authority`. tonic and grpc-go send `localhost` (or `[::]:50051`); grpc-core (Python, C++,
//! Ruby, PHP) sends the percent-encoded socket path (`tmp%2Frun%2Fvirt%2Fvirt-proxy-sock`),
//! grpc-java and grpc-swift the path itself. h2, under hyper and tonic, parses `:authority` as
//! an RFC 3986 authority and resets the stream with `PROTOCOL_ERROR` when it is not one, which a
//! Python client sees as `INTERNAL 'Stream removed (RST_STREAM ... error code 1)'`. h2 has no
//! setting to relax this (hyperium/h2 pull request 487 is still open), and the authority means
//! nothing to a daemon on a UNIX socket, so the runtime mends it on the way in.
//!
//! How: the wrapper reads the client's byte stream frame by frame. Frames other than HEADERS and
//! CONTINUATION pass through untouched (their payloads streamed, never buffered whole). A header
//! block is HPACK-decoded with a decoder that follows the client's dynamic table. On the first
//! request the connection picks its mode:
//!
//! - the authority is absent or valid (every tonic, grpc-go and virt-proxy client): the block's
//!   original bytes go on and the wrapper becomes a plain pass-through for the rest of the
//!   connection, so such clients pay one decode per connection and nothing per call;
//! - it is not valid: this block and every later one are re-encoded, with an invalid
//!   `:authority` replaced by `localhost`. The re-encoding uses literals without indexing only,
//!   so the server's HPACK decoder never needs a dynamic table entry the client did not send
//!   through us. Blocks larger than the smallest HTTP/2 frame size (16384 bytes) are split
//!   into CONTINUATION frames.
//!
//! A header block that does not decode ends the connection with an I/O error (the server would
//! have answered COMPRESSION_ERROR). Writes from the server pass straight through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The client connection preface (RFC 9113 section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The authority put in place of one the HTTP/2 layer would refuse.
pub const REPLACEMENT_AUTHORITY: &str = "localhost";
/// Frame types and flags this module reads.
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame every HTTP/2 peer accepts (SETTINGS_MAX_FRAME_SIZE's initial value).
const MAX_FRAME: usize = 16_384;
/// The largest header block the wrapper buffers; more is an error (h2's own default limit on a
/// decoded header list is 16 KiB, so no valid request comes near).
const MAX_BLOCK: usize = 1 << 20;
/// The largest HPACK dynamic table a client may ask for (h2 advertises 4096).
const MAX_TABLE: usize = 65_536;

/// What the wrapper does with the bytes it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Before the first request: reading frames, deciding.
    Sniff,
    /// Bytes pass straight through.
    Pass,
    /// Header blocks are re-encoded.
    Rewrite,
}

/// A header block being collected: HEADERS then CONTINUATION frames up to END_HEADERS.
#[derive(Debug)]
struct Block {
    stream_id: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
    /// The frames as they came, to forward unchanged when the block needs no rewrite.
    raw: Vec<u8>,
}

/// A stream accepted on a UNIX socket, with `:authority` made acceptable (see the module doc).
pub struct AuthorityFix<IO> {
    io: IO,
    mode: Mode,
    preface_seen: bool,
    /// Bytes read from the client, not yet looked at.
    pending: Vec<u8>,
    /// Bytes ready for the server, from `out_pos` on.
    out: Vec<u8>,
    out_pos: usize,
    /// Payload bytes of the current non-header frame still to pass through.
    passing: usize,
    block: Option<Block>,
    decoder: loona_hpack::Decoder<'static>,
    eof: bool,
}

impl<IO> std::fmt::Debug for AuthorityFix<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityFix")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<IO> AuthorityFix<IO> {
    /// Wraps a freshly accepted stream.
    pub fn new(io: IO) -> AuthorityFix<IO> {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(MAX_TABLE);
        AuthorityFix {
            io,
            mode: Mode::Sniff,
            preface_seen: false,
            pending: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            passing: 0,
            block: None,
            decoder,
            eof: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// Whether the connection has been found to need rewriting (for tests and logs).
    pub fn is_rewriting(&self) -> bool {
        self.mode == Mode::Rewrite
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Moves every byte of `pending` that can be decided on to `out`.
    fn process(&mut self) -> io::Result<()> {
        if !self.preface_seen {
            let n = self.pending.len().min(PREFACE.len());
            if self.pending[..n] != PREFACE[..n] {
                // Not HTTP/2 with prior knowledge: none of our business, h2 will refuse it.
                self.mode = Mode::Pass;
                let rest = std::mem::take(&mut self.pending);
                self.emit(&rest);
                return Ok(());
            }
            if n < PREFACE.len() {
                return Ok(());
            }
            let preface: Vec<u8> = self.pending.drain(..PREFACE.len()).collect();
            self.emit(&preface);
            self.preface_seen = true;
        }
        let mut at = 0;
        let result = loop {
            if self.mode == Mode::Pass {
                break Ok(());
            }
            if self.passing > 0 {
                let n = self.passing.min(self.pending.len() - at);
                if n == 0 {
                    break Ok(());
                }
                let chunk = self.pending[at..at + n].to_vec();
                self.emit(&chunk);
                self.passing -= n;
                at += n;
                continue;
            }
            if self.pending.len() - at < 9 {
                break Ok(());
            }
            let head: [u8; 9] = self.pending[at..at + 9]
                .try_into()
                .expect("nine bytes were checked to be there");
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let kind = head[3];
            if kind != HEADERS && kind != CONTINUATION && self.block.is_none() {
                self.emit(&head);
                self.passing = len;
                at += 9;
                continue;
            }
            if self.pending.len() - at < 9 + len {
                break Ok(());
            }
            let frame = self.pending[at..at + 9 + len].to_vec();
            at += 9 + len;
            if let Err(e) = self.header_frame(&frame) {
                break Err(e);
            }
        };
        self.pending.drain(..at);
        if self.mode == Mode::Pass {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest);
        }
        result
    }

    /// One whole HEADERS or CONTINUATION frame (or any frame while a block is open, which is a
    /// protocol error the server reports: it is handed on as it came).
    fn header_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let (kind, flags) = (frame[3], frame[4]);
        let stream_id = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) & 0x7fff_ffff;
        let payload = &frame[9..];
        match (kind, self.block.as_mut()) {
            (HEADERS, None) => {
                let (priority, fragment) = headers_payload(flags, payload)?;
                self.block = Some(Block {
                    stream_id,
                    end_stream: flags & END_STREAM != 0,
                    priority,
                    fragment: fragment.to_vec(),
                    raw: frame.to_vec(),
                });
            }
            (CONTINUATION, Some(b)) if b.stream_id == stream_id => {
                b.fragment.extend_from_slice(payload);
                b.raw.extend_from_slice(frame);
                if b.raw.len() > MAX_BLOCK {
                    return Err(invalid("header block larger than 1 MiB"));
                }
            }
            _ => {
                // Interleaved or stray frames: the server's protocol error to report. What was
                // held goes on as it came, and so does everything after.
                if let Some(b) = self.block.take() {
                    self.emit(&b.raw);
                }
                self.emit(frame);
                self.mode = Mode::Pass;
                return Ok(());
            }
        }
        if flags & END_HEADERS != 0 {
            let block = self.block.take().expect("a block was just stored");
            self.finish_block(block)?;
        }
        Ok(())
    }

    fn finish_block(&mut self, block: Block) -> io::Result<()> {
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        self.decoder
            .decode_with_cb(&block.fragment, |n, v| {
                headers.push((n.into_owned(), v.into_owned()))
            })
            .map_err(|e| invalid(&format!("undecodable header block from the client: {e:?}")))?;
        let bad = headers.iter().any(|(n, v)| {
            n == b":authority" && http::uri::Authority::try_from(v.as_slice()).is_err()
        });
        if self.mode == Mode::Sniff && !bad {
            self.emit(&block.raw);
            self.mode = Mode::Pass;
            return Ok(());
        }
        if self.mode == Mode::Sniff {
            tracing::debug!("client sent an invalid :authority; rewriting it to localhost");
            self.mode = Mode::Rewrite;
        }
        let mut encoded = Vec::with_capacity(block.fragment.len() + 16);
        for (name, value) in &headers {
            let value: &[u8] = if name == b":authority"
                && http::uri::Authority::try_from(value.as_slice()).is_err()
            {
                REPLACEMENT_AUTHORITY.as_bytes()
            } else {
                value
            };
            literal_without_indexing(name, value, &mut encoded);
        }
        self.emit_block(&block, &encoded);
        Ok(())
    }

    /// `encoded` as a HEADERS frame and as many CONTINUATION frames as it needs.
    fn emit_block(&mut self, block: &Block, encoded: &[u8]) {
        let mut prefix = Vec::new();
        let mut flags = if block.end_stream { END_STREAM } else { 0 };
        if let Some(p) = block.priority {
            prefix.extend_from_slice(&p);
            flags |= PRIORITY;
        }
        let first = encoded.len().min(MAX_FRAME - prefix.len());
        let (head, mut rest) = encoded.split_at(first);
        let last = if rest.is_empty() { END_HEADERS } else { 0 };
        let mut payload = prefix;
        payload.extend_from_slice(head);
        self.emit_frame(HEADERS, flags | last, block.stream_id, &payload);
        while !rest.is_empty() {
            let n = rest.len().min(MAX_FRAME);
            let (chunk, more) = rest.split_at(n);
            let last = if more.is_empty() { END_HEADERS } else { 0 };
            self.emit_frame(CONTINUATION, last, block.stream_id, chunk);
            rest = more;
        }
    }

    fn emit_frame(&mut self, kind: u8, flags: u8, stream_id: u32, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("frames are at most 16384 bytes");
        let len = len.to_be_bytes();
        self.out
            .extend_from_slice(&[len[1], len[2], len[3], kind, flags]);
        self.out.extend_from_slice(&stream_id.to_be_bytes());
        self.out.extend_from_slice(payload);
    }
}

/// The priority fields and header block fragment of a HEADERS payload, padding removed.
fn headers_payload(flags: u8, payload: &[u8]) -> io::Result<(Option<[u8; 5]>, &[u8])> {
    let mut p = payload;
    let mut pad = 0usize;
    if flags & PADDED != 0 {
        let (&n, rest) = p
            .split_first()
            .ok_or_else(|| invalid("padded HEADERS frame without a pad length"))?;
        pad = usize::from(n);
        p = rest;
    }
    let mut priority = None;
    if flags & PRIORITY != 0 {
        if p.len() < 5 {
            return Err(invalid("HEADERS frame too short for its priority"));
        }
        let (pr, rest) = p.split_at(5);
        priority = Some(pr.try_into().expect("five bytes"));
        p = rest;
    }
    if pad > p.len() {
        return Err(invalid("HEADERS frame padding longer than its payload"));
    }
    Ok((priority, &p[..p.len() - pad]))
}

/// HPACK "literal header field without indexing, new name" (RFC 7541 section 6.2.2), strings
/// not Huffman-coded.
fn literal_without_indexing(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.push(0);
    for s in [name, value] {
        loona_hpack::encoder::encode_integer_into(s.len(), 7, 0, out)
            .expect("writing to a Vec cannot fail");
        out.extend_from_slice(s);
    }
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

impl<IO: AsyncRead + Unpin> AsyncRead for AuthorityFix<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.mode == Mode::Pass || this.eof {
                if this.eof && !this.pending.is_empty() {
                    // A partial frame at the end: hand it on, the server reports it.
                    let rest = std::mem::take(&mut this.pending);
                    this.emit(&rest);
                    continue;
                }
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => this.eof = true,
                Poll::Ready(Ok(())) => {
                    this.pending.extend_from_slice(rb.filled());
                    this.process()?;
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected
    for AuthorityFix<IO>
{
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// Runs `input` through the wrapper and returns what the server reads.
    async fn through(input: Vec<u8>) -> (Vec<u8>, bool) {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut fixed = AuthorityFix::new(server);
        client.write_all(&input).await.expect("write");
        drop(client);
        let mut out = Vec::new();
        fixed.read_to_end(&mut out).await.expect("read");
        let rewriting = fixed.is_rewriting();
        (out, rewriting)
    }

    /// Decodes the header blocks of the frames in `bytes` (after the preface).
    fn requests(bytes: &[u8]) -> Vec<Vec<(String, String)>> {
        let mut d = loona_hpack::Decoder::new();
        let mut at = PREFACE.len();
        let mut out = Vec::new();
        let mut block = Vec::new();
        while at + 9 <= bytes.len() {
            let len = usize::from(bytes[at]) << 16
                | usize::from(bytes[at + 1]) << 8
                | usize::from(bytes[at + 2]);
            let (kind, flags) = (bytes[at + 3], bytes[at + 4]);
            let payload = &bytes[at + 9..at + 9 + len];
            if kind == HEADERS || kind == CONTINUATION {
                let (_, frag) = if kind == HEADERS {
                    headers_payload(flags, payload).expect("payload")
                } else {
                    (None, payload)
                };
                block.extend_from_slice(frag);
                if flags & END_HEADERS != 0 {
                    let h = d.decode(&block).expect("decodes");
                    out.push(
                        h.into_iter()
                            .map(|(n, v)| {
                                (
                                    String::from_utf8(n).expect("n"),
                                    String::from_utf8(v).expect("v"),
                                )
                            })
                            .collect(),
                    );
                    block.clear();
                }
            }
            at += 9 + len;
        }
        out
    }

    fn request(enc: &mut loona_hpack::Encoder<'_>, authority: &str, extra: usize) -> Vec<u8> {
        let big = "x".repeat(extra);
        let headers: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", b"/virt.v1.ConnectService/Info"),
            (b":authority", authority.as_bytes()),
            (b"virt-uri", b"test:///default"),
            (b"x-big", big.as_bytes()),
        ];
        enc.encode(headers)
    }

    #[tokio::test]
    async fn a_percent_encoded_socket_path_becomes_localhost_on_every_request() {
        let mut enc = loona_hpack::Encoder::new();
        let mut input = PREFACE.to_vec();
        input.extend(frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100])); // SETTINGS
        input.extend(frame(
            HEADERS,
            END_HEADERS,
            1,
            &request(&mut enc, "tmp%2Fs%2Fsock", 0),
        ));
        input.extend(frame(0x0, END_STREAM, 1, &[0, 0, 0, 0, 0])); // DATA
                                                                   // Second request: the encoder now refers to its dynamic table.
        input.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            3,
            &request(&mut enc, "tmp%2Fs%2Fsock", 0),
        ));
        let (out, rewriting) = through(input).await;
        assert!(rewriting);
        let reqs = requests(&out);
        assert_eq!(reqs.len(), 2);
        for r in &reqs {
            assert!(
                r.contains(&(":authority".into(), "localhost".into())),
                "{r:?}"
            );
            assert!(
                r.contains(&("virt-uri".into(), "test:///default".into())),
                "{r:?}"
            );
        }
        // The DATA frame and the SETTINGS frame went through unchanged.
        let data = frame(0x0, END_STREAM, 1, &[0, 0, 0, 0, 0]);
        assert!(out.windows(data.len()).any(|w| w == data.as_slice()));
    }

    #[tokio::test]
    async fn a_valid_authority_leaves_the_connection_untouched() {
        let mut enc = loona_hpack::Encoder::new();
        let mut input = PREFACE.to_vec();
        input.extend(frame(
            HEADERS,
            END_HEADERS,
            1,
            &request(&mut enc, "localhost", 0),
        ));
        input.extend(frame(
            HEADERS,
            END_HEADERS,
            3,
            &request(&mut enc, "tmp%2Fx", 0),
        ));
        let (out, rewriting) = through(input.clone()).await;
        assert!(!rewriting);
        assert_eq!(out, input);
    }

    #[tokio::test]
    async fn large_blocks_are_split_and_padding_and_priority_handled() {
        let mut enc = loona_hpack::Encoder::new();
        let block = request(&mut enc, "/run/virt/virt-proxy-sock", 40_000);
        let mut input = PREFACE.to_vec();
        // HEADERS padded with priority, carrying the first 10000 bytes; then two CONTINUATIONs.
        let mut first = vec![4u8]; // pad length
        first.extend_from_slice(&[0, 0, 0, 0, 15]); // priority
        first.extend_from_slice(&block[..10_000]);
        first.extend_from_slice(&[0; 4]);
        input.extend(frame(HEADERS, PADDED | PRIORITY | END_STREAM, 1, &first));
        input.extend(frame(CONTINUATION, 0, 1, &block[10_000..20_000]));
        input.extend(frame(CONTINUATION, END_HEADERS, 1, &block[20_000..]));
        let (out, rewriting) = through(input).await;
        assert!(rewriting);
        let reqs = requests(&out);
        assert_eq!(reqs.len(), 1);
        assert!(reqs[0].contains(&(":authority".into(), "localhost".into())));
        assert_eq!(
            reqs[0]
                .iter()
                .find(|(n, _)| n == "x-big")
                .expect("big")
                .1
                .len(),
            40_000
        );
        // No frame above the minimum maximum size; the first keeps END_STREAM and PRIORITY.
        let mut at = PREFACE.len();
        let mut first_flags = None;
        while at < out.len() {
            let len = usize::from(out[at]) << 16
                | usize::from(out[at + 1]) << 8
                | usize::from(out[at + 2]);
            assert!(len <= MAX_FRAME);
            first_flags.get_or_insert(out[at + 4]);
            at += 9 + len;
        }
        assert_eq!(first_flags, Some(END_STREAM | PRIORITY));
    }

    #[tokio::test]
    async fn an_undecodable_block_is_an_error_not_a_panic() {
        let mut input = PREFACE.to_vec();
        input.extend(frame(
            HEADERS,
            END_HEADERS,
            1,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ));
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let mut fixed = AuthorityFix::new(server);
        client.write_all(&input).await.expect("write");
        drop(client);
        let mut out = Vec::new();
        let err = fixed.read_to_end(&mut out).await.expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_stream_that_is_not_http2_passes_through() {
        let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let (out, rewriting) = through(input.clone()).await;
        assert!(!rewriting);
        assert_eq!(out, input);
    }
}
