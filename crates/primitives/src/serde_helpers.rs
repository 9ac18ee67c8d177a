//! Serde adapters for the JSON forms Cairn exposes: amounts as decimal strings (JSON numbers
//! lose precision past 2^53) and byte strings as 0x-prefixed hex.

/// `u128` as a decimal string; also accepts a JSON integer when reading.
pub mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes the amount as a decimal string.
    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads a decimal string (or a non-negative JSON integer).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum StringOrNumber {
            String(String),
            Number(u64),
        }
        match StringOrNumber::deserialize(deserializer)? {
            StringOrNumber::String(text) => super::parse_amount(&text).map_err(de::Error::custom),
            StringOrNumber::Number(n) => Ok(u128::from(n)),
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

/// Parses 0x-hex (prefix optional) of any length.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|_| format!("invalid hex {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
