//! Serde adapters for the JSON forms Cairn exposes: amounts as decimal strings (JSON numbers
//! lose precision past 2^53) and byte strings as 0x-prefixed hex.

/// `u128` as a decimal string; also accepts a JSON integer when reading.
pub mod u128_string {
    use serde::{Deserializer, Serializer, de};

    /// Writes the amount as a decimal string.
    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads a decimal string (or a non-negative JSON integer).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }

    struct AmountVisitor;

    impl de::Visitor<'_> for AmountVisitor {
        type Value = u128;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an amount in base units: a decimal string (or integer) below 2^128")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<u128, E> {
            super::parse_amount(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<u128, E> {
            Ok(u128::from(n))
        }

        fn visit_u128<E: de::Error>(self, n: u128) -> Result<u128, E> {
            Ok(n)
        }
    }
}

/// Parses a base-unit amount written as a decimal string without sign, spaces or fraction.
pub fn parse_amount(text: &str) -> Result<u128, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "amount {text:?} is not a non-negative decimal integer"
        ));
    }
    text.parse::<u128>()
        .map_err(|_| format!("amount {text} does not fit in 128 bits"))
}

/// Fixed-size byte arrays as 0x-prefixed lowercase hex.
pub mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes the bytes as 0x-hex.
    pub fn serialize<S: Serializer, const N: usize>(
        value: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("0x{}", hex::encode(value)))
    }

    /// Reads 0x-hex (the prefix is optional) of exactly N bytes.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_hex_array::<N>(&text).map_err(de::Error::custom)
    }
}

/// Parses 0x-hex (prefix optional) of exactly N bytes.
pub fn parse_hex_array<const N: usize>(text: &str) -> Result<[u8; N], String> {
    text.parse::<alloy_primitives::FixedBytes<N>>()
        .map(|bytes| bytes.0)
        .map_err(|_| format!("expected {N} bytes of hex, got {text:?}"))
}

/// Parses `0x` followed by exactly 2N hex digits (either case): the strict form the API and
/// the command line take, where an address without its `0x` is a mistake worth naming.
pub fn parse_0x_hex_array<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    text.strip_prefix("0x")
        .filter(|digits| digits.len() == 2 * N)
        .and_then(|digits| hex::decode_to_slice(digits, &mut bytes).ok())
        .map(|()| bytes)
        .ok_or_else(|| format!("expected 0x + {} hex digits, got {text:?}", 2 * N))
}

/// Parses 0x-hex (prefix optional) of any length.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|_| format!("invalid hex {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_hex_wants_the_prefix_and_the_exact_length() {
        assert_eq!(parse_0x_hex_array::<2>("0xabCD"), Ok([0xab, 0xcd]));
        for bad in ["abcd", "0Xabcd", "0xabc", "0xabcde0", "0xabcg", "0x", ""] {
            assert!(parse_0x_hex_array::<2>(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amounts_read_strings_and_integers_with_a_plain_message() {
        #[derive(Debug, serde::Deserialize)]
        struct A(#[serde(with = "u128_string")] u128);
        let read = |json: &str| serde_json::from_str::<A>(json).map(|a| a.0);
        assert_eq!(
            read("\"340282366920938463463374607431768211455\"").ok(),
            Some(u128::MAX)
        );
        assert_eq!(read("7").ok(), Some(7));
        for bad in ["-5", "1.5", "\"-5\"", "\"1e3\"", "true", "null"] {
            let error = read(bad).expect_err(bad).to_string();
            assert!(!error.contains("untagged"), "{bad}: {error}");
        }
        assert!(
            read("-5")
                .unwrap_err()
                .to_string()
                .contains("decimal string")
        );
    }

    #[test]
    fn amounts_parse_strictly() {
        assert_eq!(parse_amount("0"), Ok(0));
        assert_eq!(parse_amount(&u128::MAX.to_string()), Ok(u128::MAX));
        for bad in [
            "",
            "-1",
            "1.5",
            " 1",
            "1e3",
            "340282366920938463463374607431768211456",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn hex_arrays_need_exact_length() {
        assert_eq!(parse_hex_array::<2>("0xabcd"), Ok([0xab, 0xcd]));
        assert_eq!(parse_hex_array::<2>("abcd"), Ok([0xab, 0xcd]));
        assert!(parse_hex_array::<2>("0xabc").is_err());
        assert!(parse_hex_array::<2>("0xabcdef").is_err());
        assert!(parse_hex_array::<2>("0xzzzz").is_err());
    }
}
