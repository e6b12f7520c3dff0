//! Buffered I/O on quartet's owned-buffer streams, and adapters to the ecosystem's I/O traits.
//!
//! quartet's streams take buffers by value (`read(buf) -> (result, buf)`), because the kernel
//! may write a buffer after the future that submitted it is gone. This crate builds on the two
//! traits every such stream implements, [`OwnedRead`] and [`OwnedWrite`]:
//!
//! - **Native, the fast path** (no trait objects, no copies beyond the buffer): [`BufReader`]
//!   (`read_line`, `read_until`, [`lines`](BufReader::lines) as a `Stream`), [`BufWriter`],
//!   [`ReadExt::read_exact`], [`ReadExt::read_to_end`], [`WriteExt::write_all`], [`copy`] and
//!   [`copy_bidirectional`] (both directions are children of one nursery). [`FileCursor`] gives a
//!   positional `File` a current position, so all of these work on files too.
//! - **Compatibility**: [`Compat`] implements `futures-io`'s `AsyncRead`/`AsyncWrite`/
//!   `AsyncBufRead` (feature `futures-io`, default), tokio's (feature `tokio-io`) and hyper's
//!   (feature `hyper`, with [`hyper::HyperTimer`], [`hyper::NurseryExecutor`] and, for APIs that
//!   need a `Send` executor, [`hyper::send_executor`]). The adapter
//!   owns its buffers, so a dropped read future loses no byte, and a cancel scope reaches a
//!   blocked read and reports it as cancellation, not end of file.
//!
//! Every operation documents what a `Cancelled` means; the rule is quartet's: a `Cancelled`
//! consumed (or sent) nothing, and buffered data survives it.
//!
//! ```no_run
//! use quartet_io::{BufReader, WriteExt};
//! # async fn f(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
//! let mut reader = BufReader::new(&stream);
//! let mut line = String::new();
//! while reader.read_line(&mut line).await? > 0 {
//!     stream.write_all(std::mem::take(&mut line)).await.0?; // echo each line
//! }
//! # Ok(()) }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

mod buf_reader;
mod buf_writer;
mod compat;
mod copy;
mod ext;
mod file_cursor;
#[cfg(feature = "hyper")]
pub mod hyper;
mod lines;
mod slice;

pub use buf_reader::{BufReader, DEFAULT_BUF_SIZE, DEFAULT_MAX_LINE};
pub use buf_writer::BufWriter;
pub use compat::Compat;
pub use copy::{copy, copy_bidirectional};
pub use ext::{ReadExt, WriteExt};
pub use file_cursor::FileCursor;
pub use lines::Lines;
pub use quartet_runtime::io::{OwnedRead, OwnedWrite};
pub use slice::Slice;
