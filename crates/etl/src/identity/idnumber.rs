//! An id number as identity resolution keeps it: never the number, but a salted hash of it,
//! followed by short hashes of the number and of every variant with one character deleted.
//! Two numbers one keying slip apart — a digit replaced, two neighbours swapped, one dropped or doubled —
//! share a deletion variant, so the slip is recognised from the hashes alone (the symmetric
//! deletion idea of SymSpell), and the state kept between nights holds no number.

/// Hex digits of the hash of the whole number.
const HASH_HEX: usize = 32;
/// Hex digits of each deletion variant's hash (32 bits: two unrelated numbers of 18
/// characters share a variant by chance in about 1 of 10 million pairs).
const VARIANT_HEX: usize = 8;
/// Longer values (not id numbers) get no variants.
const MAX_VARIANT_CHARS: usize = 32;

/// The kept form of id number `raw`: its hash, then the short hashes of it and of its
/// deletion variants. The number is compared as written without spaces and dashes and in
/// upper case (`11010519850312001x` is `11010519850312001X`; `123-45-6789` is `123456789`).
pub fn id_key(raw: &str) -> String {
    let normalised: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    let raw = normalised.as_str();
    let mut key =
        blake3::hash(format!("acrm-id:{raw}").as_bytes()).to_hex()[..HASH_HEX].to_string();
    let chars: Vec<(usize, char)> = raw.char_indices().collect();
    if chars.len() > 1 && chars.len() <= MAX_VARIANT_CHARS {
        let hash = |variant: String| {
            blake3::hash(format!("acrm-id-del:{variant}").as_bytes()).to_hex()[..VARIANT_HEX]
                .to_string()
        };
        // The number itself too: a number with a character dropped is a deletion variant
        // of the full one.
        let mut variants: Vec<String> = chars
            .iter()
            .map(|&(at, c)| hash(format!("{}{}", &raw[..at], &raw[at + c.len_utf8()..])))
            .chain([hash(raw.to_string())])
            .collect();
        // A doubled character gives the same variant twice.
        variants.sort_unstable();
        variants.dedup();
        key.extend(variants);
    }
    key
}

/// The hash of the whole number in kept form `key` (all of a key written before variants
/// were kept).
pub fn exact(key: &str) -> &str {
    key.get(..HASH_HEX).unwrap_or(key)
}

/// The deletion variants in kept form `key`, sorted.
pub fn variants(key: &str) -> Box<[u32]> {
    let rest = key.get(HASH_HEX..).unwrap_or_default();
    rest.as_bytes()
        .chunks_exact(VARIANT_HEX)
        .filter_map(|h| u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        .collect()
}

/// Whether two sorted variant lists share a value.
pub fn share_variant(a: &[u32], b: &[u32]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_slip(a: &str, b: &str) -> bool {
        let (ka, kb) = (id_key(a), id_key(b));
        exact(&ka) != exact(&kb) && share_variant(&variants(&ka), &variants(&kb))
    }

    #[test]
    fn one_keying_slip_is_recognised_from_the_hashes() {
        let key = id_key("6692221");
        assert!(!key.contains("6692221"), "the number is not kept");
        assert_eq!(exact(&key).len(), HASH_HEX);
        assert_eq!(exact(&key), exact(&id_key("6692221")));
        assert!(one_slip("6692221", "6692321"), "a digit replaced");
        assert!(one_slip("9574946", "9579446"), "neighbours swapped");
        assert!(one_slip("9574946", "957946"), "a digit dropped");
        assert!(one_slip("110105198503120011", "110105198503120017"));
        assert!(!one_slip("6692221", "6693321"), "two digits replaced");
        assert!(!one_slip("9574946", "4946957"));
        assert!(!one_slip("6692221", "6692221"), "equal is not a slip");
        assert_eq!(id_key("11010519850312001x"), id_key("11010519850312001X"));
        assert_eq!(
            id_key("123-45 6789"),
            id_key("123456789"),
            "as written, spaced or dashed"
        );
        assert_eq!(exact("0123abcd"), "0123abcd", "a short key is its own hash");
        assert!(
            variants(exact(&key)).is_empty(),
            "a key kept before variants"
        );
    }
}
