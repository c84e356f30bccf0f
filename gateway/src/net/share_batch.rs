//! A share batch on the wire: one binary layout, the only encoding of
//! [`super::rpc::Request::ShareBatch`].
//!
//! Share batches are the bulk of what nodes send each other (one row per shared observation per
//! peer). As JSON with hex handles, encoding and parsing them cost about as much CPU as storing
//! them, so they travel on a stream tag of their own ([`SHARE_TAG`]) in this layout:
//!
//! ```text
//! batch = version (1) | from_node (u16 LE) | row count (u32 LE) | row * count
//! row   = handle (32) | patient (32) | day (i64 LE) | party (1)
//!       | x_party (u64 LE) | x_party+1 (u64 LE) | indicator length (1) | indicator (UTF-8)
//! ```
//!
//! A row carries what [`WireShare`] holds and nothing else: the record's opaque handle, the
//! patient's pseudonym, the UTC day, the indicator code and the pair. Decoding is exact: a
//! wrong version, a count the body cannot hold, a truncated row, an indicator that is empty,
//! longer than [`MAX_INDICATOR`] or not UTF-8, and trailing bytes are each refused by name, so
//! `encode(decode(b)) == b` for every accepted `b`. Buffers holding shares are wiped on drop.

use hdg_schema::{Pseudonym, RecordHandle};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// First byte of a share-batch stream (a JSON request's is [`super::rpc::RPC_TAG`]).
pub const SHARE_TAG: u8 = b'S';
/// The layout's version byte (2: the sender is named by its node id, not its party index).
const VERSION: u8 = 2;
/// Longest indicator code a row may carry (what a store accepts).
pub const MAX_INDICATOR: usize = 64;
/// Bytes before the rows.
const HEADER: usize = 1 + 2 + 4;
/// Bytes of a row before its indicator code.
const ROW_FIXED: usize = 32 + 32 + 8 + 1 + 8 + 8 + 1;

/// One share row on the wire: the metadata a party stores in the clear and its secret pair.
/// Nothing in it is a function of the value: the record is named by its opaque handle, the
/// effective time only by its UTC day. The pair is wiped on drop and never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct WireShare {
    /// The shared record's handle (a keyed hash of its id under a secret of its home node).
    #[zeroize(skip)]
    pub handle: RecordHandle,
    /// Its indicator code.
    #[zeroize(skip)]
    pub indicator: String,
    /// The UTC day of its effective time, ms since the epoch (a multiple of a day).
    #[zeroize(skip)]
    pub day: i64,
    /// Its patient pseudonym.
    #[zeroize(skip)]
    pub patient: Pseudonym,
    /// The party this row is for.
    pub party: u8,
    /// (x_party, x_{party+1 mod 3}).
    pub pair: (u64, u64),
}

impl std::fmt::Debug for WireShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireShare")
            .field("handle", &self.handle)
            .field("indicator", &self.indicator)
            .field("party", &self.party)
            .field("pair", &"<secret>")
            .finish()
    }
}

/// Why bytes are not a share batch (names the place, never a share).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ShareBatchError {
    /// The body is shorter than the header.
    #[error("{0} bytes cannot hold the header of a share batch")]
    NoHeader(usize),
    /// Another layout version.
    #[error("share batch version {0} (this node reads version 1)")]
    Version(u8),
    /// The row count announces more rows than the body can hold.
    #[error("{count} rows announced but {bytes} bytes cannot hold them")]
    Count {
        /// Rows announced.
        count: u32,
        /// Bytes after the header.
        bytes: usize,
    },
    /// A row stops before its end.
    #[error("row {0} is truncated")]
    Truncated(usize),
    /// A row's indicator code is empty, too long or not UTF-8.
    #[error("row {0} has an indicator code that is empty, longer than 64 bytes or not UTF-8")]
    Indicator(usize),
    /// Bytes follow the last row.
    #[error("{0} bytes follow the last row")]
    Trailing(usize),
}

/// Encodes a batch of `rows` from node `from_node`; `None` when a row's indicator code is
/// empty or longer than [`MAX_INDICATOR`] (no store would accept it) or there are more than
/// `u32::MAX` rows.
pub fn encode(from_node: u16, rows: &[WireShare]) -> Option<Zeroizing<Vec<u8>>> {
    let count = u32::try_from(rows.len()).ok()?;
    let size = HEADER
        + rows
            .iter()
            .map(|r| ROW_FIXED + r.indicator.len())
            .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.push(VERSION);
    out.extend_from_slice(&from_node.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for r in rows {
        let code = r.indicator.as_bytes();
        if code.is_empty() || code.len() > MAX_INDICATOR {
            return None;
        }
        out.extend_from_slice(&r.handle.0);
        out.extend_from_slice(&r.patient.0);
        out.extend_from_slice(&r.day.to_le_bytes());
        out.push(r.party);
        out.extend_from_slice(&r.pair.0.to_le_bytes());
        out.extend_from_slice(&r.pair.1.to_le_bytes());
        out.push(code.len() as u8);
        out.extend_from_slice(code);
    }
    Some(out)
}

/// Decodes a batch: the sender's node id as it claims it, and the rows.
pub fn decode(bytes: &[u8]) -> Result<(u16, Vec<WireShare>), ShareBatchError> {
    if bytes.len() < HEADER {
        return Err(ShareBatchError::NoHeader(bytes.len()));
    }
    if bytes[0] != VERSION {
        return Err(ShareBatchError::Version(bytes[0]));
    }
    let from_node = u16::from_le_bytes([bytes[1], bytes[2]]);
    let count = u32::from_le_bytes(bytes[3..HEADER].try_into().expect("4 bytes"));
    let mut rest = &bytes[HEADER..];
    // Every row takes at least ROW_FIXED + 1 bytes: a count beyond that is refused before
    // anything is allocated for it.
    if count as usize > rest.len() / (ROW_FIXED + 1) {
        return Err(ShareBatchError::Count {
            count,
            bytes: rest.len(),
        });
    }
    let mut rows = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let (row, after) = decode_row(rest, i)?;
        rows.push(row);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(ShareBatchError::Trailing(rest.len()));
    }
    Ok((from_node, rows))
}

/// Row `i` at the start of `b`, and the bytes after it.
fn decode_row(b: &[u8], i: usize) -> Result<(WireShare, &[u8]), ShareBatchError> {
    if b.len() < ROW_FIXED {
        return Err(ShareBatchError::Truncated(i));
    }
    let (fixed, rest) = b.split_at(ROW_FIXED);
    let word = |at: usize| u64::from_le_bytes(fixed[at..at + 8].try_into().expect("8 bytes"));
    let len = usize::from(fixed[ROW_FIXED - 1]);
    if len == 0 || len > MAX_INDICATOR {
        return Err(ShareBatchError::Indicator(i));
    }
    if rest.len() < len {
        return Err(ShareBatchError::Truncated(i));
    }
    let (code, after) = rest.split_at(len);
    let indicator = std::str::from_utf8(code).map_err(|_| ShareBatchError::Indicator(i))?;
    let row = WireShare {
        handle: RecordHandle(fixed[..32].try_into().expect("32 bytes")),
        patient: Pseudonym(fixed[32..64].try_into().expect("32 bytes")),
        day: word(64) as i64,
        party: fixed[72],
        pair: (word(73), word(81)),
        indicator: indicator.to_string(),
    };
    Ok((row, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(i: u8, indicator: &str) -> WireShare {
        WireShare {
            handle: RecordHandle([i; 32]),
            indicator: indicator.to_string(),
            day: -86_400_000 * i64::from(i),
            patient: Pseudonym([i ^ 0xFF; 32]),
            party: i % 3,
            pair: (u64::MAX - u64::from(i), u64::from(i) << 40),
        }
    }

    proptest! {
        #[test]
        fn batches_round_trip_and_their_encoding_is_the_only_one(
            from in any::<u16>(),
            rows in prop::collection::vec(
                (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<i64>(), any::<u8>(), any::<(u64, u64)>(), "[0-9A-Za-z.-]{1,64}"),
                0..20,
            ),
        ) {
            let rows: Vec<WireShare> = rows
                .into_iter()
                .map(|(h, p, day, party, pair, indicator)| WireShare {
                    handle: RecordHandle(h),
                    indicator,
                    day,
                    patient: Pseudonym(p),
                    party,
                    pair,
                })
                .collect();
            let bytes = encode(from, &rows).unwrap();
            let (got_from, got) = decode(&bytes).unwrap();
            prop_assert_eq!(got_from, from);
            prop_assert_eq!(&got, &rows);
            prop_assert_eq!(&encode(got_from, &got).unwrap(), &bytes);
            // Every proper prefix and every extension is refused.
            for cut in 0..bytes.len() {
                prop_assert!(decode(&bytes[..cut]).is_err(), "prefix of {} bytes", cut);
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            prop_assert_eq!(decode(&longer).unwrap_err(), ShareBatchError::Trailing(1));
        }
    }

    #[test]
    fn the_layout_is_fixed() {
        let bytes = encode(0x0102, &[row(1, "8867-4")]).unwrap();
        assert_eq!(bytes.len(), HEADER + ROW_FIXED + 6);
        assert_eq!(&bytes[..HEADER], &[2, 2, 1, 1, 0, 0, 0]);
        let r = &bytes[HEADER..];
        assert_eq!(&r[..32], &[1; 32]);
        assert_eq!(&r[32..64], &[0xFE; 32]);
        assert_eq!(&r[64..72], &(-86_400_000i64).to_le_bytes());
        assert_eq!(r[72], 1);
        assert_eq!(&r[73..81], &(u64::MAX - 1).to_le_bytes());
        assert_eq!(&r[81..89], &(1u64 << 40).to_le_bytes());
        assert_eq!(r[89], 6);
        assert_eq!(&r[90..], b"8867-4");
    }

    #[test]
    fn bad_batches_are_refused_by_name() {
        let good = encode(0, &[row(1, "8867-4"), row(2, "8480-6")]).unwrap();
        assert_eq!(decode(&good[..3]), Err(ShareBatchError::NoHeader(3)));
        // Version 1 (a party index byte for the sender) is no longer read.
        let mut v = good.to_vec();
        v[0] = 1;
        assert_eq!(decode(&v), Err(ShareBatchError::Version(1)));
        // A count far beyond the body: refused before allocating for it.
        let mut v = good.to_vec();
        v[3..7].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&v),
            Err(ShareBatchError::Count {
                count: u32::MAX,
                ..
            })
        ));
        // One row fewer announced than sent: the second row is trailing.
        let mut v = good.to_vec();
        v[3] = 1;
        assert_eq!(decode(&v), Err(ShareBatchError::Trailing(ROW_FIXED + 6)));
        // An indicator length of zero, of 65, and bytes that are not UTF-8.
        let at = HEADER + ROW_FIXED - 1;
        for (len, code) in [(0u8, None), (65, None), (2, Some([0xFF, 0xFE]))] {
            let mut v = good.to_vec();
            v[at] = len;
            if let Some(code) = code {
                v.splice(at + 1..at + 7, code);
            }
            assert_eq!(decode(&v), Err(ShareBatchError::Indicator(0)), "{len}");
        }
        // A row cut inside its indicator.
        assert_eq!(
            decode(&good[..good.len() - 1]),
            Err(ShareBatchError::Truncated(1))
        );
        // Codes no store accepts are not encoded.
        assert!(encode(0, &[row(1, "")]).is_none());
        assert!(encode(0, &[row(1, &"9".repeat(65))]).is_none());
    }

    #[test]
    fn a_row_prints_without_its_pair() {
        let printed = format!("{:?}", row(1, "8867-4"));
        assert!(printed.contains("<secret>"), "{printed}");
        assert!(!printed.contains(&(u64::MAX - 1).to_string()), "{printed}");
    }
}
