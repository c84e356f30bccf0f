//! Reading import files: format detection and streaming them through the schema importer.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use hdg_schema::{Format, ImportOptions, ImportReport, Observation, import};

/// Streams one file through the importer, calling `sink` for each accepted observation.
pub fn import_file(
    path: &Path,
    opts: &ImportOptions,
    sink: &mut dyn FnMut(Observation),
) -> anyhow::Result<ImportReport> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let head = reader
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let format = Format::detect(&name, head).with_context(|| {
        format!("{name}: cannot tell the format (expected FHIR JSON, NDJSON or CSV by extension or content)")
    })?;
    import(reader, format, &name, opts, sink).with_context(|| format!("{name}: cannot import"))
}

/// Prints a report as the CLI's table: accepted per indicator, non-numeric, rejections.
pub fn print_report_table(report: &ImportReport) {
    let catalog = hdg_schema::Catalog::active();
    println!("{:<10} {:<52} {:>10}", "indicator", "name", "accepted");
    for (code, n) in &report.accepted_by_indicator {
        let name = catalog.get(code).map_or("", |i| i.display.as_str());
        println!("{code:<10} {name:<52} {n:>10}");
    }
    let total: u64 = report.accepted_by_indicator.values().sum();
    println!(
        "{:<10} {:<52} {:>10}",
        "", "numeric observations accepted", total
    );
    println!(
        "{:<10} {:<52} {:>10}",
        "", "non-numeric observations kept", report.non_numeric
    );
    println!(
        "{:<10} {:<52} {:>10}",
        "",
        "entries rejected",
        report.rejected.len()
    );
    for r in &report.rejected {
        println!(
            "rejected: {} entry {} field {}: {}",
            r.file, r.entry, r.field, r.reason
        );
    }
}
