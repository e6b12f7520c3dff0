//! [`Slice`]: a window into an owned buffer, so a partial write can send the rest of a buffer
//! without copying it.

use quartet_runtime::IoBuf;

/// The initialised bytes `begin..` of an owned buffer, as an [`IoBuf`] of its own. Used to resend
/// the tail of a buffer after a short write; [`Slice::into_inner`] gives the buffer back.
///
/// # Examples
/// ```
/// use quartet_io::Slice;
/// use quartet_runtime::IoBuf;
/// let s = Slice::new(b"hello world".to_vec(), 6);
/// assert_eq!(s.bytes_init(), 5);
/// assert_eq!(s.into_inner(), b"hello world");
/// ```
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
}

impl<B: IoBuf> Slice<B> {
    /// The bytes of `buf` from `begin` on (clamped to its initialised length).
    pub fn new(buf: B, begin: usize) -> Slice<B> {
        let begin = begin.min(buf.bytes_init());
        Slice { buf, begin }
    }

    /// Where the window starts in the buffer.
    ///
    /// ```
    /// assert_eq!(quartet_io::Slice::new(vec![1u8, 2, 3], 1).begin(), 1);
    /// ```
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Moves the window's start to `begin` (clamped to the buffer's initialised length).
    ///
    /// ```
    /// use quartet_runtime::IoBuf;
    /// let mut s = quartet_io::Slice::new(vec![1u8, 2, 3], 0);
    /// s.set_begin(2);
    /// assert_eq!(s.bytes_init(), 1);
    /// ```
    pub fn set_begin(&mut self, begin: usize) {
        self.begin = begin.min(self.buf.bytes_init());
    }

    /// The whole buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
}

// `begin <= bytes_init` is kept by `new` and `set_begin`, and the inner `bytes_init` cannot change
// while we own `buf` without `&mut`.
// SAFETY: so the window lies inside the inner buffer's initialised bytes, and the pointer and length
// satisfy `IoBuf`'s contract whenever the inner buffer's do: its bytes stay valid and in place when
// it (with us) moves, until it is dropped or accessed mutably, which needs `&mut` to us.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        // `begin <= bytes_init`, so this stays within or one past the buffer (`wrapping_add`
        // keeps the computation free of any unsafe precondition).
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init() - self.begin
    }
}
