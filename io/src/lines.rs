//! [`Lines`]: a `Stream` of lines over a [`BufReader`].

use crate::buf_reader::BufReader;
use futures_core::Stream;
use quartet_runtime::OpError;
use quartet_runtime::io::OwnedRead;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

type LineFuture<'a, R> = Pin<Box<dyn Future<Output = (BufReader<R>, Option<Result<String, OpError>>)> + 'a>>;

enum State<'a, R> {
    Idle(BufReader<R>),
    Reading(LineFuture<'a, R>),
    Done,
}

/// The lines of a stream, from [`BufReader::lines`]: each item is a line without its `\n` (or
/// `\r\n`); the stream ends at end of input.
///
/// # Cancellation
/// An item `Err(Cancelled)` consumed nothing: the partial line stays buffered and is returned
/// whole by a later poll (outside the cancelled scope). The stream does not end on an error.
///
/// # Examples
/// ```no_run
/// # async fn f(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// let mut lines = quartet_io::BufReader::new(stream).lines();
/// while let Some(line) = lines.next_line().await {
///     println!("{}", line?);
/// }
/// # Ok(()) }
/// ```
pub struct Lines<'a, R> {
    state: State<'a, R>,
}

// The state is never pinned in place (the line future is boxed), so moving `Lines` is fine.
impl<R> Unpin for Lines<'_, R> {}

impl<R> fmt::Debug for Lines<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle(_) => "idle",
            State::Reading(_) => "reading",
            State::Done => "done",
        };
        f.debug_struct("Lines").field("state", &state).finish()
    }
}

impl<'a, R: OwnedRead + 'a> Lines<'a, R> {
    pub(crate) fn new(reader: BufReader<R>) -> Self {
        Lines { state: State::Idle(reader) }
    }

    /// The next line, as `StreamExt::next` would give it, without needing `StreamExt`.
    ///
    /// # Cancellation
    /// See the type's docs: `Some(Err(Cancelled))` consumed nothing.
    pub fn next_line(&mut self) -> impl std::future::Future<Output = Option<Result<String, OpError>>> {
        quartet_runtime::fused::once(async move { poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await })
    }

    /// The reader back, unless a line is being read or the stream has ended.
    pub fn into_inner(self) -> Option<BufReader<R>> {
        match self.state {
            State::Idle(r) => Some(r),
            _ => None,
        }
    }
}

async fn next<R: OwnedRead>(mut reader: BufReader<R>) -> (BufReader<R>, Option<Result<String, OpError>>) {
    let mut line = String::new();
    let res = match reader.read_line(&mut line).await {
        Ok(0) => None,
        Ok(_) => {
            if line.ends_with('\n') {
                line.pop();
                if line.ends_with('\r') {
                    line.pop();
                }
            }
            Some(Ok(line))
        }
        Err(e) => Some(Err(e)),
    };
    (reader, res)
}

impl<'a, R: OwnedRead + 'a> Stream for Lines<'a, R> {
    type Item = Result<String, OpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Idle(reader) => this.state = State::Reading(Box::pin(next(reader))),
                State::Reading(mut fut) => match fut.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Reading(fut);
                        return Poll::Pending;
                    }
                    Poll::Ready((reader, item)) => {
                        if item.is_some() {
                            this.state = State::Idle(reader);
                        }
                        return Poll::Ready(item);
                    }
                },
                State::Done => return Poll::Ready(None),
            }
        }
    }
}
