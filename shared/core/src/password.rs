//! GetRandomPassword: the password generator behind the `GetRandomPassword` operation (and any
//! rotation function that asks for a new credential).
//!
//! Data path: wire decodes `GetRandomPasswordRequest` into a [`PasswordSpec`] (absent members take
//! AWS's defaults through [`PasswordSpec::default`]), the service calls [`generate_password`] with
//! the injected [`RandomSource`], and wire returns `{"RandomPassword": ...}`. Nothing here is
//! logged: the result is a credential.
//!
//! The rules follow AWS:
//! - `PasswordLength` is 1..=4096 (default 32); `ExcludeCharacters` is at most 4096 characters.
//! - The character types are lowercase, uppercase, digits and the 32 punctuation characters
//!   ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``; `IncludeSpace` adds the space character.
//!   `ExcludeCharacters` removes characters from every type, so a type whose characters are all
//!   excluded counts as excluded.
//! - `RequireEachIncludedType` (default true) guarantees one character of each remaining type.
//!   The space is an optional extra, not a type that must appear (AWS documents the guarantee as
//!   "one upper and lowercase letter, one number, and one punctuation").
//! - Every character type excluded, or a length shorter than the number of required types, is an
//!   `InvalidParameterException`.
//!
//! Selection is unbiased: each character is drawn by rejection sampling on random bytes (no
//! `byte % n` skew), the required characters are drawn first and the whole password is then
//! shuffled with an unbiased Fisher–Yates shuffle, so the guaranteed characters are at uniformly
//! random positions.

use crate::clock::RandomSource;
use crate::error::{Error, Result};

/// The AWS punctuation set, in ASCII order.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
pub const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
pub const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const DIGITS: &str = "0123456789";

pub const MIN_PASSWORD_LENGTH: i64 = 1;
pub const MAX_PASSWORD_LENGTH: i64 = 4096;
pub const DEFAULT_PASSWORD_LENGTH: i64 = 32;
pub const MAX_EXCLUDE_CHARACTERS: usize = 4096;

/// A GetRandomPassword request in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSpec {
    pub length: i64,
    pub exclude_characters: String,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub include_space: bool,
    pub require_each_included_type: bool,
}

impl Default for PasswordSpec {
    /// AWS's defaults: 32 characters of every type, one of each type guaranteed, no space.
    fn default() -> Self {
        PasswordSpec {
            length: DEFAULT_PASSWORD_LENGTH,
            exclude_characters: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

/// Generates a password for `spec`, drawing randomness only from `rng`.
pub fn generate_password(spec: &PasswordSpec, rng: &dyn RandomSource) -> Result<String> {
    let length = validate_length(spec.length)?;
    if spec.exclude_characters.chars().count() > MAX_EXCLUDE_CHARACTERS {
        // The value itself is not echoed: it can be 4 KiB and is caller-chosen text.
        return Err(Error::invalid_parameter(format!(
            "1 validation error detected: Value at 'excludeCharacters' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_EXCLUDE_CHARACTERS}"
        )));
    }

    let keep = |c: &u8| !spec.exclude_characters.contains(char::from(*c));
    let class = |set: &str, excluded: bool| -> Vec<u8> {
        if excluded {
            Vec::new()
        } else {
            set.bytes().filter(keep).collect()
        }
    };
    let types: Vec<Vec<u8>> = [
        class(LOWERCASE, spec.exclude_lowercase),
        class(UPPERCASE, spec.exclude_uppercase),
        class(DIGITS, spec.exclude_numbers),
        class(PUNCTUATION, spec.exclude_punctuation),
    ]
    .into_iter()
    .filter(|t| !t.is_empty())
    .collect();

    let mut alphabet: Vec<u8> = types.concat();
    // IncludeSpace adds the space to the alphabet (unless ExcludeCharacters lists it), so any
    // position can be a space. Decision: the space is *not* one of the types that
    // RequireEachIncludedType guarantees. The API reference documents IncludeSpace as "If you
    // include this switch, the password can contain space characters" (can, not must) and
    // RequireEachIncludedType as "include at least one upper and lowercase letter, one number,
    // and one punctuation", an enumeration without the space. (The service example's wording
    // "flags to require spaces" is loose prose about the same request, not a member contract.)
    if spec.include_space && keep(&b' ') {
        alphabet.push(b' ');
    }
    if alphabet.is_empty() {
        return Err(Error::invalid_parameter(
            "The password cannot be generated because every character type is excluded.",
        ));
    }

    let required: &[Vec<u8>] = if spec.require_each_included_type {
        &types
    } else {
        &[]
    };
    if length < required.len() {
        return Err(Error::invalid_parameter(
            "Password length is too short based on the required types.",
        ));
    }

    let mut draw = Draw::new(rng);
    let mut password = Vec::with_capacity(length);
    for set in required {
        password.push(set[draw.below(set.len())?]);
    }
    while password.len() < length {
        password.push(alphabet[draw.below(alphabet.len())?]);
    }
    // Fisher–Yates: position i swaps with a uniform j in 0..=i.
    for i in (1..password.len()).rev() {
        let j = draw.below(i + 1)?;
        password.swap(i, j);
    }
    // Every byte comes from the ASCII sets above.
    String::from_utf8(password).map_err(|_| Error::internal("generated password is not ASCII"))
}

fn validate_length(length: i64) -> Result<usize> {
    if length < MIN_PASSWORD_LENGTH {
        return Err(Error::invalid_parameter(format!(
            "1 validation error detected: Value '{length}' at 'passwordLength' failed to satisfy \
             constraint: Member must have value greater than or equal to {MIN_PASSWORD_LENGTH}"
        )));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(Error::invalid_parameter(format!(
            "1 validation error detected: Value '{length}' at 'passwordLength' failed to satisfy \
             constraint: Member must have value less than or equal to {MAX_PASSWORD_LENGTH}"
        )));
    }
    // In range 1..=4096, so it fits.
    Ok(length as usize)
}

/// Uniform integers from a byte source, by rejection sampling.
struct Draw<'a> {
    rng: &'a dyn RandomSource,
    buf: [u8; 64],
    pos: usize,
}

/// Consecutive rejections after which the random source is considered broken. Each draw is
/// rejected with probability below 1/2, so a working source never gets near this.
const MAX_REJECTIONS: u32 = 1000;

impl<'a> Draw<'a> {
    fn new(rng: &'a dyn RandomSource) -> Self {
        let buf = [0u8; 64];
        Draw {
            rng,
            pos: buf.len(),
            buf,
        }
    }

    fn byte(&mut self) -> u8 {
        if self.pos == self.buf.len() {
            self.rng.fill(&mut self.buf);
            self.pos = 0;
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        b
    }

    /// A uniform value in `0..n`, `1 <= n <= 65536`.
    fn below(&mut self, n: usize) -> Result<usize> {
        debug_assert!((1..=65_536).contains(&n));
        if n == 1 {
            return Ok(0);
        }
        // Values at or above `limit` would make the low residues more likely; draw again.
        let (space, wide) = if n <= 256 {
            (256usize, false)
        } else {
            (65_536usize, true)
        };
        let limit = space - space % n;
        for _ in 0..MAX_REJECTIONS {
            let v = if wide {
                usize::from(u16::from_be_bytes([self.byte(), self.byte()]))
            } else {
                usize::from(self.byte())
            };
            if v < limit {
                return Ok(v % n);
            }
        }
        Err(Error::internal(
            "the random source returned no usable bytes",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// Deterministic splitmix64 stream; good enough statistically for the sanity tests.
    struct SeededRandom(AtomicU64);

    impl SeededRandom {
        fn new(seed: u64) -> Self {
            SeededRandom(AtomicU64::new(seed))
        }
    }

    impl RandomSource for SeededRandom {
        fn fill(&self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(8) {
                let mut z = self
                    .0
                    .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                    .wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
            }
        }
    }

    /// Replays a fixed byte script, cycling.
    struct ScriptedRandom {
        bytes: Vec<u8>,
        pos: AtomicUsize,
    }

    impl ScriptedRandom {
        fn new(bytes: &[u8]) -> Self {
            ScriptedRandom {
                bytes: bytes.to_vec(),
                pos: AtomicUsize::new(0),
            }
        }
    }

    impl RandomSource for ScriptedRandom {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf.iter_mut() {
                let i = self.pos.fetch_add(1, Ordering::Relaxed);
                *b = self.bytes[i % self.bytes.len()];
            }
        }
    }

    fn spec() -> PasswordSpec {
        PasswordSpec::default()
    }

    fn count_in(password: &str, set: &str) -> usize {
        password.chars().filter(|c| set.contains(*c)).count()
    }

    #[test]
    fn default_spec_matches_aws_defaults() {
        let s = PasswordSpec::default();
        assert_eq!(s.length, 32);
        assert!(s.require_each_included_type);
        assert!(s.exclude_characters.is_empty());
        assert!(!s.exclude_numbers && !s.exclude_punctuation);
        assert!(!s.exclude_uppercase && !s.exclude_lowercase);
        assert!(!s.include_space);
    }

    #[test]
    fn punctuation_is_the_aws_set() {
        assert_eq!(PUNCTUATION.len(), 32);
        let expected: String = (0x21u8..=0x7e)
            .map(char::from)
            .filter(|c| c.is_ascii_punctuation())
            .collect();
        assert_eq!(PUNCTUATION, expected);
    }

    #[test]
    fn generate_defaults_thirty_two_chars_with_every_type() {
        let rng = SeededRandom::new(1);
        for _ in 0..200 {
            let p = generate_password(&spec(), &rng).unwrap();
            assert_eq!(p.len(), 32);
            assert!(count_in(&p, LOWERCASE) >= 1);
            assert!(count_in(&p, UPPERCASE) >= 1);
            assert!(count_in(&p, DIGITS) >= 1);
            assert!(count_in(&p, PUNCTUATION) >= 1);
            assert!(!p.contains(' '));
        }
    }

    #[test]
    fn generate_length_zero_invalid_parameter() {
        let err = generate_password(
            &PasswordSpec {
                length: 0,
                ..spec()
            },
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert_eq!(err.code(), "InvalidParameterException");
        assert!(
            err.message().contains("greater than or equal to 1"),
            "{err}"
        );
    }

    #[test]
    fn generate_length_above_max_invalid_parameter() {
        let err = generate_password(
            &PasswordSpec {
                length: 4097,
                ..spec()
            },
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)));
        assert!(
            err.message().contains("less than or equal to 4096"),
            "{err}"
        );
    }

    #[test]
    fn generate_length_bounds_succeed() {
        let rng = SeededRandom::new(2);
        let max = generate_password(
            &PasswordSpec {
                length: 4096,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        assert_eq!(max.len(), 4096);
        let one = generate_password(
            &PasswordSpec {
                length: 1,
                require_each_included_type: false,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn generate_length_below_required_types_invalid_parameter() {
        let err = generate_password(
            &PasswordSpec {
                length: 3,
                ..spec()
            },
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::InvalidParameter(
                "Password length is too short based on the required types.".into()
            )
        );
    }

    #[test]
    fn generate_length_equal_to_required_types_has_one_of_each() {
        let rng = SeededRandom::new(3);
        let p = generate_password(
            &PasswordSpec {
                length: 4,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        for set in [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION] {
            assert_eq!(count_in(&p, set), 1, "{p}");
        }
    }

    #[test]
    fn generate_fewer_types_lowers_the_minimum_length() {
        let p = generate_password(
            &PasswordSpec {
                length: 2,
                exclude_numbers: true,
                exclude_punctuation: true,
                ..spec()
            },
            &SeededRandom::new(4),
        )
        .unwrap();
        assert_eq!(count_in(&p, LOWERCASE), 1);
        assert_eq!(count_in(&p, UPPERCASE), 1);
    }

    #[test]
    fn generate_every_type_excluded_invalid_parameter() {
        let err = generate_password(
            &PasswordSpec {
                exclude_numbers: true,
                exclude_punctuation: true,
                exclude_uppercase: true,
                exclude_lowercase: true,
                ..spec()
            },
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)));
        assert!(err.message().contains("every character type is excluded"));
    }

    #[test]
    fn generate_every_character_excluded_invalid_parameter() {
        let all = format!("{LOWERCASE}{UPPERCASE}{DIGITS}{PUNCTUATION}");
        let err = generate_password(
            &PasswordSpec {
                exclude_characters: all,
                ..spec()
            },
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)));
    }

    #[test]
    fn generate_exclude_characters_too_long_invalid_parameter() {
        let err = generate_password(
            &PasswordSpec {
                exclude_characters: "a".repeat(4097),
                ..spec()
            },
            &SeededRandom::new(1),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)));
        assert!(err.message().contains("excludeCharacters"));
        let ok = generate_password(
            &PasswordSpec {
                exclude_characters: "a".repeat(4096),
                ..spec()
            },
            &SeededRandom::new(1),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn generate_excluded_characters_never_appear() {
        let rng = SeededRandom::new(5);
        let excluded = "aeiouAEIOU01lI|`'\"\\/@";
        for _ in 0..100 {
            let p = generate_password(
                &PasswordSpec {
                    length: 128,
                    exclude_characters: excluded.into(),
                    ..spec()
                },
                &rng,
            )
            .unwrap();
            assert!(!p.chars().any(|c| excluded.contains(c)), "{p}");
        }
    }

    #[test]
    fn generate_type_emptied_by_exclude_characters_is_not_required() {
        // Every digit excluded by character: three types remain, so length 3 is enough.
        let p = generate_password(
            &PasswordSpec {
                length: 3,
                exclude_characters: DIGITS.into(),
                ..spec()
            },
            &SeededRandom::new(6),
        )
        .unwrap();
        assert_eq!(count_in(&p, DIGITS), 0);
        assert_eq!(count_in(&p, LOWERCASE), 1);
        assert_eq!(count_in(&p, UPPERCASE), 1);
        assert_eq!(count_in(&p, PUNCTUATION), 1);
    }

    #[test]
    fn generate_exclude_flags_remove_types() {
        let rng = SeededRandom::new(7);
        let p = generate_password(
            &PasswordSpec {
                length: 500,
                exclude_punctuation: true,
                exclude_uppercase: true,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        assert!(p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn generate_include_space_can_contain_space_but_does_not_require_it() {
        let rng = SeededRandom::new(8);
        let long = generate_password(
            &PasswordSpec {
                length: 2000,
                include_space: true,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        assert!(long.contains(' '));
        // Four required types, length four: no room for a space, and that is fine.
        let short = generate_password(
            &PasswordSpec {
                length: 4,
                include_space: true,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        assert!(!short.contains(' '));
    }

    #[test]
    fn generate_space_only_when_every_type_excluded() {
        let p = generate_password(
            &PasswordSpec {
                length: 5,
                exclude_numbers: true,
                exclude_punctuation: true,
                exclude_uppercase: true,
                exclude_lowercase: true,
                include_space: true,
                ..spec()
            },
            &SeededRandom::new(9),
        )
        .unwrap();
        assert_eq!(p, "     ");
    }

    #[test]
    fn generate_no_required_types_does_not_force_each_type() {
        // Only digits and a single lowercase letter allowed: with 1-char passwords and no
        // requirement, both outcomes occur.
        let rng = SeededRandom::new(10);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let p = generate_password(
                &PasswordSpec {
                    length: 1,
                    exclude_characters: "bcdefghijklmnopqrstuvwxyz23456789".into(),
                    exclude_uppercase: true,
                    exclude_punctuation: true,
                    require_each_included_type: false,
                    ..spec()
                },
                &rng,
            )
            .unwrap();
            seen.insert(p);
        }
        let seen: Vec<_> = seen.into_iter().collect();
        assert_eq!(seen, ["0", "1", "a"]);
    }

    #[test]
    fn draw_below_rejects_bytes_in_the_biased_tail() {
        // n = 94: limit = 256 - 256 % 94 = 188, so 250 and 188 are rejected and 95 is accepted
        // as 95 % 94 = 1.
        let rng = ScriptedRandom::new(&[250, 188, 95]);
        let mut draw = Draw::new(&rng);
        assert_eq!(draw.below(94).unwrap(), 1);
    }

    #[test]
    fn draw_below_wide_uses_two_bytes() {
        // n = 4096 divides 65536: nothing rejected; 0x1234 % 4096 = 0x234.
        let rng = ScriptedRandom::new(&[0x12, 0x34]);
        let mut draw = Draw::new(&rng);
        assert_eq!(draw.below(4096).unwrap(), 0x234);
    }

    #[test]
    fn draw_below_broken_source_internal_error() {
        let rng = ScriptedRandom::new(&[0xFF]);
        let mut draw = Draw::new(&rng);
        assert!(matches!(
            draw.below(94),
            Err(Error::InternalServiceError(_))
        ));
    }

    #[test]
    fn generate_scripted_bytes_deterministic() {
        // No required types, digits only, length 3: bytes 0,1,2 pick '0','1','2' (10 divides
        // 250 so the limit is 250); then the shuffle draws j for i = 2 (n = 3) and i = 1 (n = 2):
        // byte 3 -> 3 % 3 = 0 swaps positions 2 and 0, byte 4 -> 4 % 2 = 0 swaps 1 and 0.
        let rng = ScriptedRandom::new(&[0, 1, 2, 3, 4]);
        let p = generate_password(
            &PasswordSpec {
                length: 3,
                exclude_lowercase: true,
                exclude_uppercase: true,
                exclude_punctuation: true,
                require_each_included_type: false,
                ..spec()
            },
            &rng,
        )
        .unwrap();
        // "012" -> swap(2,0) "210" -> swap(1,0) "120".
        assert_eq!(p, "120");
    }

    #[test]
    fn generate_character_frequencies_uniform_chi_square() {
        let rng = SeededRandom::new(11);
        let mut counts = [0u32; 128];
        let mut total = 0u32;
        for _ in 0..50 {
            let p = generate_password(
                &PasswordSpec {
                    length: 4096,
                    require_each_included_type: false,
                    ..spec()
                },
                &rng,
            )
            .unwrap();
            for b in p.bytes() {
                counts[usize::from(b)] += 1;
                total += 1;
            }
        }
        let alphabet: Vec<u8> = format!("{LOWERCASE}{UPPERCASE}{DIGITS}{PUNCTUATION}").into_bytes();
        let expected = f64::from(total) / alphabet.len() as f64;
        let chi2: f64 = alphabet
            .iter()
            .map(|&c| {
                let d = f64::from(counts[usize::from(c)]) - expected;
                d * d / expected
            })
            .sum();
        // 93 degrees of freedom: mean 93, sd ~13.6; 160 is ~5 sd out.
        assert!(chi2 < 160.0, "chi2 = {chi2}");
    }

    #[test]
    fn generate_required_characters_land_at_uniform_positions() {
        // Length 4 with four required types is a permutation of one character per type, so an
        // unbiased shuffle puts each type at each position a quarter of the time.
        let rng = SeededRandom::new(12);
        let sets = [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION];
        let mut counts = [[0u32; 4]; 4];
        let runs = 8000;
        for _ in 0..runs {
            let p = generate_password(
                &PasswordSpec {
                    length: 4,
                    ..spec()
                },
                &rng,
            )
            .unwrap();
            for (pos, c) in p.chars().enumerate() {
                let t = sets.iter().position(|s| s.contains(c)).unwrap();
                counts[pos][t] += 1;
            }
        }
        let expected = f64::from(runs) / 4.0;
        for row in counts {
            for n in row {
                // sd = sqrt(8000 * 1/4 * 3/4) ~ 38.7; allow 5 sd.
                assert!((f64::from(n) - expected).abs() < 200.0, "{counts:?}");
            }
        }
    }

    /// One row of the condition table: the four `Exclude*` flags, `IncludeSpace` and
    /// `RequireEachIncludedType`, decoded from the six bits of `mask`.
    #[derive(Debug, Clone, Copy)]
    struct Condition {
        exclude_lowercase: bool,
        exclude_uppercase: bool,
        exclude_numbers: bool,
        exclude_punctuation: bool,
        include_space: bool,
        require_each_included_type: bool,
    }

    impl Condition {
        fn all() -> impl Iterator<Item = Condition> {
            (0u32..64).map(|mask| Condition {
                exclude_lowercase: mask & 1 != 0,
                exclude_uppercase: mask & 2 != 0,
                exclude_numbers: mask & 4 != 0,
                exclude_punctuation: mask & 8 != 0,
                include_space: mask & 16 != 0,
                require_each_included_type: mask & 32 != 0,
            })
        }

        fn spec(self, length: i64, exclude_characters: &str) -> PasswordSpec {
            PasswordSpec {
                length,
                exclude_characters: exclude_characters.into(),
                exclude_numbers: self.exclude_numbers,
                exclude_punctuation: self.exclude_punctuation,
                exclude_uppercase: self.exclude_uppercase,
                exclude_lowercase: self.exclude_lowercase,
                include_space: self.include_space,
                require_each_included_type: self.require_each_included_type,
            }
        }

        /// The documented types left by the flags (the space is not a type).
        fn types(self) -> Vec<&'static str> {
            [
                (LOWERCASE, self.exclude_lowercase),
                (UPPERCASE, self.exclude_uppercase),
                (DIGITS, self.exclude_numbers),
                (PUNCTUATION, self.exclude_punctuation),
            ]
            .into_iter()
            .filter(|(_, excluded)| !excluded)
            .map(|(set, _)| set)
            .collect()
        }

        /// Every class that may appear: the types plus the space with IncludeSpace.
        fn classes(self) -> Vec<&'static str> {
            let mut classes = self.types();
            if self.include_space {
                classes.push(" ");
            }
            classes
        }
    }

    fn assert_no_character_left(err: &Error, cond: Condition) {
        assert_eq!(err.code(), "InvalidParameterException", "{cond:?}: {err}");
        assert_eq!(
            err,
            &Error::InvalidParameter(
                "The password cannot be generated because every character type is excluded.".into()
            ),
            "{cond:?}"
        );
    }

    #[test]
    fn random_password_condition_outcome_long_password_every_combination() {
        let rng = SeededRandom::new(20);
        for cond in Condition::all() {
            let classes = cond.classes();
            let result = generate_password(&cond.spec(4096, ""), &rng);
            if classes.is_empty() {
                assert_no_character_left(&result.unwrap_err(), cond);
                continue;
            }
            let p = result.unwrap_or_else(|e| panic!("{cond:?}: {e}"));
            assert_eq!(p.len(), 4096, "{cond:?}");
            let allowed: String = classes.concat();
            assert!(
                p.chars().all(|c| allowed.contains(c)),
                "{cond:?}: a character outside {allowed:?}"
            );
            // 4096 draws: a class of k of n characters is missed with probability
            // (1 - k/n)^4096 <= (94/95)^4096 ~ 1e-19, so every allowed class shows up,
            // the space included.
            for class in &classes {
                assert!(count_in(&p, class) > 0, "{cond:?}: no {class:?}");
            }
            assert_eq!(p.contains(' '), cond.include_space, "{cond:?}");
        }
    }

    #[test]
    fn random_password_condition_outcome_short_password_every_combination() {
        let rng = SeededRandom::new(21);
        for cond in Condition::all() {
            let types = cond.types();
            let allowed: String = cond.classes().concat();
            if allowed.is_empty() {
                for length in [1, 4, 32] {
                    let err = generate_password(&cond.spec(length, ""), &rng).unwrap_err();
                    assert_no_character_left(&err, cond);
                }
                continue;
            }
            let required = if cond.require_each_included_type {
                types.len()
            } else {
                0
            };
            // Shortest accepted length: one of each required type (at least one character).
            let shortest = required.max(1);
            for _ in 0..50 {
                let p = generate_password(&cond.spec(shortest as i64, ""), &rng)
                    .unwrap_or_else(|e| panic!("{cond:?}: {e}"));
                assert_eq!(p.len(), shortest, "{cond:?}");
                assert!(p.chars().all(|c| allowed.contains(c)), "{cond:?}: {p:?}");
                if cond.require_each_included_type {
                    for set in &types {
                        assert!(count_in(&p, set) >= 1, "{cond:?}: no {set:?} in {p:?}");
                    }
                }
                // Length 8 leaves room beyond the required types; they still all appear.
                let p = generate_password(&cond.spec(8, ""), &rng).unwrap();
                assert!(p.chars().all(|c| allowed.contains(c)), "{cond:?}: {p:?}");
                if cond.require_each_included_type {
                    for set in &types {
                        assert!(count_in(&p, set) >= 1, "{cond:?}: no {set:?} in {p:?}");
                    }
                }
            }
            // One character fewer than the required types is rejected.
            if required >= 2 {
                let err = generate_password(&cond.spec(required as i64 - 1, ""), &rng).unwrap_err();
                assert_eq!(
                    err,
                    Error::InvalidParameter(
                        "Password length is too short based on the required types.".into()
                    ),
                    "{cond:?}"
                );
            }
        }
    }

    #[test]
    fn random_password_condition_outcome_exclude_characters_removes_space() {
        let rng = SeededRandom::new(22);
        for cond in Condition::all() {
            let allowed: String = cond.types().concat();
            let result = generate_password(&cond.spec(4096, " "), &rng);
            if allowed.is_empty() {
                // IncludeSpace with the space excluded by character leaves nothing.
                assert_no_character_left(&result.unwrap_err(), cond);
                continue;
            }
            let p = result.unwrap_or_else(|e| panic!("{cond:?}: {e}"));
            assert!(!p.contains(' '), "{cond:?}");
            assert!(p.chars().all(|c| allowed.contains(c)), "{cond:?}");
            for set in cond.types() {
                assert!(count_in(&p, set) > 0, "{cond:?}: no {set:?}");
            }
        }
    }

    #[test]
    fn random_password_condition_outcome_exclude_characters_empties_types() {
        // Every letter and digit excluded by character: only punctuation (and the space with
        // IncludeSpace) can remain, whatever the flags say about letters and digits.
        let rng = SeededRandom::new(23);
        let letters_and_digits = format!("{LOWERCASE}{UPPERCASE}{DIGITS}");
        for cond in Condition::all() {
            let mut allowed = String::new();
            if !cond.exclude_punctuation {
                allowed.push_str(PUNCTUATION);
            }
            if cond.include_space {
                allowed.push(' ');
            }
            let result = generate_password(&cond.spec(4096, &letters_and_digits), &rng);
            if allowed.is_empty() {
                assert_no_character_left(&result.unwrap_err(), cond);
                continue;
            }
            let p = result.unwrap_or_else(|e| panic!("{cond:?}: {e}"));
            assert!(p.chars().all(|c| allowed.contains(c)), "{cond:?}");
            assert_eq!(p.contains(' '), cond.include_space, "{cond:?}");
            assert_eq!(
                count_in(&p, PUNCTUATION) > 0,
                !cond.exclude_punctuation,
                "{cond:?}"
            );
            // At most one type (punctuation) is left, so length 1 always suffices.
            let one = generate_password(&cond.spec(1, &letters_and_digits), &rng).unwrap();
            if cond.require_each_included_type && !cond.exclude_punctuation {
                assert_eq!(count_in(&one, PUNCTUATION), 1, "{cond:?}: {one:?}");
            }
        }
    }
}
