//! Owned buffers for completion I/O (H1).
//!
//! The kernel reads or writes a buffer some time after the op is submitted, possibly after the
//! future that submitted it is gone. So ops take buffers by value and give them back with the
//! result: `read(buf) -> (Result<usize, OpError>, B)`. While an op is in flight its buffer is owned
//! by the op (inline in the op's future) and, if the future is dropped, by the driver, until the
//! op's final completion; it is never dropped in that time.
//!
//! It may *move* in that time, though: op data lives inline in the future and moves into the
//! driver when the future is dropped in flight (no allocation per op). So the traits' contracts
//! below ask for a *stable address*: the bytes the pointer leads to must stay where they are when
//! the buffer value moves, as a `Vec`'s or a `Box`'s heap block does (tokio-uring's rule). An
//! inline array (`[u8; N]`) moves with its value and cannot be an `IoBuf`; box it
//! (`Box<[u8; N]>`) or use a `Vec`.
//!
//! ```compile_fail
//! // An inline array is not a buffer: the kernel would write into bytes that move.
//! fn takes<B: quartet_runtime::IoBufMut>(_: B) {}
//! takes([0u8; 16]);
//! ```
//! ```
//! fn takes<B: quartet_runtime::IoBufMut>(_: B) {}
//! takes(Box::new([0u8; 16])); // its bytes are on the heap and stay there when the box moves
//! ```

/// A buffer the kernel may read from.
///
/// # Safety
/// For implementors: `stable_ptr` must point to `bytes_init` initialised bytes that stay valid,
/// at the same address and unchanged for as long as the value is neither dropped nor accessed
/// mutably, **including when the value is moved**: the bytes must live outside the value (on the
/// heap, like a `Vec`'s, or in `'static` memory), never inline in it. `bytes_init` must not change
/// while the value is not accessed mutably (it is read again when an op completes).
///
/// For the runtime (the user of this trait): it may move the value while the kernel holds the
/// pointer (op data lives inline in the op's future and moves to the driver if the future is
/// dropped), but never drops it, nor accesses it mutably, before the op's final completion; if
/// that completion may never come (an unclean shutdown, H4), it forgets the value instead.
///
/// # Examples
/// ```no_run
/// # async fn demo(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// // A Vec, a boxed slice or array, a String or static bytes all work; the runtime takes the
/// // buffer by value and hands it back with the result.
/// let (sent, _buf) = stream.send(b"ping").await;
/// sent?;
/// # Ok(()) }
/// ```
pub unsafe trait IoBuf: 'static {
    /// Pointer to the first byte.
    fn stable_ptr(&self) -> *const u8;
    /// How many bytes are initialised (and will be written).
    fn bytes_init(&self) -> usize;
}

/// A buffer the kernel may write into.
///
/// # Safety
/// For implementors: `stable_mut_ptr` must point to `bytes_total` writable bytes that stay valid
/// and at the same address for as long as the value is not dropped, **including when it is
/// moved** (heap memory, as for [`IoBuf`]), and that the value itself does not read or write
/// while it is not accessed mutably; `bytes_init <= bytes_total` and `read_offset <= bytes_total`.
/// The runtime only calls `set_init(n)` with `n <= bytes_total` after the kernel initialised the
/// first `n` bytes.
///
/// The runtime keeps the same side of the contract as for [`IoBuf`]: the value may move while the
/// kernel writes, but is neither dropped nor accessed mutably before the op's final completion.
///
/// # Examples
/// ```no_run
/// # async fn demo(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// // A Vec receives into its spare capacity; the filled buffer comes back with the count.
/// let (n, buf) = stream.recv(Vec::with_capacity(4096)).await;
/// println!("got {:?}", &buf[..n?]);
/// # Ok(()) }
/// ```
pub unsafe trait IoBufMut: IoBuf {
    /// Pointer to the first byte.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// Capacity the kernel may fill.
    fn bytes_total(&self) -> usize;
    /// Where reads start writing: after the initialised bytes for growable buffers (a `Vec`
    /// read appends into its spare capacity), 0 for fixed-size buffers (they are filled from the
    /// start). Must be `<= bytes_total()`.
    fn read_offset(&self) -> usize {
        self.bytes_init()
    }
    /// Marks the first `n` bytes as initialised.
    ///
    /// # Safety
    /// The first `n` bytes must have been initialised.
    unsafe fn set_init(&mut self, n: usize);

    /// Called before a read when the buffer has no room left (`read_offset() == bytes_total()`).
    /// A growable buffer makes room here: a `Vec` reserves [`DEFAULT_READ_CHUNK`] bytes, so
    /// `recv(Vec::new())` works. The default does nothing, and the read then fails with
    /// `InvalidInput` (a zero-length read would look like end of stream).
    ///
    /// ```
    /// use quartet_runtime::IoBufMut;
    /// let mut v = Vec::new();
    /// v.reserve_for_read();
    /// assert!(v.capacity() >= quartet_runtime::DEFAULT_READ_CHUNK);
    /// ```
    fn reserve_for_read(&mut self) {}
}

/// How much a `Vec` with no spare capacity grows before a read (8 KiB).
pub const DEFAULT_READ_CHUNK: usize = 8 * 1024;

/// The region a read may fill: `(offset, len)`, after letting a full growable buffer make room;
/// an error for a buffer with no room (a zero-length read would be indistinguishable from end of
/// stream).
pub(crate) fn read_region<B: IoBufMut>(buf: &mut B) -> std::io::Result<(usize, usize)> {
    if buf.read_offset() >= buf.bytes_total() {
        buf.reserve_for_read();
    }
    let total = buf.bytes_total();
    let off = buf.read_offset().min(total);
    match total - off {
        0 => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "read buffer has no spare capacity")),
        len => Ok((off, len)),
    }
}

// SAFETY: a Vec's heap buffer does not move when the Vec is moved; `len` bytes are initialised.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: the spare capacity is writable; `set_len` is only raised to what the kernel wrote.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    fn reserve_for_read(&mut self) {
        self.reserve(DEFAULT_READ_CHUNK);
    }
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len() {
            // SAFETY: the caller guarantees the first `n <= capacity` bytes are initialised.
            unsafe { self.set_len(n) };
        }
    }
}

// SAFETY: a boxed slice's heap buffer does not move when the box is moved; all bytes are init.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; the whole slice is writable and always initialised.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
    fn read_offset(&self) -> usize {
        0
    }
    unsafe fn set_init(&mut self, _n: usize) {}
}

// No impl for an inline `[u8; N]`: its bytes move with the value (see the module docs).
// SAFETY: a boxed array's bytes are a heap block that does not move when the box is moved; all N
// bytes are initialised.
unsafe impl<const N: usize> IoBuf for Box<[u8; N]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
}

// SAFETY: as above; all N bytes are writable and always initialised.
unsafe impl<const N: usize> IoBufMut for Box<[u8; N]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        N
    }
    fn read_offset(&self) -> usize {
        0
    }
    unsafe fn set_init(&mut self, _n: usize) {}
}

// SAFETY: static data never moves or changes (moving the reference moves only the address).
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: static data never moves or changes (moving the reference moves only the address).
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
}

// SAFETY: static data never moves or changes.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String's heap buffer does not move when the String is moved.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}
