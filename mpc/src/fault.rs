//! Deviations from the protocol, for tests that show a malicious party is caught.
//!
//! A [`Fault`] makes one party alter one element of one of its outgoing messages of a given
//! [`Point`]. Every message a protocol sends names its point, so a test can reach each place a
//! cheating party could lie without a second copy of any protocol. A party only deviates when
//! a fault is set on it, which needs `cfg(test)` or the `fault-injection` feature
//! ([`crate::Party::inject`]).

use std::cell::Cell;

/// The kind of message a party sends: the places where it can lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Point {
    /// The share of an arithmetic product it reshares (multiplication, dot product).
    Product,
    /// The share of an AND it reshares (comparisons).
    And,
    /// The share it sends when it inputs a value.
    Input,
    /// The share it sends when a value is opened.
    Opening,
    /// The digest of the second copy it sends to check an opening.
    OpeningCheck,
    /// Its verdict on a check (agreement, or the pair it found differing).
    Verdict,
    /// Its output shares, sealed to the recipient.
    Seal,
    /// Its share of a round of a proof, or a verifier's closing report.
    Proof,
    /// A challenge it sends as a verifier.
    Challenge,
    /// Its noise draws for a private release (its own, or its copies of the two components it
    /// holds), before they are added to the aggregates.
    Noise,
}

impl Point {
    /// Every point.
    pub const ALL: [Point; 10] = [
        Point::Product,
        Point::And,
        Point::Input,
        Point::Opening,
        Point::OpeningCheck,
        Point::Verdict,
        Point::Seal,
        Point::Proof,
        Point::Challenge,
        Point::Noise,
    ];
}

/// One deviation: add `delta` (wrapping) to element `element` (modulo the message length) of
/// the `occurrence`-th message (from 0) this party sends at `point`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Where.
    pub point: Point,
    /// Which message at that point.
    pub occurrence: u64,
    /// Which element of it.
    pub element: u64,
    /// What is added; never 0 (that would be no deviation).
    pub delta: u64,
}

/// The environment variable a node built with the `fault-injection` feature reads for the
/// fault its parties make (tests with real node processes): `POINT:OCCURRENCE:ELEMENT:DELTA`,
/// e.g. `and:0:5:1`.
pub const FAULT_ENV: &str = "HDG_FAULT";

impl Point {
    /// The point's name in [`FAULT_ENV`].
    pub fn name(self) -> &'static str {
        match self {
            Point::Product => "product",
            Point::And => "and",
            Point::Input => "input",
            Point::Opening => "opening",
            Point::OpeningCheck => "opening-check",
            Point::Verdict => "verdict",
            Point::Seal => "seal",
            Point::Proof => "proof",
            Point::Challenge => "challenge",
            Point::Noise => "noise",
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `POINT:OCCURRENCE:ELEMENT:DELTA` (see [`FAULT_ENV`]).
    fn from_str(s: &str) -> Result<Fault, String> {
        let bad = || format!("{s:?}: expected POINT:OCCURRENCE:ELEMENT:DELTA with DELTA > 0");
        let parts: Vec<&str> = s.split(':').collect();
        let [point, occurrence, element, delta] = parts[..] else {
            return Err(bad());
        };
        let point = Point::ALL
            .into_iter()
            .find(|p| p.name() == point)
            .ok_or_else(bad)?;
        let number = |t: &str| t.parse::<u64>().map_err(|_| bad());
        let delta = number(delta)?;
        if delta == 0 {
            return Err(bad());
        }
        Ok(Fault {
            point,
            occurrence: number(occurrence)?,
            element: number(element)?,
            delta,
        })
    }
}

/// A fault armed on a party: counts the messages at its point until it fires once (it has
/// fired once it counted past its occurrence).
#[derive(Clone, Debug)]
pub(crate) struct Armed {
    fault: Fault,
    seen: Cell<u64>,
}

impl Armed {
    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn new(fault: Fault) -> Armed {
        assert_ne!(fault.delta, 0, "a fault must change the message");
        Armed {
            fault,
            seen: Cell::new(0),
        }
    }

    /// The message to send in place of `msg` at `point`: altered once, at the fault's
    /// occurrence; `None` to send `msg` itself.
    pub(crate) fn apply(&self, point: Point, msg: &[u64]) -> Option<Vec<u64>> {
        let this = self.seen.get();
        if point != self.fault.point || msg.is_empty() || this > self.fault.occurrence {
            return None;
        }
        self.seen.set(this + 1);
        if this < self.fault.occurrence {
            return None;
        }
        let mut out = msg.to_vec();
        let j = (self.fault.element % msg.len() as u64) as usize;
        out[j] = out[j].wrapping_add(self.fault.delta);
        Some(out)
    }

    /// Whether the deviation happened (the protocol reached the point often enough).
    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn fired(&self) -> bool {
        self.seen.get() > self.fault.occurrence
    }
}
