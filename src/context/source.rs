//! Where the context's files come from: a directory (the CLI), the Jupyter Contents API (the
//! browser, through a [`MemorySource`] the front end fills), or memory (tests).

use std::collections::BTreeMap;

/// Why a source could not give a file. The packer turns it into a [`super::ContextError`]
/// naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    NotFound,
    /// A directory, or anything else that is not a regular file.
    NotAFile,
    /// The file resolves outside the source's directory (e.g. through a symbolic link).
    Outside(String),
    /// Larger than the room left under the limit: its size in bytes.
    TooLarge { size: u64 },
    Other(String),
}

/// Files by normalized relative path (`src/a.py`: '/'-separated, no `.`, `..` or empty parts).
pub trait FileSource {
    /// Where files are looked up, for messages: "the directory /home/jovyan/mnist".
    fn location(&self) -> String;
    /// The file's bytes. A file larger than `max_bytes` may be refused with
    /// [`ReadError::TooLarge`] without being read.
    fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError>;
}

/// Files held in memory: what the browser fetched from the Contents API, or a test's files.
#[derive(Clone, Default)]
pub struct MemorySource {
    location: String,
    files: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for MemorySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes: BTreeMap<&str, usize> = self.files.iter().map(|(p, b)| (p.as_str(), b.len())).collect();
        f.debug_struct("MemorySource").field("location", &self.location).field("files", &sizes).finish()
    }
}

impl MemorySource {
    /// `location` is what messages call the place, e.g. "the notebook's directory mnist/".
    pub fn new(location: impl Into<String>) -> Self {
        MemorySource { location: location.into(), files: BTreeMap::new() }
    }

    /// Adds a file under `path`, relative to the notebook's directory (`./a.py` and `a.py` are
    /// the same file); a later insert of the same path replaces the earlier one.
    pub fn insert(&mut self, path: &str, bytes: impl Into<Vec<u8>>) -> &mut Self {
        let key = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>().join("/");
        self.files.insert(key, bytes.into());
        self
    }

    pub fn with(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.insert(path, bytes);
        self
    }
}

impl FileSource for MemorySource {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        match self.files.get(path) {
            Some(bytes) if bytes.len() as u64 > max_bytes => Err(ReadError::TooLarge { size: bytes.len() as u64 }),
            Some(bytes) => Ok(bytes.clone()),
            None => {
                let dir = format!("{path}/");
                if self.files.range(dir.clone()..).next().is_some_and(|(k, _)| k.starts_with(&dir)) {
                    Err(ReadError::NotAFile)
                } else {
                    Err(ReadError::NotFound)
                }
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use dir::DirSource;

#[cfg(not(target_arch = "wasm32"))]
mod dir {
    use std::io::Read;
    use std::path::PathBuf;

    use super::{FileSource, ReadError};

    /// Files of a directory on disk (the notebook's directory). Symbolic links are followed
    /// only while they stay inside it.
    #[derive(Debug, Clone)]
    pub struct DirSource {
        root: PathBuf,
    }

    impl DirSource {
        pub fn new(root: impl Into<PathBuf>) -> Self {
            DirSource { root: root.into() }
        }
    }

    impl FileSource for DirSource {
        fn location(&self) -> String {
            format!("the directory {}", self.root.display())
        }

        fn read(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
            let other = |e: std::io::Error| ReadError::Other(e.to_string());
            let root = self.root.canonicalize().map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ReadError::NotFound,
                _ => other(e),
            })?;
            let full = root.join(path);
            let real = match full.canonicalize() {
                Ok(real) => real,
                // A dangling link and a missing file are both "not found".
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::NotFound),
                Err(e) => return Err(other(e)),
            };
            if !real.starts_with(&root) {
                return Err(ReadError::Outside(format!("a symbolic link leads to {}", real.display())));
            }
            let meta = std::fs::metadata(&real).map_err(other)?;
            if !meta.is_file() {
                return Err(ReadError::NotAFile);
            }
            if meta.len() > max_bytes {
                return Err(ReadError::TooLarge { size: meta.len() });
            }
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            std::fs::File::open(&real).and_then(|f| f.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes)).map_err(other)?;
            Ok(bytes)
        }
    }
}
