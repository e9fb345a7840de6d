//! Transaction references in fraud reports, format-checked per chain.
//!
//! Victims paste what they have: a bare hash, a hash with stray whitespace or
//! capitals, or a whole block-explorer link. Investigators need one canonical
//! value per transaction to look it up and to match reports of the same
//! theft, so [`parse_tx`] normalises all of these and rejects values that
//! cannot be a transaction of the chosen chain (a truncated copy, an address,
//! a link to another chain's explorer) while the victim can still fix them.

use std::fmt;

/// Longest raw input accepted, in bytes, checked before any other work.
pub const MAX_RAW_LEN: usize = 256;

/// The chain a reported transaction happened on.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    Btc,
    Eth,
    Bsc,
    Polygon,
    Arbitrum,
    Optimism,
    Base,
    /// The Avalanche C-chain (EVM).
    Avalanche,
    Tron,
    Sol,
    /// Any other chain: only a loose sanity check applies.
    Other,
}

impl Chain {
    pub const ALL: [Chain; 11] = [
        Chain::Btc,
        Chain::Eth,
        Chain::Bsc,
        Chain::Polygon,
        Chain::Arbitrum,
        Chain::Optimism,
        Chain::Base,
        Chain::Avalanche,
        Chain::Tron,
        Chain::Sol,
        Chain::Other,
    ];

    /// The snake_case name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Btc => "btc",
            Chain::Eth => "eth",
            Chain::Bsc => "bsc",
            Chain::Polygon => "polygon",
            Chain::Arbitrum => "arbitrum",
            Chain::Optimism => "optimism",
            Chain::Base => "base",
            Chain::Avalanche => "avalanche",
            Chain::Tron => "tron",
            Chain::Sol => "sol",
            Chain::Other => "other",
        }
    }

    /// Inverse of [`Chain::as_str`] (ASCII case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Chain> {
        let s = s.trim();
        Chain::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    /// EVM chains share one hash format: `0x` and 32 bytes of hex.
    pub fn is_evm(self) -> bool {
        matches!(
            self,
            Chain::Eth
                | Chain::Bsc
                | Chain::Polygon
                | Chain::Arbitrum
                | Chain::Optimism
                | Chain::Base
                | Chain::Avalanche
        )
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transaction on a chain. Only [`parse_tx`] builds one from user input, so
/// `tx_hash` is in its chain's canonical form.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxRef {
    pub chain: Chain,
    pub tx_hash: String,
}

/// Why a transaction reference was rejected; `reason` is shown to the victim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {chain} transaction hash: {reason}")]
pub struct TxError {
    pub chain: &'static str,
    pub reason: &'static str,
}

const EMPTY: &str = "it is empty";
const TOO_LONG: &str = "it is longer than 256 characters";
const NOT_HEX: &str = "it contains a character that is not a hex digit";
const HEX_64: &str = "expected 64 hex digits";
const BTC_NO_PREFIX: &str = "expected 64 hex digits without a 0x prefix";
const EVM_FORMAT: &str = "expected 0x followed by 64 hex digits";
const NOT_BASE58: &str = "it contains a character that is not base58 (0, O, I and l never appear)";
const SOL_FORMAT: &str = "expected a base58 signature of 64 to 88 characters encoding 64 bytes";
const OTHER_FORMAT: &str = "expected 8 to 128 printable ASCII characters without spaces";
const UNKNOWN_LINK: &str = "the link is not to a known block explorer for this chain";
const OTHER_CHAIN_LINK: &str = "the link is to a block explorer for another chain";
const NOT_TX_LINK: &str = "the link does not point to a transaction";

/// Block explorers whose transaction links are accepted: host, chain, and
/// the path that precedes the hash.
const EXPLORERS: [(&str, Chain, &str); 13] = [
    ("etherscan.io", Chain::Eth, "/tx/"),
    ("bscscan.com", Chain::Bsc, "/tx/"),
    ("polygonscan.com", Chain::Polygon, "/tx/"),
    ("arbiscan.io", Chain::Arbitrum, "/tx/"),
    ("optimistic.etherscan.io", Chain::Optimism, "/tx/"),
    ("basescan.org", Chain::Base, "/tx/"),
    ("snowtrace.io", Chain::Avalanche, "/tx/"),
    ("tronscan.org", Chain::Tron, "/#/transaction/"),
    ("mempool.space", Chain::Btc, "/tx/"),
    ("blockstream.info", Chain::Btc, "/tx/"),
    ("blockchair.com", Chain::Btc, "/bitcoin/transaction/"),
    ("solscan.io", Chain::Sol, "/tx/"),
    ("explorer.solana.com", Chain::Sol, "/tx/"),
];

/// Normalises and checks a transaction hash for its chain. Accepts the bare
/// hash or a transaction link from one of the chain's known explorers; never
/// panics, and `parse_tx(chain, &ok.tx_hash)` returns `ok` again.
pub fn parse_tx(chain: Chain, raw: &str) -> Result<TxRef, TxError> {
    let invalid = |reason| TxError {
        chain: chain.as_str(),
        reason,
    };
    if raw.len() > MAX_RAW_LEN {
        return Err(invalid(TOO_LONG));
    }
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(EMPTY));
    }
    let hash = match explorer_hash(chain, s) {
        Some(found) => found.map_err(invalid)?,
        None => s,
    };
    let tx_hash = match chain {
        Chain::Btc => btc_hash(hash),
        c if c.is_evm() => evm_hash(hash),
        Chain::Tron => tron_hash(hash),
        Chain::Sol => sol_signature(hash),
        _ => other_hash(hash),
    }
    .map_err(invalid)?;
    Ok(TxRef { chain, tx_hash })
}

/// A scammer's receiving address, in its chain's canonical form (EVM addresses lower-cased).
/// Checks shape only (no checksum): the value groups reports and feeds other platforms'
/// blocklists, where a typo simply matches nothing.
pub fn parse_address(chain: Chain, raw: &str) -> Result<String, TxError> {
    let invalid = |reason| TxError {
        chain: chain.as_str(),
        reason,
    };
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(EMPTY));
    }
    if s.len() > 128 {
        return Err(invalid("an address is at most 128 characters"));
    }
    let base58 = |s: &str, lens: std::ops::RangeInclusive<usize>, what: &'static str| {
        if !s.bytes().all(|b| base58_digit(b).is_some()) {
            Err(invalid(NOT_BASE58))
        } else if !lens.contains(&s.len()) {
            Err(invalid(what))
        } else {
            Ok(s.to_owned())
        }
    };
    match chain {
        c if c.is_evm() => {
            let hex = strip_prefix_ignore_case(s, "0x")
                .filter(|h| h.len() == 40 && is_hex(h))
                .ok_or_else(|| invalid("expected 0x followed by 40 hex digits"))?;
            Ok(format!("0x{}", hex.to_ascii_lowercase()))
        }
        Chain::Btc => {
            let lower = s.to_ascii_lowercase();
            if let Some(rest) = lower.strip_prefix("bc1") {
                let ok = (14..=74).contains(&lower.len())
                    && rest
                        .bytes()
                        .all(|b| b"qpzry9x8gf2tvdw0s3jn54khce6mua7l".contains(&b));
                ok.then_some(lower.clone())
                    .ok_or_else(|| invalid("expected a bech32 address (bc1…)"))
            } else if s.starts_with('1') || s.starts_with('3') {
                base58(
                    s,
                    26..=35,
                    "expected a legacy address of 26 to 35 characters",
                )
            } else {
                Err(invalid("expected an address starting with 1, 3 or bc1"))
            }
        }
        Chain::Tron => {
            if !s.starts_with('T') {
                return Err(invalid("expected a TRON address starting with T"));
            }
            base58(s, 34..=34, "expected 34 characters")
        }
        Chain::Sol => base58(s, 32..=44, "expected 32 to 44 base58 characters"),
        _ => other_hash(s).map_err(invalid),
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_64(s: &str) -> Result<String, &'static str> {
    if !is_hex(s) {
        Err(NOT_HEX)
    } else if s.len() != 64 {
        Err(HEX_64)
    } else {
        Ok(s.to_ascii_lowercase())
    }
}

fn btc_hash(s: &str) -> Result<String, &'static str> {
    if strip_prefix_ignore_case(s, "0x").is_some() {
        return Err(BTC_NO_PREFIX);
    }
    hex_64(s)
}

fn evm_hash(s: &str) -> Result<String, &'static str> {
    let hex = strip_prefix_ignore_case(s, "0x").ok_or(EVM_FORMAT)?;
    match hex_64(hex) {
        Ok(lower) => Ok(format!("0x{lower}")),
        Err(HEX_64) => Err(EVM_FORMAT),
        Err(other) => Err(other),
    }
}

/// TRON explorers show hashes without `0x`, but some wallets add it.
fn tron_hash(s: &str) -> Result<String, &'static str> {
    hex_64(strip_prefix_ignore_case(s, "0x").unwrap_or(s))
}

/// A Solana transaction is identified by its first signature: 64 bytes in
/// base58. Decoding (rather than only counting characters) catches every copy
/// missing two or more characters, which would still look plausible.
fn sol_signature(s: &str) -> Result<String, &'static str> {
    if !s.bytes().all(|b| base58_digit(b).is_some()) {
        return Err(NOT_BASE58);
    }
    if !(64..=88).contains(&s.len()) || base58_decoded_len(s.as_bytes()) != Some(64) {
        return Err(SOL_FORMAT);
    }
    Ok(s.to_owned())
}

fn other_hash(s: &str) -> Result<String, &'static str> {
    if (8..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(s.to_owned())
    } else {
        Err(OTHER_FORMAT)
    }
}

const BASE58_ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58_digit(b: u8) -> Option<u8> {
    BASE58_ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|p| u8::try_from(p).ok())
}

/// Length in bytes of what `s` decodes to, or `None` if it is not base58 or
/// longer than 64 bytes. Leading `1`s stand for leading zero bytes.
fn base58_decoded_len(s: &[u8]) -> Option<usize> {
    let zeros = s.iter().take_while(|&&b| b == b'1').count();
    // Little-endian bytes of the number the remaining digits spell.
    let mut num = [0u8; 64];
    let mut len = 0usize;
    for &b in s.get(zeros..)? {
        let mut carry = u32::from(base58_digit(b)?);
        for byte in num.iter_mut().take(len) {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xFF) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            *num.get_mut(len)? = (carry & 0xFF) as u8;
            len += 1;
            carry >>= 8;
        }
    }
    Some(zeros + len)
}

/// The hash inside an explorer link: `None` if `s` is not a link at all,
/// `Some(Err)` for a link we cannot use for `chain`.
fn explorer_hash(chain: Chain, s: &str) -> Option<Result<&str, &'static str>> {
    let rest = match strip_prefix_ignore_case(s, "https://")
        .or_else(|| strip_prefix_ignore_case(s, "http://"))
    {
        Some(rest) => rest,
        None if s.contains("://") => return Some(Err(UNKNOWN_LINK)),
        // Without a scheme, only a known explorer host makes it a link.
        None => {
            let host = s.split('/').next().unwrap_or(s);
            if s.len() == host.len() || explorers_of(host).next().is_none() {
                return None;
            }
            s
        }
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    if explorers_of(host).next().is_none() {
        return Some(Err(UNKNOWN_LINK));
    }
    let Some((_, _, prefix)) = explorers_of(host).find(|(_, c, _)| *c == chain) else {
        return Some(Err(OTHER_CHAIN_LINK));
    };
    let Some(tail) = strip_prefix_ignore_case(path, prefix) else {
        return Some(Err(NOT_TX_LINK));
    };
    let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let (hash, after) = tail.split_at(end);
    let after = after.strip_prefix('/').unwrap_or(after);
    if hash.is_empty() || !(after.is_empty() || after.starts_with(['?', '#'])) {
        return Some(Err(NOT_TX_LINK));
    }
    Some(Ok(hash))
}

/// Explorer entries for a host as written in a link (any case, optional `www.`).
fn explorers_of(host: &str) -> impl Iterator<Item = (&'static str, Chain, &'static str)> + '_ {
    let host = strip_prefix_ignore_case(host, "www.").unwrap_or(host);
    EXPLORERS
        .into_iter()
        .filter(move |(h, _, _)| h.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
    const ETH: &str = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060";
    const TRON: &str = "a8813f7a6f1b0b3f0c0d3a8b1f1ed8bd1a56a3b1cb5a4b2b6e8f1e3d2c1b0a99";
    const SOL: &str =
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW";

    fn ok(chain: Chain, raw: &str) -> String {
        match parse_tx(chain, raw) {
            Ok(tx) => {
                assert_eq!(tx.chain, chain);
                tx.tx_hash
            }
            Err(e) => panic!("{chain} {raw:?} was rejected: {e}"),
        }
    }

    fn err(chain: Chain, raw: &str) -> &'static str {
        match parse_tx(chain, raw) {
            Ok(tx) => panic!("{chain} {raw:?} was accepted as {tx:?}"),
            Err(e) => {
                assert_eq!(e.chain, chain.as_str());
                e.reason
            }
        }
    }

    fn base58_encode(bytes: &[u8]) -> String {
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        let mut digits: Vec<u8> = Vec::new();
        for &b in &bytes[zeros..] {
            let mut carry = u32::from(b);
            for d in digits.iter_mut() {
                carry += u32::from(*d) << 8;
                *d = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let mut s = "1".repeat(zeros);
        s.extend(
            digits
                .iter()
                .rev()
                .map(|&d| BASE58_ALPHABET[d as usize] as char),
        );
        s
    }

    #[test]
    fn bitcoin_hashes_are_64_hex_digits_in_lower_case() {
        assert_eq!(ok(Chain::Btc, BTC), BTC);
        assert_eq!(ok(Chain::Btc, &BTC.to_uppercase()), BTC);
        assert_eq!(ok(Chain::Btc, &format!(" \t{BTC}\n")), BTC);
    }

    #[test]
    fn bitcoin_rejects_a_prefix_a_wrong_length_and_non_hex() {
        assert_eq!(err(Chain::Btc, &format!("0x{BTC}")), BTC_NO_PREFIX);
        assert_eq!(err(Chain::Btc, &BTC[..63]), HEX_64);
        assert_eq!(err(Chain::Btc, &format!("{BTC}0")), HEX_64);
        assert_eq!(err(Chain::Btc, &format!("{}g", &BTC[..63])), NOT_HEX);
        assert_eq!(
            err(Chain::Btc, &format!("{} {}", &BTC[..30], &BTC[30..])),
            NOT_HEX
        );
        assert_eq!(
            err(Chain::Btc, &ETH[2..42]),
            HEX_64,
            "an address-length value"
        );
    }

    #[test]
    fn evm_hashes_need_0x_and_are_lower_cased() {
        let upper = format!("0X{}", ETH[2..].to_uppercase());
        for chain in Chain::ALL.into_iter().filter(|c| c.is_evm()) {
            assert_eq!(ok(chain, ETH), ETH, "{chain}");
            assert_eq!(ok(chain, &upper), ETH, "{chain}");
            assert_eq!(ok(chain, &format!("\n{ETH}  ")), ETH, "{chain}");
        }
    }

    #[test]
    fn evm_rejects_a_missing_prefix_a_wrong_length_and_non_hex() {
        for chain in Chain::ALL.into_iter().filter(|c| c.is_evm()) {
            assert_eq!(err(chain, &ETH[2..]), EVM_FORMAT, "{chain}");
            assert_eq!(err(chain, &ETH[..65]), EVM_FORMAT, "{chain}");
            assert_eq!(err(chain, &format!("{ETH}a")), EVM_FORMAT, "{chain}");
            assert_eq!(err(chain, &format!("{}z", &ETH[..65])), NOT_HEX, "{chain}");
            assert_eq!(err(chain, "0x"), EVM_FORMAT, "{chain}");
            assert_eq!(
                err(chain, "0x52908400098527886E0F7030069857D2E4169EE7"),
                EVM_FORMAT
            );
        }
    }

    #[test]
    fn tron_hashes_are_64_hex_digits_and_a_0x_prefix_is_dropped() {
        assert_eq!(ok(Chain::Tron, TRON), TRON);
        assert_eq!(ok(Chain::Tron, &format!("0x{TRON}")), TRON);
        assert_eq!(
            ok(Chain::Tron, &format!(" 0X{}", TRON.to_uppercase())),
            TRON
        );
        assert_eq!(err(Chain::Tron, &TRON[..63]), HEX_64);
        assert_eq!(err(Chain::Tron, &format!("{TRON}1")), HEX_64);
        assert_eq!(err(Chain::Tron, &format!("{}x", &TRON[..63])), NOT_HEX);
        assert_eq!(
            err(Chain::Tron, "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"),
            NOT_HEX
        );
    }

    #[test]
    fn solana_signatures_are_base58_encoding_64_bytes_and_keep_their_case() {
        assert_eq!(ok(Chain::Sol, SOL), SOL);
        assert_eq!(ok(Chain::Sol, &format!("  {SOL}\n")), SOL);
        let zero = "1".repeat(64);
        assert_eq!(
            ok(Chain::Sol, &zero),
            zero,
            "64 zero bytes: the shortest form"
        );
        let mut seed = 1u64;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..64)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if i < (seed >> 60) as usize % 3 {
                        0
                    } else {
                        (seed >> 33) as u8
                    }
                })
                .collect();
            let sig = base58_encode(&bytes);
            assert_eq!(ok(Chain::Sol, &sig), sig);
            assert_eq!(
                err(Chain::Sol, &sig[..sig.len() - 2]),
                SOL_FORMAT,
                "truncated {sig}"
            );
            assert_eq!(
                err(Chain::Sol, &format!("{sig}zz")),
                SOL_FORMAT,
                "extended {sig}"
            );
        }
    }

    #[test]
    fn solana_rejects_non_base58_and_wrong_lengths() {
        assert_eq!(err(Chain::Sol, &SOL[..86]), SOL_FORMAT);
        assert_eq!(err(Chain::Sol, &format!("{SOL}1")), SOL_FORMAT);
        assert_eq!(err(Chain::Sol, &"1".repeat(63)), SOL_FORMAT);
        assert_eq!(
            err(Chain::Sol, &"z".repeat(88)),
            SOL_FORMAT,
            "more than 64 bytes"
        );
        assert_eq!(
            err(Chain::Sol, &SOL.to_lowercase()),
            NOT_BASE58,
            "l is not base58"
        );
        for bad in ['0', 'O', 'I', 'l', '-', ' '] {
            let s = format!("{}{bad}{}", &SOL[..40], &SOL[41..]);
            assert_eq!(err(Chain::Sol, &s), NOT_BASE58, "{bad:?}");
        }
        assert_eq!(err(Chain::Sol, ETH), NOT_BASE58);
        assert_eq!(
            err(Chain::Sol, "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"),
            SOL_FORMAT
        );
    }

    #[test]
    fn other_chains_take_8_to_128_printable_ascii_characters() {
        assert_eq!(ok(Chain::Other, "ABCdef12"), "ABCdef12");
        assert_eq!(ok(Chain::Other, " 0xAbC:123_x "), "0xAbC:123_x");
        assert_eq!(ok(Chain::Other, &"a".repeat(128)), "a".repeat(128));
        assert_eq!(err(Chain::Other, "ABCdef1"), OTHER_FORMAT);
        assert_eq!(err(Chain::Other, &"a".repeat(129)), OTHER_FORMAT);
        assert_eq!(err(Chain::Other, "abcd efgh"), OTHER_FORMAT);
        assert_eq!(err(Chain::Other, "abcdéfgh"), OTHER_FORMAT);
        assert_eq!(err(Chain::Other, "abcd\u{0}efgh"), OTHER_FORMAT);
    }

    #[test]
    fn explorer_links_are_accepted_for_their_own_chain() {
        let links = [
            (Chain::Eth, format!("https://etherscan.io/tx/{ETH}"), ETH),
            (Chain::Bsc, format!("https://bscscan.com/tx/{ETH}"), ETH),
            (
                Chain::Polygon,
                format!("https://polygonscan.com/tx/{ETH}"),
                ETH,
            ),
            (
                Chain::Arbitrum,
                format!("https://arbiscan.io/tx/{ETH}"),
                ETH,
            ),
            (
                Chain::Optimism,
                format!("https://optimistic.etherscan.io/tx/{ETH}"),
                ETH,
            ),
            (Chain::Base, format!("https://basescan.org/tx/{ETH}"), ETH),
            (
                Chain::Avalanche,
                format!("https://snowtrace.io/tx/{ETH}"),
                ETH,
            ),
            (
                Chain::Tron,
                format!("https://tronscan.org/#/transaction/{TRON}"),
                TRON,
            ),
            (Chain::Btc, format!("https://mempool.space/tx/{BTC}"), BTC),
            (
                Chain::Btc,
                format!("https://blockstream.info/tx/{BTC}"),
                BTC,
            ),
            (
                Chain::Btc,
                format!("https://blockchair.com/bitcoin/transaction/{BTC}"),
                BTC,
            ),
            (Chain::Sol, format!("https://solscan.io/tx/{SOL}"), SOL),
            (
                Chain::Sol,
                format!("https://explorer.solana.com/tx/{SOL}"),
                SOL,
            ),
        ];
        for (chain, link, hash) in &links {
            assert_eq!(ok(*chain, link), *hash, "{link}");
            let variants = [
                format!("  {link}\n"),
                link.replacen("https://", "http://", 1),
                link.replacen("https://", "HTTPS://www.", 1),
                link.replacen("https://", "", 1),
                format!("{link}?utm_source=share"),
                format!("{link}#eventlog"),
                format!("{link}/"),
                link.to_uppercase().replace(&hash.to_uppercase(), hash),
            ];
            for v in variants {
                assert_eq!(ok(*chain, &v), *hash, "{v}");
            }
        }
        assert_eq!(
            ok(
                Chain::Eth,
                &format!("etherscan.io/tx/{}", ETH.to_uppercase())
            ),
            ETH
        );
    }

    #[test]
    fn unusable_links_are_rejected_with_a_reason() {
        assert_eq!(
            err(Chain::Bsc, &format!("https://etherscan.io/tx/{ETH}")),
            OTHER_CHAIN_LINK
        );
        assert_eq!(
            err(Chain::Other, &format!("https://etherscan.io/tx/{ETH}")),
            OTHER_CHAIN_LINK
        );
        assert_eq!(
            err(Chain::Eth, &format!("https://evil.example/tx/{ETH}")),
            UNKNOWN_LINK
        );
        assert_eq!(
            err(
                Chain::Eth,
                &format!("https://etherscan.io.evil.example/tx/{ETH}")
            ),
            UNKNOWN_LINK
        );
        assert_eq!(
            err(
                Chain::Eth,
                &format!("https://etherscan.io@evil.example/tx/{ETH}")
            ),
            UNKNOWN_LINK
        );
        assert_eq!(
            err(Chain::Other, "ftp://example.org/abcdefgh"),
            UNKNOWN_LINK
        );
        assert_eq!(
            err(
                Chain::Eth,
                &format!("https://etherscan.io/address/{}", &ETH[..42])
            ),
            NOT_TX_LINK
        );
        assert_eq!(err(Chain::Eth, "https://etherscan.io/tx/"), NOT_TX_LINK);
        assert_eq!(
            err(Chain::Eth, &format!("https://etherscan.io/tx/{ETH}/extra")),
            NOT_TX_LINK
        );
        assert_eq!(
            err(
                Chain::Btc,
                &format!("https://mempool.space/testnet/tx/{BTC}")
            ),
            NOT_TX_LINK
        );
        assert_eq!(
            err(
                Chain::Tron,
                &format!("https://tronscan.org/transaction/{TRON}")
            ),
            NOT_TX_LINK
        );
        // The hash inside a link is checked like a bare one.
        assert_eq!(
            err(
                Chain::Eth,
                &format!("https://etherscan.io/tx/{}", &ETH[..65])
            ),
            EVM_FORMAT
        );
        assert_eq!(
            err(Chain::Sol, &format!("https://solscan.io/tx/{}", &SOL[..80])),
            SOL_FORMAT
        );
    }

    #[test]
    fn empty_and_overlong_input_is_rejected_before_anything_else() {
        assert_eq!(err(Chain::Eth, ""), EMPTY);
        assert_eq!(err(Chain::Sol, " \n\t"), EMPTY);
        let long = format!("{ETH}{}", " ".repeat(MAX_RAW_LEN + 1 - ETH.len()));
        assert_eq!(err(Chain::Eth, &long), TOO_LONG);
        assert_eq!(ok(Chain::Eth, &long[..MAX_RAW_LEN]), ETH);
    }

    #[test]
    fn chains_round_trip_through_their_names_and_serde() {
        for chain in Chain::ALL {
            assert_eq!(Chain::parse(chain.as_str()), Some(chain));
            assert_eq!(
                Chain::parse(&format!(" {} ", chain.as_str().to_uppercase())),
                Some(chain)
            );
            let json = serde_json::to_string(&chain).unwrap();
            assert_eq!(json, format!("\"{chain}\""));
            assert_eq!(serde_json::from_str::<Chain>(&json).unwrap(), chain);
        }
        assert_eq!(Chain::parse("bitcoin"), None);
        assert!(serde_json::from_str::<Chain>("\"Eth\"").is_err());
        let evm: Vec<_> = Chain::ALL
            .into_iter()
            .filter(|c| c.is_evm())
            .map(Chain::as_str)
            .collect();
        assert_eq!(
            evm,
            [
                "eth",
                "bsc",
                "polygon",
                "arbitrum",
                "optimism",
                "base",
                "avalanche"
            ]
        );
        let tx = parse_tx(Chain::Avalanche, ETH).unwrap();
        let json = serde_json::to_value(&tx).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"chain": "avalanche", "tx_hash": ETH})
        );
        assert_eq!(serde_json::from_value::<TxRef>(json).unwrap(), tx);
    }

    #[test]
    fn errors_name_the_chain_and_the_reason() {
        let e = parse_tx(Chain::Eth, &ETH[2..]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid eth transaction hash: expected 0x followed by 64 hex digits"
        );
    }

    #[test]
    fn arbitrary_input_never_panics_and_accepted_hashes_are_fixed_points() {
        let alphabet: Vec<char> = "0123456789abcdefABCDEFxX xyzOIl1/:#?.é€\u{0}\t\u{200B}😀"
            .chars()
            .collect();
        let prefixes = [
            String::new(),
            "0x".into(),
            "https://".into(),
            "https://etherscan.io/tx/0x".into(),
            "tronscan.org/#/transaction/".into(),
            "https://solscan.io/tx/".into(),
            "mempool.space/tx/".into(),
            ETH[..60].into(),
            SOL[..84].into(),
        ];
        let mut seed = 9u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let mut accepted = 0;
        for _ in 0..6000 {
            let mut s = prefixes[next() % prefixes.len()].clone();
            let len = [0, 1, 4, 5, 8, 40, 300][next() % 7];
            for _ in 0..len {
                s.push(alphabet[next() % alphabet.len()]);
            }
            for chain in Chain::ALL {
                if let Ok(tx) = parse_tx(chain, &s) {
                    accepted += 1;
                    assert_eq!(parse_tx(chain, &tx.tx_hash), Ok(tx.clone()), "{s:?}");
                }
            }
        }
        assert!(
            accepted > 500,
            "the generator should produce valid hashes: {accepted}"
        );
    }

    #[test]
    fn addresses_are_checked_and_canonical() {
        let evm = "0xAbCdEf0123456789aBcDeF0123456789abcdef01";
        assert_eq!(
            parse_address(Chain::Eth, evm).unwrap(),
            evm.to_ascii_lowercase()
        );
        assert!(parse_address(Chain::Eth, "0x1234").is_err());
        assert_eq!(
            parse_address(Chain::Btc, "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ").unwrap(),
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
        );
        assert!(parse_address(Chain::Btc, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT").is_ok());
        assert!(parse_address(Chain::Btc, "0xabc").is_err());
        assert!(parse_address(Chain::Tron, "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7").is_ok());
        assert!(parse_address(Chain::Tron, "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU0").is_err());
        assert!(parse_address(Chain::Sol, "").is_err());
        assert!(parse_address(Chain::Other, "has space in it").is_err());
    }
}
