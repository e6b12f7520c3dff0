//! One loop for "write the whole buffer": `send_all` on stream sockets and `write_all` on pipes.
//!
//! Both resubmit the same op from a cursor until the buffer is gone, and both must say the same
//! thing when they stop early: a zero-byte write is `WriteZero`, and a cancel after some bytes
//! went out is *not* `Cancelled` (the rule "Cancelled ⇒ nothing happened" would be false) but a
//! [`PartialWrite`] that says how far it got. Writing that once keeps the rule in one place.
//!
//! The op data lives inline in each round's `Op` and comes back by value: a short write costs a
//! resubmission, never an allocation.

use crate::buf::IoBuf;
use crate::error::{OpError, PartialWrite};
use crate::op::{Op, OpData};
use std::io;

/// An op that writes `buf[offset..]` and can be resubmitted after moving `offset` on.
pub(crate) trait CursorWrite: OpData + Sized {
    type Buf: IoBuf;
    fn buf(&self) -> &Self::Buf;
    fn offset(&mut self) -> &mut usize;
    fn into_buf(self) -> Self::Buf;
}

/// Submits `data` until all of its buffer is written. `what` names the call in the error that a
/// cancel after partial progress returns (`"send_all"`, `"write_all"`).
pub(crate) async fn write_all<W: CursorWrite>(mut data: W, what: &'static str) -> (Result<(), OpError>, W::Buf) {
    let total = data.buf().bytes_init();
    while *data.offset() < total {
        let (res, d) = Op::new(data).await;
        data = d;
        match res {
            Ok(0) => return (Err(io::Error::from(io::ErrorKind::WriteZero).into()), data.into_buf()),
            Ok(n) => *data.offset() += n as usize,
            Err(OpError::Cancelled(c)) if *data.offset() > 0 => {
                let partial = PartialWrite::new(what, *data.offset(), total, c);
                return (Err(partial.into()), data.into_buf());
            }
            Err(e) => return (Err(e), data.into_buf()),
        }
    }
    (Ok(()), data.into_buf())
}
