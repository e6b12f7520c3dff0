//! A tiny seeded PRNG (splitmix64) for schedule exploration and fault injection.
//!
//! Why not `rand`: the toolkit needs one reproducible stream of `u64`s from a seed, nothing
//! cryptographic and no distributions, and a dependency would pull a build graph into every user
//! of the runtime for fifteen lines of arithmetic. splitmix64 passes BigCrush, has a full 2^64
//! period and every seed (including 0) gives a good stream.

/// One splitmix64 step: advances `state` and returns the next output.
pub(crate) fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform index in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 for the
/// small `n` used here).
pub(crate) fn below(state: &mut u64, n: usize) -> usize {
    ((u128::from(next(state)) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_seed_same_stream_and_indices_in_range() {
        let (mut a, mut b) = (7u64, 7u64);
        for _ in 0..100 {
            assert_eq!(super::next(&mut a), super::next(&mut b));
        }
        let mut s = 1;
        let mut seen = [false; 5];
        for _ in 0..200 {
            let i = super::below(&mut s, 5);
            assert!(i < 5);
            seen[i] = true;
        }
        assert!(seen.iter().all(|&x| x), "every index is reachable");
    }
}
