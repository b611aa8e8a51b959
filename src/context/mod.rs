//! The build context of a cell's model: the files kaniko builds the image from, a generated
//! Dockerfile, the deterministic `tar.gz` that carries them to S3, and the checksum that names
//! the uploaded object and tags the image. Pure: the files come through a [`FileSource`]
//! (a directory natively, the Jupyter Contents API in the browser, a map in tests).
//!
//! # What goes in
//!
//! `model.requirements` (if any), `model.main_file` and `model.extra_files`, each at its path
//! relative to the notebook's directory, plus `Dockerfile` at the root (kaniko's
//! `--dockerfile=Dockerfile`). Directories are implied by the files' paths.
//!
//! # The checksum (version 1)
//!
//! The checksum covers the *content* of the context, not its compressed bytes, so that a
//! change of compressor never changes an image tag. It is the lowercase hex SHA-256 of:
//!
//! ```text
//! "kaptain-context-v1\n"
//! then, for each file in the archive's order (paths sorted bytewise, `Dockerfile` included,
//! directories left out):
//!     u64 big-endian byte length of the path  ||  path (UTF-8, '/'-separated, normalized)
//!     u64 big-endian byte length of the content  ||  content
//! ```
//!
//! where the content hashed for `Dockerfile` is the generated Dockerfile *without its last
//! line*, which is always `LABEL checksum=<checksum>\n`: the shipped Dockerfile is the hashed
//! text followed by that line, so the label can carry the checksum that covers everything
//! else. Modes, owners and times are fixed in the archive and therefore not hashed.
//!
//! # The archive
//!
//! A `tar` with ustar headers only (no pax, no GNU extensions: a path the ustar header cannot
//! hold is refused), entries sorted bytewise by path, each directory before its contents,
//! mtime 0, uid/gid 0, empty owner and group names, mode 0644 for files and 0755 for
//! directories; gzip at level 6 of miniz_oxide with a fixed header (no name, mtime 0, OS byte
//! 255). The same files give the same bytes on every platform, native and wasm.

mod archive;
mod dockerfile;
mod path;
mod source;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::spec::Model;

pub use dockerfile::WORKDIR;
#[cfg(not(target_arch = "wasm32"))]
pub use source::DirSource;
pub use source::{FileSource, MemorySource, ReadError};

/// The name of the generated Dockerfile at the root of the context.
pub const DOCKERFILE: &str = "Dockerfile";
/// Domain separator and version of the checksum definition (see the module docs).
pub const CHECKSUM_VERSION: &str = "kaptain-context-v1";
/// Default limit on the context's size: the sum of its files' sizes, Dockerfile included.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// Limits on what a context may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sum of the sizes of the files, Dockerfile included (not the compressed size).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: DEFAULT_MAX_BYTES }
    }
}

/// Why a context could not be built. Each message names the field, the file and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("model.{field} is missing: add `{field}: {example}` under `model:`")]
    MissingField { field: &'static str, example: &'static str },
    #[error("{field}: {path:?} was not found in {location}; put the file there or correct the path")]
    MissingFile { field: String, path: String, location: String },
    #[error("{field}: {path:?} is outside the notebook's directory ({why}); give a path relative to the notebook, without `..`")]
    OutsideDirectory { field: String, path: String, why: String },
    #[error("{field}: {path:?} is a directory in {location}; list the files in it one by one")]
    NotAFile { field: String, path: String, location: String },
    #[error("{field}: {path:?} {problem}; {fix}")]
    BadPath { field: String, path: String, problem: String, fix: String },
    #[error("{second}: {path:?} is already in the context as {first}; list each file once{hint}")]
    Duplicate { path: String, first: String, second: String, hint: &'static str },
    #[error("the build context is {} (at {path:?}), over the limit of {}; leave large data out of model.extra_files (read it at run time, e.g. from S3) or raise the limit", size_text(*size), size_text(*limit))]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{field}: {path:?} could not be read from {location}: {message}")]
    Unreadable { field: String, path: String, location: String, message: String },
}

/// A packed build context.
#[derive(Clone, PartialEq, Eq)]
pub struct Context {
    /// SHA-256 (lowercase hex) over the content, as the module docs define it.
    pub checksum: String,
    /// The generated Dockerfile, label included.
    pub dockerfile: String,
    /// The files in archive order (Dockerfile included) and their sizes.
    pub files: Vec<(String, u64)>,
    /// The deterministic tar.gz.
    pub archive: Vec<u8>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("checksum", &self.checksum)
            .field("files", &self.files)
            .field("archive_bytes", &self.archive.len())
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Sum of the files' sizes (what the limit counts).
    pub fn content_bytes(&self) -> u64 {
        self.files.iter().map(|(_, size)| size).sum()
    }

    /// The key of the uploaded object: `<prefix>/<checksum>.tar.gz`.
    pub fn object_key(&self, prefix: &str) -> String {
        object_key(prefix, &self.checksum)
    }
}

/// `<prefix>/<checksum>.tar.gz` (no leading slash; no prefix, no slash), as
/// `manifest::build::context_uri` names it for kaniko.
pub fn object_key(prefix: &str, checksum: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{checksum}.tar.gz")
    } else {
        format!("{prefix}/{checksum}.tar.gz")
    }
}

/// What of the model the context is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSpec {
    pub base_image: String,
    pub main_file: String,
    pub extra_files: Vec<String>,
    pub requirements: Option<String>,
}

impl ContextSpec {
    pub fn from_model(model: &Model) -> Result<ContextSpec, ContextError> {
        let base_image = model
            .base_image
            .clone()
            .ok_or(ContextError::MissingField { field: "base_image", example: "tensorflow/tensorflow:2.5.0" })?;
        let main_file =
            model.main_file.clone().ok_or(ContextError::MissingField { field: "main_file", example: "trainer.py" })?;
        Ok(ContextSpec { base_image, main_file, extra_files: model.extra_files.clone(), requirements: model.requirements.clone() })
    }
}

/// Packs the context of `model` from `source`: reads the files, generates the Dockerfile,
/// hashes and archives.
pub fn pack(model: &Model, source: &dyn FileSource, limits: Limits) -> Result<Context, ContextError> {
    pack_spec(&ContextSpec::from_model(model)?, source, limits)
}

pub fn pack_spec(spec: &ContextSpec, source: &dyn FileSource, limits: Limits) -> Result<Context, ContextError> {
    let files = collect(spec, source, limits)?;
    let main_file = path::normalize("model.main_file", &spec.main_file)?;
    let requirements = spec.requirements.as_deref().map(|r| path::normalize("model.requirements", r)).transpose()?;
    let body = dockerfile::render(&spec.base_image, requirements.as_deref(), &main_file, files.keys().map(String::as_str));
    let total = files.values().map(|v| v.len() as u64).sum::<u64>() + body.len() as u64 + dockerfile::LABEL_LINE_BYTES;
    if total > limits.max_bytes {
        return Err(ContextError::TooLarge { path: DOCKERFILE.into(), size: total, limit: limits.max_bytes });
    }
    let checksum = checksum(&files, &body);
    let dockerfile = format!("{body}{}", dockerfile::label_line(&checksum));

    let mut entries: BTreeMap<&str, &[u8]> = files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
    entries.insert(DOCKERFILE, dockerfile.as_bytes());
    let listing = entries.iter().map(|(p, b)| (p.to_string(), b.len() as u64)).collect();
    let archive = archive::write(&entries).map_err(|e| ContextError::BadPath {
        field: e.field,
        path: e.path,
        problem: e.problem,
        fix: "shorten the path (at most 100 bytes of file name and 155 of directory)".into(),
    })?;
    Ok(Context { checksum, dockerfile, files: listing, archive })
}

/// The checksum of a context whose user files are `files` (normalized path -> bytes, without
/// the Dockerfile) and whose Dockerfile, before its label line, is `dockerfile_body`.
pub fn checksum(files: &BTreeMap<String, Vec<u8>>, dockerfile_body: &str) -> String {
    let mut entries: BTreeMap<&str, &[u8]> = files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
    entries.insert(DOCKERFILE, dockerfile_body.as_bytes());
    let mut hasher = Sha256::new();
    hasher.update(CHECKSUM_VERSION.as_bytes());
    hasher.update(b"\n");
    for (path, content) in entries {
        hasher.update((path.len() as u64).to_be_bytes());
        hasher.update(path.as_bytes());
        hasher.update((content.len() as u64).to_be_bytes());
        hasher.update(content);
    }
    hex(&hasher.finalize())
}

/// The model's files a context is packed from, as (field, path as written).
fn wanted(spec: &ContextSpec) -> Vec<(String, &str)> {
    let mut wanted: Vec<(String, &str)> = Vec::new();
    if let Some(r) = &spec.requirements {
        wanted.push(("model.requirements".into(), r));
    }
    wanted.push(("model.main_file".into(), &spec.main_file));
    for (i, f) in spec.extra_files.iter().enumerate() {
        wanted.push((format!("model.extra_files[{i}]"), f));
    }
    wanted
}

/// The normalized paths, relative to the notebook's directory, of the files the context of
/// `model` is packed from: what a front end reads (the Contents API) before packing. Paths
/// outside the directory are refused here, before anything is read.
pub fn file_paths(model: &Model) -> Result<Vec<String>, ContextError> {
    let spec = ContextSpec::from_model(model)?;
    wanted(&spec).into_iter().map(|(field, raw)| path::normalize(&field, raw)).collect()
}

/// Reads the model's files: normalized path -> bytes, with every check but the Dockerfile's.
fn collect(spec: &ContextSpec, source: &dyn FileSource, limits: Limits) -> Result<BTreeMap<String, Vec<u8>>, ContextError> {
    let wanted = wanted(spec);

    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for (field, raw) in wanted {
        let normalized = path::normalize(&field, raw)?;
        if normalized == DOCKERFILE {
            return Err(ContextError::Duplicate {
                path: normalized,
                first: "the generated Dockerfile".into(),
                second: field,
                hint: " (kaptain writes the Dockerfile itself: rename yours)",
            });
        }
        if let Some(first) = fields.get(&normalized) {
            return Err(ContextError::Duplicate { path: normalized, first: first.clone(), second: field, hint: "" });
        }
        let remaining = limits.max_bytes.saturating_sub(total);
        let bytes = source.read(&normalized, remaining).map_err(|e| read_error(e, &field, &normalized, source, total, limits))?;
        total += bytes.len() as u64;
        if total > limits.max_bytes {
            return Err(ContextError::TooLarge { path: normalized, size: total, limit: limits.max_bytes });
        }
        fields.insert(normalized.clone(), field);
        files.insert(normalized, bytes);
    }
    // A path cannot be a file and hold files (`data` and `data/x.csv`).
    for path in files.keys() {
        for dir in path::parents(path) {
            if let Some(field) = fields.get(dir) {
                return Err(ContextError::Duplicate {
                    path: dir.to_string(),
                    first: field.clone(),
                    second: fields[path].clone(),
                    hint: " (a path cannot be both a file and a directory)",
                });
            }
        }
    }
    Ok(files)
}

fn read_error(e: ReadError, field: &str, path: &str, source: &dyn FileSource, read: u64, limits: Limits) -> ContextError {
    let (field, path) = (field.to_string(), path.to_string());
    match e {
        ReadError::NotFound => ContextError::MissingFile { field, path, location: source.location() },
        ReadError::NotAFile => ContextError::NotAFile { field, path, location: source.location() },
        ReadError::Outside(why) => ContextError::OutsideDirectory { field, path, why },
        ReadError::TooLarge { size } => ContextError::TooLarge { path, size: read.saturating_add(size), limit: limits.max_bytes },
        ReadError::Other(message) => ContextError::Unreadable { field, path, location: source.location(), message },
    }
}

/// "12.3 MiB (12897484 bytes)"
fn size_text(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB ({bytes} bytes)", bytes as f64 / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}
