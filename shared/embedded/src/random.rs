//! `OsRandom`: the operating system's CSPRNG as the core's [`RandomSource`] port. It feeds
//! data keys, master keys, nonces, key ids, passwords and ARN suffixes in local mode.

use coffer_core::clock::RandomSource;
use rand::rngs::OsRng;
use rand::RngCore;

/// Random bytes from the OS (`getrandom(2)` on Linux).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    /// Panics if the OS cannot provide randomness: continuing without it would produce weak
    /// keys, and on supported systems it does not fail once the kernel's pool is initialized.
    fn fill(&self, buf: &mut [u8]) {
        OsRng.fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_twice_yields_different_bytes() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        OsRandom.fill(&mut a);
        OsRandom.fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
