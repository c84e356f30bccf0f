//! A ~200 MiB Bundle, far larger than the memory the import may use is streamed: generated on the fly by a
//! reader (never materialised), imported, and the process's peak resident memory checked.
//! This file holds a single test so the process's peak memory is this test's alone.

mod common;

use std::io::{BufReader, Read};

use hdg_schema::{Catalog, Format, ImportOptions, Mode, import};

/// Yields `{"resourceType":"Bundle","type":"collection","entry":[patient, obs, obs, ...]}`.
struct BundleGenerator {
    entries: u64,
    next: u64,
    pending: Vec<u8>,
    pos: usize,
    done: bool,
    produced: u64,
}

impl BundleGenerator {
    fn new(entries: u64) -> Self {
        let head = br#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"p"}}"#;
        BundleGenerator {
            entries,
            next: 0,
            pending: head.to_vec(),
            pos: 0,
            done: false,
            produced: 0,
        }
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.pos = 0;
        if self.next == self.entries {
            if !self.done {
                self.pending.extend_from_slice(b"]}");
                self.done = true;
            }
            return;
        }
        let i = self.next;
        self.next += 1;
        let value = 40 + (i % 100);
        let entry = format!(
            r#",{{"fullUrl":"urn:uuid:o{i}","resource":{{"resourceType":"Observation","id":"o{i}","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}}]}},"subject":{{"reference":"urn:uuid:p"}},"effectiveDateTime":"2020-01-01T00:00:{:02}Z","valueQuantity":{{"value":{value}.{},"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}}},"request":{{"method":"POST","url":"Observation"}}}}"#,
            i % 60,
            i % 10
        );
        self.pending.extend_from_slice(entry.as_bytes());
    }
}

impl Read for BundleGenerator {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.pending.len() {
            self.refill();
        }
        let n = out.len().min(self.pending.len() - self.pos);
        out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        self.produced += n as u64;
        Ok(n)
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_large_bundle_is_streamed_in_bounded_memory() {
    const ENTRIES: u64 = 400_000;
    let mut generator = BundleGenerator::new(ENTRIES);
    let opts = ImportOptions {
        mode: Mode::Strict,
        pseudonym_key: common::KEY,
        catalog: Catalog::builtin(),
        enrolled: None,
    };
    let mut count = 0u64;
    let mut sum = 0i64;
    let report = import(
        BufReader::new(&mut generator),
        Format::FhirJson,
        "big.json",
        &opts,
        &mut |o| {
            count += 1;
            if let hdg_schema::Value::Quantity(q) = o.value {
                sum += q;
            }
        },
    )
    .unwrap();
    assert!(report.is_clean());
    assert_eq!(count, ENTRIES);
    assert_eq!(report.accepted_by_indicator.get("8867-4"), Some(&ENTRIES));
    let expected_sum: i64 = (0..ENTRIES as i64)
        .map(|i| (40 + i % 100) * 10 + i % 10)
        .sum();
    assert_eq!(sum, expected_sum);
    let size_mib = generator.produced / (1 << 20);
    assert!(size_mib >= 190, "input was only {size_mib} MiB");
    if let Some(peak) = peak_rss_kib() {
        let peak_mib = peak / 1024;
        eprintln!("streamed {size_mib} MiB with peak RSS {peak_mib} MiB");
        assert!(
            peak_mib < 64,
            "peak RSS {peak_mib} MiB for a {size_mib} MiB input"
        );
    }
}
