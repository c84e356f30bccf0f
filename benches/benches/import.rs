//! FHIR import: Synthea-like patient bundles parsed from memory (`import_bytes`, what a node
//! does with a request body) beside the same bytes through a reader (`import`, what a file
//! streamed from disk goes through), and the same bundles as NDJSON lines. Throughput is bytes
//! of JSON; the ratio of the two FHIR JSON figures is the one to watch.

use std::io::Cursor;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdg_schema::{Catalog, Format, ImportOptions, Mode, import, import_bytes, synth};

fn bench(c: &mut Criterion) {
    let bundles: Vec<String> = (0..20).map(|i| synth::patient_bundle(11, i)).collect();
    let ndjson = bundles.join("\n") + "\n";
    let opts = ImportOptions {
        mode: Mode::Strict,
        pseudonym_key: [1; 32],
        catalog: Catalog::active(),
        enrolled: None,
    };
    let mut g = c.benchmark_group("import");
    g.throughput(Throughput::Bytes(ndjson.len() as u64));
    let mut count = 0u64;
    g.bench_function("FHIR JSON bodies in memory (import_bytes)", |b| {
        b.iter(|| {
            for doc in &bundles {
                let r = import_bytes(doc.as_bytes(), Format::FhirJson, "b", &opts, &mut |_| {});
                count += r.unwrap().numeric_total();
            }
        })
    });
    g.bench_function("baseline: the same through a reader (import)", |b| {
        b.iter(|| {
            for doc in &bundles {
                let r = import(Cursor::new(doc), Format::FhirJson, "b", &opts, &mut |_| {});
                count += r.unwrap().numeric_total();
            }
        })
    });
    g.bench_function("NDJSON, one bundle a line", |b| {
        b.iter(|| {
            let r = import_bytes(ndjson.as_bytes(), Format::Ndjson, "n", &opts, &mut |_| {});
            count += r.unwrap().numeric_total();
        })
    });
    g.finish();
    assert!(count > 0);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
