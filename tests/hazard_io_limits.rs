//! Inputs at the edge of what the kernel accepts: file positions above `i64::MAX` (io_uring reads
//! -1 as "the current position") are refused, and buffers of 2 GiB or more are clamped to the
//! largest length each opcode takes instead of failing with `EINVAL`.
//!
//! The big buffers are `Vec::with_capacity` (or zeroed) allocations the kernel barely touches:
//! the memory is reserved, not used, so the tests stay cheap.

use crate::hazard_support;

use hazard_support::{tcp_pair, watchdog};
use quartet::fs::{File, OpenOptions};
use quartet::{OpError, run};
use std::io::{ErrorKind, Write};
use std::time::Duration;

/// Past `i32::MAX` (what recv accepts) but below `u32::MAX`.
const THREE_GIB: usize = 3 << 30;
/// Past `u32::MAX` (what an SQE's length field holds).
const FIVE_GIB: usize = 5 << 30;
/// Linux's MAX_RW_COUNT on 4 KiB pages: the most one read/write/send/recv call transfers.
const MAX_RW_COUNT: usize = 0x7fff_f000;

/// An empty `Vec` with room for `cap` bytes, or `None` (and a note) if the machine refuses to
/// reserve that much address space: the test then checks what it can instead of aborting.
fn reserved(cap: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    match v.try_reserve_exact(cap) {
        Ok(()) => Some(v),
        Err(_) => {
            eprintln!("skipped a {cap}-byte buffer: the allocation was refused");
            None
        }
    }
}

/// `len` zero bytes in fresh, untouched pages (calloc), or `None` if refused.
fn zeroed(len: usize) -> Option<Vec<u8>> {
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: the layout has a non-zero size (every caller asks for gigabytes).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        eprintln!("skipped a {len}-byte buffer: the allocation was refused");
        return None;
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `[u8; len]`, and all `len`
    // bytes are initialised (zeroed), so it is a valid `Vec<u8>` of length and capacity `len`.
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

fn is_invalid_input(r: &Result<usize, OpError>) -> bool {
    matches!(r, Err(OpError::Io(e)) if e.kind() == ErrorKind::InvalidInput)
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("quartet-io-limits-{}-{name}", std::process::id()))
}

#[test]
fn positions_above_i64_max_are_invalid_input_not_the_current_position() {
    let _w = watchdog(Duration::from_secs(30), "positions above i64::MAX");
    let path = temp_path("positions");
    std::fs::write(&path, b"0123456789").unwrap();
    run(async {
        let f = OpenOptions::new().read(true).write(true).open(&path).await?;
        for pos in [u64::MAX, i64::MAX as u64 + 1, u64::MAX - 1] {
            let (r, buf) = f.write_at(&b"XX"[..], pos).await;
            assert!(is_invalid_input(&r), "write_at({pos}) must be InvalidInput, got {r:?}");
            assert_eq!(buf, b"XX");
            let (r, buf) = f.read_at(Vec::with_capacity(4), pos).await;
            assert!(is_invalid_input(&r), "read_at({pos}) must be InvalidInput, got {r:?}");
            assert!(buf.is_empty(), "nothing was read");
            let (r, _) = f.write_all_at(&b"YY"[..], pos).await;
            assert!(
                matches!(&r, Err(OpError::Io(e)) if e.kind() == ErrorKind::InvalidInput),
                "write_all_at({pos}) must be InvalidInput, got {r:?}"
            );
        }
        f.close().await
    })
    .unwrap()
    .unwrap();
    let contents = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(contents, b"0123456789", "no bad position wrote anywhere");
}

#[test]
fn recv_into_buffers_of_two_gib_and_more_returns_the_waiting_data() {
    let _w = watchdog(Duration::from_secs(30), "recv into huge buffers");
    run(async {
        let (stream, mut peer) = tcp_pair().await?;
        for cap in [i32::MAX as usize, i32::MAX as usize + 1, THREE_GIB, FIVE_GIB] {
            let Some(buf) = reserved(cap) else { continue };
            peer.write_all(b"hello")?;
            let (r, buf) = stream.recv(buf).await;
            assert_eq!(r?, 5, "recv into a {cap}-byte buffer");
            assert_eq!(buf, b"hello");
        }
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn read_into_buffers_of_two_gib_and_more_returns_the_file() {
    let _w = watchdog(Duration::from_secs(30), "read into huge buffers");
    let path = temp_path("read");
    std::fs::write(&path, b"contents").unwrap();
    run(async {
        let f = File::open(&path).await?;
        for cap in [THREE_GIB, FIVE_GIB] {
            let Some(buf) = reserved(cap) else { continue };
            let (r, buf) = f.read_at(buf, 0).await;
            assert_eq!(r?, 8, "read into a {cap}-byte buffer");
            assert_eq!(buf, b"contents");
        }
        f.close().await
    })
    .unwrap()
    .unwrap();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn write_and_send_of_buffers_above_two_gib_transfer_a_clamped_prefix() {
    let _w = watchdog(Duration::from_secs(60), "write/send of huge buffers");
    // Zeroed allocations this large are fresh mappings: no page is touched until read.
    let Some(huge) = zeroed(FIVE_GIB).or_else(|| zeroed(THREE_GIB)) else { return };
    run(async {
        // /dev/null accepts everything without reading the memory.
        let null = OpenOptions::new().write(true).open("/dev/null").await?;
        let (r, huge) = null.write_at(huge, 0).await;
        let n = r?;
        assert!(n > 0 && n <= MAX_RW_COUNT, "one write moves at most MAX_RW_COUNT bytes, got {n}");
        null.close().await?;
        // A send moves what fits in the socket buffer, a short count, not EINVAL.
        let (stream, _peer) = tcp_pair().await?;
        let (r, _huge) = stream.send(huge).await;
        let n = r?;
        assert!(n > 0 && n <= MAX_RW_COUNT, "a send moves a prefix, got {n}");
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
}
