//! Length-prefixed frames of ring elements on a QUIC stream.
//!
//! A frame is a `u32` little-endian header followed by L bytes: L/8 `u64` words, each
//! little-endian. The header's low 31 bits are L, which must be a multiple of 8 and at most the
//! reader's cap; its top bit ([`MORE`]) says that the next frame continues the same message.
//! A message of any length is sent as frames of at most [`CHUNK_WORDS`] words ([`chunks`]), so
//! no frame grows with the vector and the writer starts on the first chunk while the rest is
//! encoded; the receiving channel joins a message's frames (bounded by its own message cap).
//! A reader checks the header before allocating anything, so a hostile length costs nothing.
//! Frames are built in one buffer (header and payload together) and read chunk by chunk from
//! QUIC straight into the word vector.

use bytes::Bytes;
use thiserror::Error;

/// Bytes of the length header.
pub const HEADER_BYTES: usize = 4;
/// Default cap on a frame's payload: 64 MiB (8 Mi ring elements).
pub const DEFAULT_FRAME_CAP: usize = 64 << 20;
/// The header bit that says the next frame continues this frame's message.
pub const MORE: u32 = 1 << 31;
/// Words per frame a sender cuts a message into: 4 MiB.
pub const CHUNK_WORDS: usize = 512 << 10;

/// One frame as read: its words, and whether the next frame continues the same message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The payload.
    pub words: Vec<u64>,
    /// The [`MORE`] bit.
    pub more: bool,
}

/// Why a frame could not be written or read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The frame's payload is larger than the cap.
    #[error("frame of {size} bytes exceeds the cap of {cap} bytes")]
    TooLarge {
        /// Payload bytes claimed or requested.
        size: u64,
        /// The cap in force.
        cap: usize,
    },
    /// The frame's payload is not a whole number of 8-byte words.
    #[error("frame of {size} bytes is not a whole number of 8-byte words (cap {cap} bytes)")]
    Misaligned {
        /// Payload bytes claimed.
        size: u64,
        /// The cap in force.
        cap: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame ({got} of {size} bytes)")]
    Truncated {
        /// Bytes the frame should have had (header included).
        size: u64,
        /// Bytes that arrived.
        got: u64,
    },
    /// The QUIC stream failed.
    #[error("stream failed: {0}")]
    Stream(String),
}

/// A message cut into the pieces its frames carry, each with its [`MORE`] bit: pieces of
/// `chunk` words (the last one shorter), one empty piece for an empty message.
pub fn chunks(words: &[u64], chunk: usize) -> impl Iterator<Item = (&[u64], bool)> {
    let count = words.len().div_ceil(chunk).max(1);
    (0..count).map(move |i| {
        let end = ((i + 1) * chunk).min(words.len());
        (&words[(i * chunk).min(end)..end], i + 1 < count)
    })
}

/// The frame of `words` (header and payload in one buffer), with the [`MORE`] bit when
/// `more`, refused when over `cap`.
pub fn encode(words: &[u64], more: bool, cap: usize) -> Result<Bytes, FrameError> {
    let size = words.len() as u64 * 8;
    if size > cap as u64 || size >= u64::from(MORE) {
        return Err(FrameError::TooLarge { size, cap });
    }
    let header = size as u32 | if more { MORE } else { 0 };
    let mut buf = Vec::with_capacity(HEADER_BYTES + 8 * words.len());
    buf.extend_from_slice(&header.to_le_bytes());
    for w in words {
        buf.extend_from_slice(&w.to_le_bytes());
    }
    Ok(Bytes::from(buf))
}

/// The number of words a frame header announces and its [`MORE`] bit, after checking the
/// length against `cap`.
pub fn check_header(header: [u8; HEADER_BYTES], cap: usize) -> Result<(usize, bool), FrameError> {
    let header = u32::from_le_bytes(header);
    let size = u64::from(header & !MORE);
    if size > cap as u64 {
        Err(FrameError::TooLarge { size, cap })
    } else if size % 8 != 0 {
        Err(FrameError::Misaligned { size, cap })
    } else {
        Ok(((size / 8) as usize, header & MORE != 0))
    }
}

/// Words reserved before any payload arrived (64 KiB).
const INITIAL_WORDS: usize = 8 << 10;

/// Builds a word vector from byte chunks that may split words anywhere.
pub struct WordAssembler {
    words: Vec<u64>,
    partial: [u8; 8],
    partial_len: usize,
}

impl WordAssembler {
    /// An assembler for a frame of `len` words (already checked against the cap). Memory grows
    /// with the bytes that actually arrive, never with what the header announced: a peer that
    /// announces a full frame and sends little costs little.
    pub fn new(len: usize) -> WordAssembler {
        WordAssembler {
            words: Vec::with_capacity(len.min(INITIAL_WORDS)),
            partial: [0; 8],
            partial_len: 0,
        }
    }

    /// Appends the next bytes of the payload.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.partial_len > 0 {
            let take = (8 - self.partial_len).min(bytes.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&bytes[..take]);
            self.partial_len += take;
            bytes = &bytes[take..];
            if self.partial_len < 8 {
                return;
            }
            self.words.push(u64::from_le_bytes(self.partial));
            self.partial_len = 0;
        }
        let whole = bytes.len() / 8 * 8;
        self.words.extend(
            bytes[..whole]
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk"))),
        );
        let rest = &bytes[whole..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
    }

    /// The words, once every byte has been pushed.
    pub fn finish(self) -> Vec<u64> {
        debug_assert_eq!(self.partial_len, 0, "payload is a whole number of words");
        self.words
    }
}

/// Writes one frame (from [`encode`]) to `stream`.
pub async fn write_frame(stream: &mut quinn::SendStream, frame: Bytes) -> Result<(), FrameError> {
    stream
        .write_chunk(frame)
        .await
        .map_err(|e| FrameError::Stream(e.to_string()))
}

/// Reads the next frame from `stream`; `None` when the stream ended cleanly between frames.
pub async fn read_frame(
    stream: &mut quinn::RecvStream,
    cap: usize,
) -> Result<Option<Frame>, FrameError> {
    let mut header = [0u8; HEADER_BYTES];
    match stream.read_exact(&mut header).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(got)) => {
            return Err(FrameError::Truncated {
                size: HEADER_BYTES as u64,
                got: got as u64,
            });
        }
        Err(quinn::ReadExactError::ReadError(e)) => return Err(FrameError::Stream(e.to_string())),
    }
    let (len, more) = check_header(header, cap)?;
    let size = 8 * len;
    let mut words = WordAssembler::new(len);
    let mut got = 0;
    while got < size {
        let chunk = stream
            .read_chunk(size - got, true)
            .await
            .map_err(|e| FrameError::Stream(e.to_string()))?
            .ok_or(FrameError::Truncated {
                size: (HEADER_BYTES + size) as u64,
                got: (HEADER_BYTES + got) as u64,
            })?;
        got += chunk.bytes.len();
        words.push(&chunk.bytes);
    }
    Ok(Some(Frame {
        words: words.finish(),
        more,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_announced_frame_reserves_little_before_its_bytes_arrive() {
        let huge = WordAssembler::new(DEFAULT_FRAME_CAP / 8);
        assert!(huge.words.capacity() <= INITIAL_WORDS);
        let mut small = WordAssembler::new(3);
        small.push(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
        small.push(&[0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(small.finish(), vec![1, 2, 3]);
    }

    #[test]
    fn the_header_is_checked_against_the_cap_before_anything_else() {
        assert_eq!(check_header(16u32.to_le_bytes(), 16), Ok((2, false)));
        assert_eq!(check_header((16 | MORE).to_le_bytes(), 16), Ok((2, true)));
        assert_eq!(check_header(0u32.to_le_bytes(), 0), Ok((0, false)));
        let err = check_header(u32::MAX.to_le_bytes(), 1024).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                size: u64::from(u32::MAX >> 1),
                cap: 1024
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("2147483647") && text.contains("1024"),
            "{text}"
        );
        assert_eq!(
            check_header(12u32.to_le_bytes(), 1024),
            Err(FrameError::Misaligned {
                size: 12,
                cap: 1024
            })
        );
    }

    #[test]
    fn encoding_refuses_vectors_over_the_cap() {
        assert_eq!(
            encode(&[1, 2, 3], false, 16),
            Err(FrameError::TooLarge { size: 24, cap: 16 })
        );
        let frame = encode(&[1, 2], false, 16).unwrap();
        assert_eq!(&frame[..4], &16u32.to_le_bytes());
        assert_eq!(&frame[4..12], &1u64.to_le_bytes());
        let continued = encode(&[1, 2], true, 16).unwrap();
        assert_eq!(&continued[..4], &(16 | MORE).to_le_bytes());
    }

    #[test]
    fn a_message_is_cut_into_chunks_that_join_back() {
        for (len, chunk) in [(0usize, 4usize), (1, 4), (4, 4), (5, 4), (12, 4), (13, 5)] {
            let words: Vec<u64> = (0..len as u64).collect();
            let pieces: Vec<_> = chunks(&words, chunk).collect();
            assert_eq!(pieces.len(), len.div_ceil(chunk).max(1), "{len} {chunk}");
            assert!(pieces.iter().all(|(p, _)| p.len() <= chunk));
            // Every piece but the last says more follows.
            let flags: Vec<bool> = pieces.iter().map(|(_, more)| *more).collect();
            assert!(!flags[flags.len() - 1]);
            assert!(flags[..flags.len() - 1].iter().all(|m| *m));
            let joined: Vec<u64> = pieces.iter().flat_map(|(p, _)| p.iter().copied()).collect();
            assert_eq!(joined, words);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn frames_round_trip_whatever_the_chunking(
            words in proptest::collection::vec(any::<u64>(), 0..200),
            cuts in proptest::collection::vec(0usize..1700, 0..12),
        ) {
            let frame = encode(&words, false, DEFAULT_FRAME_CAP).unwrap();
            let (len, more) =
                check_header(frame[..4].try_into().unwrap(), DEFAULT_FRAME_CAP).unwrap();
            prop_assert_eq!(len, words.len());
            prop_assert!(!more);
            let payload = &frame[4..];
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(payload.len())).collect();
            cuts.push(0);
            cuts.push(payload.len());
            cuts.sort_unstable();
            let mut asm = WordAssembler::new(len);
            for pair in cuts.windows(2) {
                asm.push(&payload[pair[0]..pair[1]]);
            }
            prop_assert_eq!(asm.finish(), words);
        }
    }
}
