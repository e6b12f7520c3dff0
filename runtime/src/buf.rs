//! Owned buffers for completion I/O (H1).
//!
//! The kernel reads or writes a buffer some time after the op is submitted, possibly after the
//! future that submitted it is gone. So ops take buffers by value and give them back with the
//! result: `read(buf) -> (Result<usize, OpError>, B)`. While an op is in flight its buffer lives in
//! a heap allocation owned by the op and, if the op's future is dropped, by the driver, until the
//! op's final completion. It is never moved in that time, so even an inline array is safe.

/// A buffer the kernel may read from.
///
/// # Safety
/// `stable_ptr` must point to `bytes_init` initialised bytes that stay valid and unchanged for as
/// long as the value is neither moved nor dropped nor accessed mutably, and `bytes_init` must not
/// change while the value is not accessed mutably (it is read again when an op completes).
///
/// Implemented for `Vec<u8>`, `Box<[u8]>`, `[u8; N]`, `String`, `&'static [u8]` and
/// `&'static str`. The operation takes the buffer and gives it back with its result, so the kernel
/// never reads freed memory.
///
/// # Examples
/// ```
/// use quartet_runtime::net::TcpStream;
/// async fn greet(s: &TcpStream) -> Result<(), quartet_runtime::OpError> {
///     let (r, _buf) = s.send_all("hello\n").await; // a &'static str is an IoBuf
///     r?;
///     let (r, buf) = s.send_all(vec![1u8, 2, 3]).await; // so is a Vec, given back afterwards
///     r?;
///     assert_eq!(buf, [1, 2, 3]);
///     Ok(())
/// }
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
/// `stable_mut_ptr` must point to `bytes_total` writable bytes that stay valid for as long as the
/// value is neither moved nor dropped; `bytes_init <= bytes_total` and `read_offset <= bytes_total`. `set_init(n)` is only called with `n <= bytes_total` after
/// the kernel initialised the first `n` bytes.
///
/// A `Vec<u8>` is filled from its length up to its capacity (reads append); a `Box<[u8]>` or
/// `[u8; N]` is filled from the start.
///
/// # Examples
/// ```
/// use quartet_runtime::fs::File;
/// # quartet_runtime::run(async {
/// let f = File::open("/proc/self/stat").await?;
/// let (n, buf) = f.read_at(Vec::with_capacity(64), 0).await; // reads into the spare capacity
/// assert_eq!(buf.len(), n?);
/// let (n, arr) = f.read_at([0u8; 16], 0).await; // fills the array from the start
/// assert!(n? <= arr.len());
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
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
}

/// The region a read may fill: `(offset, len)`, or an error for a buffer with no room (a zero-length
/// read would be indistinguishable from end of stream).
pub(crate) fn read_region<B: IoBufMut>(buf: &B) -> std::io::Result<(usize, usize)> {
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

// SAFETY: the array is read in place. Ops box their data before taking pointers and never move it
// until the final completion, which is what the trait requires.
unsafe impl<const N: usize> IoBuf for [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
}

// SAFETY: as above; all N bytes are writable and always initialised.
unsafe impl<const N: usize> IoBufMut for [u8; N] {
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

// SAFETY: static data never moves or changes.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
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
