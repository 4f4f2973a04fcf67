//! Response bodies: whole buffers, and the streamed body of a
//! STREAMED_XOR_CHUNKS remote read, fed from a blocking thread through a
//! bounded channel so a slow client holds back the reader (memory stays
//! at a few buffers, however large the answer).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// The body type of every response.
pub type ResponseBody = BoxBody<Bytes, std::io::Error>;

/// A body holding `data`.
pub fn full(data: impl Into<Bytes>) -> ResponseBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// What the producing thread sends.
pub enum Piece {
    /// More bytes of the body.
    Data(Bytes),
    /// The producer failed after the status was sent: the body ends with
    /// an error, so hyper cuts the connection and the client sees a
    /// truncated stream rather than a complete-looking one.
    Failed(String),
}

/// A body read from a channel, starting with bytes already received.
pub struct ChannelBody {
    first: Option<Bytes>,
    rx: mpsc::Receiver<Piece>,
}

impl ChannelBody {
    pub fn boxed(first: Option<Bytes>, rx: mpsc::Receiver<Piece>) -> ResponseBody {
        ChannelBody { first, rx }.boxed()
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Piece::Data(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(Some(Piece::Failed(msg))) => {
                Poll::Ready(Some(Err(std::io::Error::other(msg))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A `Write` on the producing thread: buffers up to `chunk` bytes, then
/// hands them to the channel (blocking while the client is slow).
pub struct ChannelWriter {
    tx: mpsc::Sender<Piece>,
    buf: Vec<u8>,
    chunk: usize,
    sent: bool,
}

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Piece>, chunk: usize) -> Self {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(chunk),
            chunk,
            sent: false,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.sent = true;
        let data = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.chunk),
        ));
        self.tx
            .blocking_send(Piece::Data(data))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Ends the body: hands over what is buffered, or after a failure
    /// tells the body to fail. Returns whether anything reached the
    /// channel: when not, the channel closes empty and the caller still
    /// chooses the status (an error status for a failure).
    pub fn finish(mut self, failure: Option<String>) -> bool {
        match failure {
            None => {
                let _ = self.send();
            }
            Some(msg) if self.sent => {
                let _ = self.tx.blocking_send(Piece::Failed(msg));
            }
            Some(_) => {}
        }
        self.sent
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.chunk {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
