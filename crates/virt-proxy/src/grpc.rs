//! The little of gRPC's wire format the proxy needs: message framing, building requests to a
//! backend, and answers it makes itself (statuses, its own `Info`).
//!
//! A gRPC message on the wire is a 5-byte prefix (compressed flag, big-endian length) and the
//! protobuf bytes. The proxy decodes messages only for `EventService/StreamEvents` (sequence
//! numbers) and `ConnectService/Info`; everything else passes through as HTTP/2 frames.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tonic::body::Body;
use tonic::Status;

/// Length of a message's prefix.
const PREFIX: usize = 5;

/// One message of a stream, as received: `frame` is the whole thing (prefix included) to
/// forward unchanged; `payload` the protobuf bytes, `None` when compressed.
#[derive(Debug, Clone)]
pub struct Message {
    /// The prefixed message, as it came.
    pub frame: Bytes,
    /// The protobuf bytes, when not compressed.
    pub payload: Option<Bytes>,
}

/// Cuts a byte stream into whole messages.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: BytesMut,
}

impl Deframer {
    /// Adds bytes received.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, if one has arrived.
    pub fn next_message(&mut self) -> Option<Message> {
        if self.buf.len() < PREFIX {
            return None;
        }
        let compressed = self.buf[0] != 0;
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let total = PREFIX + len as usize;
        if self.buf.len() < total {
            return None;
        }
        let frame = self.buf.split_to(total).freeze();
        let payload = (!compressed).then(|| frame.slice(PREFIX..));
        Some(Message { frame, payload })
    }

    /// Whether bytes of an incomplete message are left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// `msg` as an uncompressed, prefixed gRPC message.
pub fn encode(msg: &impl prost::Message) -> Bytes {
    let len = msg.encoded_len();
    let mut out = BytesMut::with_capacity(PREFIX + len);
    out.put_u8(0);
    out.put_u32(u32::try_from(len).expect("a message under 4 GiB"));
    msg.encode(&mut out)
        .expect("a BytesMut sized for the message has room");
    out.freeze()
}

/// A request to a backend: `path` and `headers` as the client sent them, the body given.
/// The URI is made absolute (`http://localhost/...`) as HTTP/2 requires a scheme.
pub fn backend_request(
    path_and_query: &str,
    headers: &HeaderMap,
    body: Body,
) -> http::Request<Body> {
    let mut req = http::Request::new(body);
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = format!("http://localhost{path_and_query}")
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("http://localhost/"));
    *req.headers_mut() = headers.clone();
    req
}

/// Rewrites a client's request for the backend: same method, path, headers, body and
/// extensions; an absolute URI.
pub fn to_backend(req: http::Request<Body>) -> http::Request<Body> {
    let (mut parts, body) = req.into_parts();
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    if let Ok(uri) = format!("http://localhost{pq}").parse() {
        parts.uri = uri;
    }
    parts.headers.remove(http::header::HOST);
    http::Request::from_parts(parts, body)
}

/// The response carrying `status` alone (trailers-only).
pub fn status_response(status: Status) -> http::Response<Body> {
    status.into_http()
}

/// A successful unary answer carrying `msg`.
pub fn message_response(msg: &impl prost::Message) -> http::Response<Body> {
    framed_response(encode(msg))
}

/// A successful unary answer carrying `payload`, protobuf bytes already encoded.
pub fn payload_response(payload: &[u8]) -> http::Response<Body> {
    let mut out = BytesMut::with_capacity(PREFIX + payload.len());
    out.put_u8(0);
    out.put_u32(u32::try_from(payload.len()).expect("a message under 4 GiB"));
    out.extend_from_slice(payload);
    framed_response(out.freeze())
}

fn framed_response(framed: Bytes) -> http::Response<Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames: Vec<Result<Frame<Bytes>, Status>> =
        vec![Ok(Frame::data(framed)), Ok(Frame::trailers(trailers))];
    let body = Body::new(StreamBody::new(futures_util::stream::iter(frames)));
    let mut resp = http::Response::new(body);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    resp
}

/// The gRPC status a response head carries when the response is trailers-only.
pub fn head_status(headers: &HeaderMap) -> Option<Status> {
    headers.get("grpc-status")?;
    Some(Status::from_header_map(headers).unwrap_or_else(|| Status::unknown("bad grpc-status")))
}

/// Reads a whole unary response from a backend: its one message, decoded, or its status.
pub async fn read_unary<M: prost::Message + Default>(
    resp: http::Response<hyper::body::Incoming>,
) -> Result<M, Status> {
    let payload = read_unary_payload(resp).await?;
    M::decode(payload).map_err(|e| Status::internal(format!("undecodable answer: {e}")))
}

/// Reads a whole unary response from a backend: its one message's protobuf bytes, or its
/// status.
pub async fn read_unary_payload(
    resp: http::Response<hyper::body::Incoming>,
) -> Result<Bytes, Status> {
    if let Some(st) = head_status(resp.headers()).filter(|s| s.code() != tonic::Code::Ok) {
        return Err(st);
    }
    let collected = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    if let Some(st) = collected
        .trailers()
        .and_then(Status::from_header_map)
        .filter(|s| s.code() != tonic::Code::Ok)
    {
        return Err(st);
    }
    let mut deframer = Deframer::default();
    deframer.push(&collected.to_bytes());
    let msg = deframer
        .next_message()
        .ok_or_else(|| Status::internal("backend sent no message"))?;
    msg.payload
        .ok_or_else(|| Status::internal("backend compressed its answer"))
}

/// Decodes the single message of a collected request body.
pub fn single_message<M: prost::Message + Default>(mut body: Bytes) -> Option<M> {
    if body.len() < PREFIX || body[0] != 0 {
        return None;
    }
    body.advance(1);
    let len = body.get_u32() as usize;
    (body.len() == len).then_some(())?;
    M::decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::proto::StreamEventsRequest;

    #[test]
    fn deframer_reassembles_split_messages_and_keeps_their_bytes() {
        let a = encode(&StreamEventsRequest {
            from_sequence: Some(7),
            ..Default::default()
        });
        let b = encode(&StreamEventsRequest::default());
        let mut all = a.to_vec();
        all.extend_from_slice(&b);
        let mut d = Deframer::default();
        d.push(&all[..3]);
        assert!(d.next_message().is_none());
        d.push(&all[3..a.len() + 1]);
        let first = d.next_message().expect("first whole");
        assert_eq!(first.frame, a);
        let decoded: StreamEventsRequest =
            prost::Message::decode(first.payload.expect("plain")).expect("decode");
        assert_eq!(decoded.from_sequence, Some(7));
        assert!(d.next_message().is_none());
        d.push(&all[a.len() + 1..]);
        assert_eq!(d.next_message().expect("second").frame, b);
        assert!(d.is_empty());
    }

    #[test]
    fn single_message_round_trips_and_refuses_trailing_bytes() {
        let m = StreamEventsRequest {
            from_sequence: Some(3),
            ..Default::default()
        };
        let bytes = encode(&m);
        assert_eq!(
            single_message::<StreamEventsRequest>(bytes.clone()),
            Some(m)
        );
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(single_message::<StreamEventsRequest>(longer.into()), None);
    }
}
