//! Build-context packing throughput, natively: a 10 MiB context (half source-like text, half
//! incompressible bytes, in 10 files) packed from memory again and again: read, checksum,
//! tar, gzip (level 6). MB/s counts the content bytes (1 MB = 10^6 bytes).
//! Run: cargo run --release --example bench_context [-- SECONDS]
//! (or --profile release-native: the release profile is tuned for the wasm's size, opt-level z)

use std::time::{Duration, Instant};

use kaptain::context::{self, ContextSpec, Limits, MemorySource};

const FILE_BYTES: usize = 1024 * 1024;

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let (spec, source) = context_of_10_mib();

    let mut packed_bytes = 0u64;
    let mut archive_bytes = 0usize;
    let mut runs = 0u32;
    let start = Instant::now();
    while runs == 0 || start.elapsed() < Duration::from_secs_f64(seconds) {
        let packed = context::pack_spec(&spec, &source, Limits::default()).expect("the bench context packs");
        packed_bytes += packed.content_bytes();
        archive_bytes = packed.archive.len();
        runs += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();

    // The checksum alone (SHA-256 over the same content).
    let files: std::collections::BTreeMap<String, Vec<u8>> =
        spec.extra_files.iter().map(|p| (p.clone(), source_bytes(&source, p))).collect();
    let hash_start = Instant::now();
    let mut hashed = 0u64;
    let mut hash_runs = 0;
    while hash_runs == 0 || hash_start.elapsed() < Duration::from_secs_f64(seconds / 2.0) {
        std::hint::black_box(context::checksum(&files, "FROM x\n"));
        hashed += files.values().map(|v| v.len() as u64).sum::<u64>();
        hash_runs += 1;
    }
    let hash_elapsed = hash_start.elapsed().as_secs_f64();

    println!(
        "native context packing: {:.1} MB/s ({runs} packs of {:.2} MB in {elapsed:.2} s: read + checksum + tar + gzip level 6 -> {archive_bytes} bytes, one thread); checksum alone: {:.1} MB/s",
        packed_bytes as f64 / 1e6 / elapsed,
        packed_bytes as f64 / 1e6 / runs as f64,
        hashed as f64 / 1e6 / hash_elapsed,
    );
}

fn source_bytes(source: &MemorySource, path: &str) -> Vec<u8> {
    use kaptain::context::FileSource;
    source.read(path, u64::MAX).expect("bench file")
}

/// trainer.py plus data/text-N.py (source-like text) and data/blob-N.bin (xorshift bytes).
fn context_of_10_mib() -> (ContextSpec, MemorySource) {
    let mut source = MemorySource::new("the bench's memory").with("trainer.py", "import data\nprint('training')\n");
    let mut extra = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..5 {
        let mut text = String::with_capacity(FILE_BYTES);
        let mut line = 0u64;
        while text.len() < FILE_BYTES {
            text.push_str(&format!("def step_{i}_{line}(x, scale={}):\n    return x * scale + {}\n\n", line % 97, line * 31 % 1013));
            line += 1;
        }
        text.truncate(FILE_BYTES);
        let path = format!("data/text-{i}.py");
        source.insert(&path, text);
        extra.push(path);

        let mut blob = Vec::with_capacity(FILE_BYTES);
        while blob.len() < FILE_BYTES {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            blob.extend_from_slice(&state.to_le_bytes());
        }
        let path = format!("data/blob-{i}.bin");
        source.insert(&path, blob);
        extra.push(path);
    }
    let spec = ContextSpec { base_image: "python:3.11-slim".into(), main_file: "trainer.py".into(), extra_files: extra, requirements: None };
    (spec, source)
}
