//! Nibble paths and the hex-prefix ("compact") encoding of Yellow Paper appendix C.
//!
//! Paths are kept in their hex-prefix form everywhere (in arena nodes and in decoded views),
//! so encoding a leaf or extension copies bytes instead of packing nibbles, and decoding a
//! stored node needs no unpacking. Nibble `i` is found by index arithmetic on the packed bytes.

use smallvec::SmallVec;

/// Flag bit set in the first hex-prefix nibble when the path has an odd number of nibbles.
const ODD_FLAG: u8 = 0x1;
/// Flag bit set in the first hex-prefix nibble when the path ends in a leaf.
const LEAF_FLAG: u8 = 0x2;

/// Errors from decoding a hex-prefix encoded path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexPrefixError {
    /// The encoding has no bytes at all; even the empty path is one flag byte.
    #[error("hex-prefix encoding is empty")]
    Empty,
    /// The flag nibble is above 3.
    #[error("invalid hex-prefix flag nibble {0:#x}")]
    InvalidFlag(u8),
    /// An even-length path whose padding nibble is not zero.
    #[error("hex-prefix padding nibble is {0:#x}, expected 0")]
    NonZeroPadding(u8),
}

/// Hex-prefix encodes `nibbles` (each `0..=15`), setting the leaf flag if `is_leaf`.
///
/// Nibble values above 15 are masked to their low four bits.
pub fn encode_hex_prefix(nibbles: &[u8], is_leaf: bool) -> Vec<u8> {
    Path::from_nibbles(nibbles, is_leaf).hp.into_vec()
}

/// Decodes a hex-prefix encoding into its nibbles and leaf flag.
pub fn decode_hex_prefix(encoded: &[u8]) -> Result<(Vec<u8>, bool), HexPrefixError> {
    let path = NibblePath::new(encoded)?;
    Ok((path.to_nibbles(), path.is_leaf()))
}

/// Checks a hex-prefix encoding and returns the parsed flag nibble.
fn check_hex_prefix(encoded: &[u8]) -> Result<u8, HexPrefixError> {
    let first = *encoded.first().ok_or(HexPrefixError::Empty)?;
    let flag = first >> 4;
    if flag > (ODD_FLAG | LEAF_FLAG) {
        return Err(HexPrefixError::InvalidFlag(flag));
    }
    if flag & ODD_FLAG == 0 && first & 0x0f != 0 {
        return Err(HexPrefixError::NonZeroPadding(first & 0x0f));
    }
    Ok(flag)
}

/// Number of nibbles in a (valid) hex-prefix encoding.
#[inline]
fn hp_len(hp: &[u8]) -> usize {
    let odd = hp.first().is_some_and(|b| b & 0x10 != 0);
    hp.len().saturating_sub(1) * 2 + usize::from(odd)
}

/// Nibble `index` of a (valid) hex-prefix encoding; `index < hp_len(hp)`.
#[inline]
fn hp_nibble(hp: &[u8], index: usize) -> u8 {
    let odd = hp[0] & 0x10 != 0;
    // Position in the packed nibble stream, counting the flag nibble as position 0
    // and the padding nibble (even paths only) as position 1.
    let position = index + if odd { 1 } else { 2 };
    let byte = hp[position / 2];
    if position.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// A key viewed as nibbles, high nibble of each byte first. Never allocates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NibbleKey<'a>(pub(crate) &'a [u8]);

impl NibbleKey<'_> {
    /// Number of nibbles (twice the byte length).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.len() * 2
    }

    /// Nibble at `index`; `index < self.len()`.
    #[inline]
    pub(crate) fn at(&self, index: usize) -> u8 {
        let byte = self.0[index / 2];
        if index.is_multiple_of(2) {
            byte >> 4
        } else {
            byte & 0x0f
        }
    }
}

/// Borrowed view of a validated hex-prefix encoded path (as found inside an RLP node).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NibblePath<'a> {
    hp: &'a [u8],
}

impl<'a> NibblePath<'a> {
    /// Validates `encoded` as a hex-prefix path.
    pub fn new(encoded: &'a [u8]) -> Result<Self, HexPrefixError> {
        check_hex_prefix(encoded)?;
        Ok(Self { hp: encoded })
    }

    /// Number of nibbles in the path.
    #[inline]
    pub fn len(&self) -> usize {
        hp_len(self.hp)
    }

    /// True if the path has no nibbles.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the flag marks a leaf (terminated) path.
    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.hp[0] & 0x20 != 0
    }

    /// Nibble at `index`, or `None` past the end.
    #[inline]
    pub fn get(&self, index: usize) -> Option<u8> {
        (index < self.len()).then(|| hp_nibble(self.hp, index))
    }

    /// The path's nibbles, one per byte.
    pub fn to_nibbles(&self) -> Vec<u8> {
        (0..self.len()).map(|i| hp_nibble(self.hp, i)).collect()
    }

    /// The hex-prefix encoding this view was made from.
    pub fn as_hex_prefix(&self) -> &'a [u8] {
        self.hp
    }

    /// True if the path equals `key[start..]`.
    #[inline]
    pub(crate) fn matches_rest(&self, key: NibbleKey<'_>, start: usize) -> bool {
        key.len() - start == self.len() && self.is_prefix_of(key, start)
    }

    /// True if the whole path equals `key[start..start + len]`.
    #[inline]
    pub(crate) fn is_prefix_of(&self, key: NibbleKey<'_>, start: usize) -> bool {
        let len = self.len();
        if key.len() - start < len {
            return false;
        }
        (0..len).all(|i| hp_nibble(self.hp, i) == key.at(start + i))
    }
}

impl std::fmt::Debug for NibblePath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NibblePath({}{:?})",
            if self.is_leaf() { "leaf " } else { "" },
            self.to_nibbles()
        )
    }
}

/// Owned hex-prefix path stored in arena nodes; inline up to 63 nibbles, which covers every
/// leaf below the root of a trie of 32-byte keys (and keeps a node at two cache lines).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Path {
    hp: SmallVec<[u8; 32]>,
}

impl Path {
    /// Builds a path from unpacked nibbles.
    pub(crate) fn from_nibbles(nibbles: &[u8], is_leaf: bool) -> Self {
        Self::from_nibble_fn(nibbles.len(), is_leaf, |i| nibbles[i] & 0x0f)
    }

    /// Builds a path from `key[start..end]`.
    pub(crate) fn from_key(key: NibbleKey<'_>, start: usize, end: usize, is_leaf: bool) -> Self {
        if start.is_multiple_of(2) && end.is_multiple_of(2) {
            // Byte aligned and even: the packed key bytes are the encoding after the flag byte.
            let mut hp = SmallVec::with_capacity(1 + (end - start) / 2);
            hp.push(if is_leaf { LEAF_FLAG << 4 } else { 0 });
            hp.extend_from_slice(&key.0[start / 2..end / 2]);
            return Self { hp };
        }
        Self::from_nibble_fn(end - start, is_leaf, |i| key.at(start + i))
    }

    fn from_nibble_fn(len: usize, is_leaf: bool, nibble: impl Fn(usize) -> u8) -> Self {
        let odd = len % 2 == 1;
        let flag = if is_leaf { LEAF_FLAG } else { 0 } | if odd { ODD_FLAG } else { 0 };
        let mut hp: SmallVec<[u8; 32]> = SmallVec::with_capacity(1 + len / 2);
        let mut next = 0;
        if odd {
            hp.push(flag << 4 | nibble(0));
            next = 1;
        } else {
            hp.push(flag << 4);
        }
        while next < len {
            hp.push(nibble(next) << 4 | nibble(next + 1));
            next += 2;
        }
        Self { hp }
    }

    /// Copies a validated borrowed path.
    pub(crate) fn from_view(view: NibblePath<'_>) -> Self {
        Self {
            hp: SmallVec::from_slice(view.hp),
        }
    }

    /// Borrowed view of this path.
    #[inline]
    pub(crate) fn view(&self) -> NibblePath<'_> {
        NibblePath { hp: &self.hp }
    }

    /// The hex-prefix encoding.
    #[inline]
    pub(crate) fn hex_prefix(&self) -> &[u8] {
        &self.hp
    }

    /// Number of nibbles.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        hp_len(&self.hp)
    }

    /// Nibble at `index < len()`.
    #[inline]
    pub(crate) fn nibble(&self, index: usize) -> u8 {
        hp_nibble(&self.hp, index)
    }

    /// Length of the common prefix of this path and `key[start..]`.
    #[inline]
    pub(crate) fn common_prefix(&self, key: NibbleKey<'_>, start: usize) -> usize {
        let max = self.len().min(key.len() - start);
        (0..max)
            .find(|&i| self.nibble(i) != key.at(start + i))
            .unwrap_or(max)
    }

    /// Appends the nibbles of `self[from..]` to `out`.
    pub(crate) fn push_nibbles(&self, from: usize, out: &mut SmallVec<[u8; 64]>) {
        out.extend((from..self.len()).map(|i| self.nibble(i)));
    }

    /// The sub-path `self[from..to]` with the given leaf flag.
    pub(crate) fn slice(&self, from: usize, to: usize, is_leaf: bool) -> Self {
        Self::from_nibble_fn(to - from, is_leaf, |i| self.nibble(from + i))
    }

    /// `prefix ++ self` with the given leaf flag.
    pub(crate) fn prepend(&self, prefix: &[u8], is_leaf: bool) -> Self {
        let mut nibbles: SmallVec<[u8; 64]> = SmallVec::from_slice(prefix);
        self.push_nibbles(0, &mut nibbles);
        Self::from_nibbles(&nibbles, is_leaf)
    }
}

impl std::fmt::Debug for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.view().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yellow_paper_example_leaf_even() {
        // Yellow Paper appendix C / geth's compact encoding: [6 2 6 15 6 2] with a terminator.
        assert_eq!(
            encode_hex_prefix(&[6, 2, 6, 15, 6, 2], true),
            [0x20, 0x62, 0x6f, 0x62]
        );
    }

    #[test]
    fn four_flag_combinations() {
        // Expected bytes follow the definition in Yellow Paper appendix C, by hand.
        assert_eq!(
            encode_hex_prefix(&[1, 2, 3, 4, 5], false),
            [0x11, 0x23, 0x45]
        );
        assert_eq!(
            encode_hex_prefix(&[0, 1, 2, 3, 4, 5], false),
            [0x00, 0x01, 0x23, 0x45]
        );
        assert_eq!(
            encode_hex_prefix(&[0, 15, 1, 12, 11, 8], true),
            [0x20, 0x0f, 0x1c, 0xb8]
        );
        assert_eq!(
            encode_hex_prefix(&[15, 1, 12, 11, 8], true),
            [0x3f, 0x1c, 0xb8]
        );
        assert_eq!(encode_hex_prefix(&[], false), [0x00]);
        assert_eq!(encode_hex_prefix(&[], true), [0x20]);
        assert_eq!(encode_hex_prefix(&[7], true), [0x37]);
        assert_eq!(encode_hex_prefix(&[7], false), [0x17]);
    }

    #[test]
    fn decode_round_trips_every_length() {
        for len in 0..70 {
            for leaf in [false, true] {
                let nibbles: Vec<u8> = (0..len).map(|i| ((i * 7 + len) % 16) as u8).collect();
                let encoded = encode_hex_prefix(&nibbles, leaf);
                assert_eq!(decode_hex_prefix(&encoded), Ok((nibbles, leaf)));
            }
        }
    }

    #[test]
    fn decode_rejects_bad_flags_and_padding() {
        assert_eq!(decode_hex_prefix(&[]), Err(HexPrefixError::Empty));
        assert_eq!(
            decode_hex_prefix(&[0x40]),
            Err(HexPrefixError::InvalidFlag(4))
        );
        assert_eq!(
            decode_hex_prefix(&[0xf0, 0x12]),
            Err(HexPrefixError::InvalidFlag(15))
        );
        assert_eq!(
            decode_hex_prefix(&[0x0a, 0x12]),
            Err(HexPrefixError::NonZeroPadding(0xa))
        );
        assert_eq!(
            decode_hex_prefix(&[0x21]),
            Err(HexPrefixError::NonZeroPadding(1))
        );
    }

    #[test]
    fn key_paths_match_generic_packing() {
        let key = [0xab, 0xcd, 0xef, 0x01];
        let nibble_key = NibbleKey(&key);
        let all: Vec<u8> = (0..nibble_key.len()).map(|i| nibble_key.at(i)).collect();
        assert_eq!(all, [0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x0, 0x1]);
        for start in 0..=8 {
            for end in start..=8 {
                for leaf in [false, true] {
                    let path = Path::from_key(nibble_key, start, end, leaf);
                    assert_eq!(path, Path::from_nibbles(&all[start..end], leaf));
                    assert_eq!(path.len(), end - start);
                }
            }
        }
    }

    #[test]
    fn slicing_and_prefix_helpers() {
        let path = Path::from_nibbles(&[1, 2, 3, 4, 5], true);
        assert_eq!(
            path.slice(1, 4, false),
            Path::from_nibbles(&[2, 3, 4], false)
        );
        assert_eq!(
            path.prepend(&[9], true),
            Path::from_nibbles(&[9, 1, 2, 3, 4, 5], true)
        );
        let key = [0x12, 0x39];
        assert_eq!(path.common_prefix(NibbleKey(&key), 0), 3);
        assert_eq!(path.common_prefix(NibbleKey(&key), 1), 0);
        assert!(path.view().is_prefix_of(NibbleKey(&[0x12, 0x34, 0x56]), 0));
        assert!(path.view().matches_rest(NibbleKey(&[0x01, 0x23, 0x45]), 1));
        assert!(!path.view().matches_rest(NibbleKey(&[0x01, 0x23, 0x45]), 0));
    }
}
