//! Build-context upload to a real S3 server, natively, as `kaptain apply --dir` does it: pack
//! the notebook's directory (`DirSource`), then PUT the tar.gz, signed with our SigV4
//! (`Bucket::put_object`), through `NativeTransport::send_s3`. Two contexts of 10 MiB of data
//! each (plus trainer.py and the generated Dockerfile): pseudo-random bytes (xorshift, fixed
//! seed: the archive is as large as the content) and repeated Python-like text (it compresses).
//!
//! Timed, per round (ROUNDS, default 5, after one warm-up round reported on its own):
//!   pack:   `context::pack_spec` over a directory on disk: read + checksum + tar + gzip level 6;
//!   upload: what engine::build::upload does for one PUT: sign (SHA-256 of the body, HMAC),
//!           copy the archive into the body, send_s3 (it builds a new hyper client and loads
//!           the native TLS roots on every call, opens a new TCP connection), read the answer;
//!   HEAD:   one signed HEAD through send_s3 (the fixed cost of a request with no body).
//! The bucket is created once before the rounds (not timed); every round overwrites the same
//! key (the checksum names it, as in the CLI). MB/s: 1 MB = 10^6 bytes.
//!
//! Checks after the rounds: HEAD answers 200; a signed GET (through send_s3) gives back the
//! archive byte for byte; the ETag (read with a plain hyper HEAD: send_s3's Response keeps no
//! headers) is the MD5 of the archive (MD5 computed below, no new dependency).
//!
//! Env: KAPTAIN_S3_ENDPOINT, KAPTAIN_S3_REGION (default us-east-1), KAPTAIN_S3_ACCESS_KEY_ID,
//! KAPTAIN_S3_SECRET_ACCESS_KEY (never printed), ROUNDS. scripts/bench-upload starts a server
//! and sets them. Run: cargo run --profile release-native --example bench_upload

use std::path::{Path, PathBuf};
use std::time::Instant;

use kaptain::context::{self, ContextSpec, DirSource, Limits};
use kaptain::kube::Transport;
use kaptain::native::{NativeTransport, Target};
use kaptain::s3::{self, Bucket, Credentials};

const DATA_BYTES: usize = 10 * 1024 * 1024;
const BUCKET: &str = "kaptain-bench";
const PREFIX: &str = "contexts";

fn main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set (scripts/bench-upload sets it)")));
    let endpoint = env("KAPTAIN_S3_ENDPOINT");
    let region = std::env::var("KAPTAIN_S3_REGION").unwrap_or_else(|_| "us-east-1".into());
    let credentials = Credentials::new(env("KAPTAIN_S3_ACCESS_KEY_ID"), env("KAPTAIN_S3_SECRET_ACCESS_KEY"));
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).filter(|&r| r > 0).unwrap_or(5);
    md5_self_test();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        // No public way to a NativeTransport without a cluster target: kube's client connects
        // lazily and send_s3 never uses it, so an unreachable server will do.
        let (transport, _) = NativeTransport::connect(Target::Server("http://127.0.0.1:1")).await.unwrap_or_else(|e| fail(&e));
        let bucket = Bucket { endpoint: endpoint.clone(), name: BUCKET.into(), region: region.clone() };

        let (request, body) = bucket.create_bucket(&credentials, now()).unwrap_or_else(|e| fail(&e.to_string()));
        let created = transport.send_s3(request, body).await.unwrap_or_else(|e| fail(&e.to_string()));
        if !(200..300).contains(&created.status) && created.status != 409 {
            fail(&format!("create bucket {BUCKET}: S3 answered {} {}", created.status, String::from_utf8_lossy(&created.body)));
        }

        println!("S3 endpoint {endpoint} (region {region}), bucket {BUCKET}; {rounds} timed rounds after 1 warm-up round; medians");
        for case in [Case::Random, Case::Text] {
            run(case, rounds, &transport, &bucket, &credentials).await;
        }
    });
}

#[derive(Clone, Copy)]
enum Case {
    Random,
    Text,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Random => "random (incompressible)",
            Case::Text => "Python-like text",
        }
    }
}

async fn run(case: Case, rounds: usize, transport: &NativeTransport, bucket: &Bucket, credentials: &Credentials) {
    let dir = TempDir::new(case);
    let spec = write_context(case, &dir.0);
    let source = DirSource::new(&dir.0);

    let mut pack_times = Vec::new();
    let mut packed = None;
    for _ in 0..=rounds {
        let start = Instant::now();
        let context = context::pack_spec(&spec, &source, Limits::default()).unwrap_or_else(|e| fail(&e.to_string()));
        pack_times.push(start.elapsed().as_secs_f64());
        packed = Some(context);
    }
    let context = packed.expect("at least one round");
    let key = context.object_key(PREFIX);
    let archive_bytes = context.archive.len();

    let mut upload_times = Vec::new();
    let mut sign_times = Vec::new();
    let mut head_times = Vec::new();
    for _ in 0..=rounds {
        let start = Instant::now();
        let request = bucket.put_object(&key, &context.archive, "application/gzip", credentials, now()).unwrap_or_else(|e| fail(&e.to_string()));
        let signed = start.elapsed().as_secs_f64();
        let response = transport.send_s3(request, context.archive.clone()).await.unwrap_or_else(|e| fail(&e.to_string()));
        let elapsed = start.elapsed().as_secs_f64();
        if !(200..300).contains(&response.status) {
            fail(&format!("PUT {key}: S3 answered {} {}", response.status, String::from_utf8_lossy(&response.body)));
        }
        upload_times.push(elapsed);
        sign_times.push(signed);

        let start = Instant::now();
        let request = bucket.head_object(&key, credentials, now()).unwrap_or_else(|e| fail(&e.to_string()));
        let head = transport.send_s3(request, Vec::new()).await.unwrap_or_else(|e| fail(&e.to_string()));
        head_times.push(start.elapsed().as_secs_f64());
        if head.status != 200 {
            fail(&format!("HEAD {key} after the PUT: S3 answered {}, not 200", head.status));
        }
    }
    let checks = verify(transport, bucket, credentials, &key, &context.archive).await;

    let upload = median(&upload_times[1..]);
    println!(
        "{}: content {} B, archive {} B ({:.1} % of content); pack {:.1} ms ({:.1} MB/s of content); upload {:.1} ms = {:.1} MB/s of archive ({:.1} MB/s of content), of which signing {:.1} ms; HEAD {:.1} ms; warm-up round: pack {:.1} ms, upload {:.1} ms; uploads (ms): {}; {checks}",
        case.name(),
        context.content_bytes(),
        archive_bytes,
        100.0 * archive_bytes as f64 / context.content_bytes() as f64,
        ms(median(&pack_times[1..])),
        context.content_bytes() as f64 / 1e6 / median(&pack_times[1..]),
        ms(upload),
        archive_bytes as f64 / 1e6 / upload,
        context.content_bytes() as f64 / 1e6 / upload,
        ms(median(&sign_times[1..])),
        ms(median(&head_times[1..])),
        ms(pack_times[0]),
        ms(upload_times[0]),
        upload_times[1..].iter().map(|t| format!("{:.1}", ms(*t))).collect::<Vec<_>>().join(", "),
    );
}

/// GET (through send_s3) gives back the archive; a plain hyper HEAD reads the ETag, which must
/// be the archive's MD5.
async fn verify(transport: &NativeTransport, bucket: &Bucket, credentials: &Credentials, key: &str, archive: &[u8]) -> String {
    let region = if bucket.region.is_empty() { "us-east-1" } else { &bucket.region };
    let url = bucket.object_url(key);
    let signed = s3::sign("GET", &url, &[], s3::EMPTY_SHA256, &s3::SigningParams::s3(credentials, region, now())).unwrap_or_else(|e| fail(&e.to_string()));
    let headers = signed.headers.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
    let got = transport.send_s3(s3::Request { method: "GET", url, headers }, Vec::new()).await.unwrap_or_else(|e| fail(&e.to_string()));
    if got.status != 200 || got.body != archive {
        fail(&format!("GET {key}: status {}, {} bytes, not the {} bytes uploaded", got.status, got.body.len(), archive.len()));
    }

    let request = bucket.head_object(key, credentials, now()).unwrap_or_else(|e| fail(&e.to_string()));
    let mut builder = http::Request::builder().method("HEAD").uri(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let response = client
        .request(builder.body(http_body_util::Empty::<bytes::Bytes>::new()).expect("HEAD request"))
        .await
        .unwrap_or_else(|e| fail(&format!("HEAD {key}: {e}")));
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let expected = format!("\"{}\"", hex(&md5(archive)));
    if etag != expected {
        fail(&format!("HEAD {key}: ETag {etag:?}, expected the archive's MD5 {expected}"));
    }
    format!("checked: HEAD 200, GET = archive, ETag = MD5 {expected}")
}

/// trainer.py and data/ (one 10 MiB file) in `dir`; the spec that packs them.
fn write_context(case: Case, dir: &Path) -> ContextSpec {
    std::fs::create_dir_all(dir.join("data")).unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())));
    let trainer = "import numpy as np\n\nweights = np.fromfile('data/weights.bin')\nprint('training on', weights.size)\n";
    let (path, data) = match case {
        Case::Random => ("data/weights.bin", random_bytes(DATA_BYTES)),
        Case::Text => ("data/model.py", python_text(DATA_BYTES)),
    };
    for (name, bytes) in [("trainer.py", trainer.as_bytes()), (path, &data[..])] {
        std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| fail(&format!("{}: {e}", dir.join(name).display())));
    }
    ContextSpec { base_image: "python:3.11-slim".into(), main_file: "trainer.py".into(), extra_files: vec![path.into()], requirements: None }
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn python_text(len: usize) -> Vec<u8> {
    let mut text = String::with_capacity(len + 128);
    let mut line = 0u64;
    while text.len() < len {
        text.push_str(&format!(
            "def layer_{line}(x, scale={}):\n    \"\"\"Layer {line}.\"\"\"\n    return np.tanh(x * scale + {})\n\n",
            line % 97,
            line * 31 % 1013
        ));
        line += 1;
    }
    text.truncate(len);
    text.into_bytes()
}

/// A directory of its own under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(case: Case) -> TempDir {
        let name = match case {
            Case::Random => "random",
            Case::Text => "text",
        };
        let dir = std::env::temp_dir().join(format!("kaptain-bench-upload-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn ms(seconds: f64) -> f64 {
    seconds * 1e3
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fail(message: &str) -> ! {
    eprintln!("bench_upload: {message}");
    std::process::exit(1)
}

/// MD5 (RFC 1321), for the ETag check only.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4,
        11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64).map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32).collect();
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in message.chunks_exact(64) {
        let m: Vec<u32> = block.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a.wrapping_add(f).wrapping_add(k[i]).wrapping_add(m[g]).rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// RFC 1321's test suite, so that a wrong ETag means a wrong upload, not a wrong MD5.
fn md5_self_test() {
    for (input, digest) in [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ] {
        assert_eq!(hex(&md5(input.as_bytes())), digest, "MD5 of {input:?}");
    }
}
