//! The build context: deterministic bytes, the checksum as documented in src/context, the
//! generated Dockerfile, and the errors for missing, outside, duplicate and too large files.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use kaptain::context::{self, ContextError, ContextSpec, DirSource, FileSource, Limits, MemorySource};
use sha2::{Digest, Sha256};

fn spec(extra: &[&str]) -> ContextSpec {
    ContextSpec {
        base_image: "tensorflow/tensorflow:2.5.0".into(),
        main_file: "trainer.py".into(),
        extra_files: extra.iter().map(|s| s.to_string()).collect(),
        requirements: Some("requirements.txt".into()),
    }
}

fn files() -> MemorySource {
    MemorySource::new("the test's files")
        .with("trainer.py", "import tensorflow as tf\nprint('training')\n")
        .with("requirements.txt", "numpy==1.19.5\n")
        .with("util/data.py", "def load():\n    return []\n")
        .with("util/__init__.py", "")
        .with("unused.txt", "not in the context")
}

fn pack(spec: &ContextSpec, source: &dyn FileSource) -> Result<context::Context, ContextError> {
    context::pack_spec(spec, source, Limits::default())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The checksum computed again from the definition in src/context/mod.rs's docs.
fn checksum_by_the_definition(entries: &BTreeMap<String, Vec<u8>>) -> String {
    let mut h = Sha256::new();
    h.update(b"kaptain-context-v1\n");
    for (path, content) in entries {
        h.update((path.len() as u64).to_be_bytes());
        h.update(path.as_bytes());
        h.update((content.len() as u64).to_be_bytes());
        h.update(content);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// (path, header, content) of every entry of the tar.gz.
fn entries(archive: &[u8]) -> Vec<(String, tar::Header, Vec<u8>)> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            (String::from_utf8(e.path_bytes().to_vec()).unwrap(), e.header().clone(), content)
        })
        .collect()
}

#[test]
fn same_files_give_the_same_bytes_whatever_the_order() {
    let a = pack(&spec(&["util/data.py", "util/__init__.py"]), &files()).unwrap();
    let b = pack(&spec(&["util/data.py", "util/__init__.py"]), &files()).unwrap();
    assert_eq!(a.archive, b.archive);

    // Other insertion order, other order of extra_files, `./` and doubled slashes.
    let reordered = MemorySource::new("elsewhere")
        .with("./util/__init__.py", "")
        .with("util//data.py", "def load():\n    return []\n")
        .with("requirements.txt", "numpy==1.19.5\n")
        .with("trainer.py", "import tensorflow as tf\nprint('training')\n");
    let c = pack(&spec(&["./util/__init__.py", "util/data.py"]), &reordered).unwrap();
    assert_eq!(a.archive, c.archive);
    assert_eq!(a.checksum, c.checksum);
    assert_eq!(a.dockerfile, c.dockerfile);
}

#[test]
fn the_checksum_follows_its_definition_and_every_byte_counts() {
    let packed = pack(&spec(&["util/data.py"]), &files()).unwrap();
    let label = format!("LABEL checksum={}\n", packed.checksum);
    assert!(packed.dockerfile.ends_with(&label), "{}", packed.dockerfile);

    let mut hashed: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (path, _, content) in entries(&packed.archive).into_iter().filter(|(p, _, _)| !p.ends_with('/')) {
        hashed.insert(path, content);
    }
    let dockerfile = hashed.get_mut("Dockerfile").unwrap();
    dockerfile.truncate(dockerfile.len() - label.len());
    assert_eq!(checksum_by_the_definition(&hashed), packed.checksum);

    let changed = files().with("util/data.py", "def load():\n    return [1]\n");
    assert_ne!(pack(&spec(&["util/data.py"]), &changed).unwrap().checksum, packed.checksum);
    let renamed = files().with("util/data2.py", "def load():\n    return []\n");
    assert_ne!(pack(&spec(&["util/data2.py"]), &renamed).unwrap().checksum, packed.checksum);
    let other_base = ContextSpec { base_image: "tensorflow/tensorflow:2.6.0".into(), ..spec(&["util/data.py"]) };
    assert_ne!(pack(&other_base, &files()).unwrap().checksum, packed.checksum);
}

/// A fixed small context: the native and the wasm build must both give these values.
#[test]
fn golden_checksum_and_bytes() {
    let source = MemorySource::new("golden").with("main.py", "print('hello')\n").with("requirements.txt", "requests\n");
    let spec = ContextSpec {
        base_image: "python:3.11-slim".into(),
        main_file: "main.py".into(),
        extra_files: vec![],
        requirements: Some("requirements.txt".into()),
    };
    let packed = pack(&spec, &source).unwrap();
    assert_eq!(packed.checksum, GOLDEN_CHECKSUM);
    // The archive's bytes depend on miniz_oxide's output too: a new miniz_oxide may change
    // this one (not the checksum, which covers the content).
    assert_eq!(sha256_hex(&packed.archive), GOLDEN_ARCHIVE_SHA256, "{} bytes", packed.archive.len());
    assert_eq!(
        packed.dockerfile,
        format!(
            "# Generated by kaptain. The checksum label covers this file (without the label) and every file copied.\n\
             FROM python:3.11-slim\n\
             WORKDIR /app\n\
             COPY [\"requirements.txt\", \"./\"]\n\
             RUN [\"pip\", \"install\", \"--no-cache-dir\", \"-r\", \"requirements.txt\"]\n\
             COPY [\"main.py\", \"./\"]\n\
             CMD [\"python\", \"-u\", \"main.py\"]\n\
             LABEL checksum={GOLDEN_CHECKSUM}\n"
        )
    );
    assert_eq!(packed.object_key("contexts"), format!("contexts/{GOLDEN_CHECKSUM}.tar.gz"));
    assert_eq!(context::object_key("", GOLDEN_CHECKSUM), format!("{GOLDEN_CHECKSUM}.tar.gz"));
}

const GOLDEN_CHECKSUM: &str = "aab9495aa4394bd89b1f924722314ab27537782253fd9ced8257fcbc61b4d646";
const GOLDEN_ARCHIVE_SHA256: &str = "bd579f0b3a12e6314b683ac357925b2c7a543ec13ee4972c4a1b09afc1cceb81";

#[test]
fn the_archive_has_fixed_metadata_and_sorted_entries() {
    let packed = pack(&spec(&["util/data.py", "util/__init__.py"]), &files()).unwrap();
    // gzip: no name, mtime 0, XFL 0 (level 6), OS 255.
    assert_eq!(packed.archive[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let entries = entries(&packed.archive);
    let paths: Vec<&str> = entries.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(paths, ["Dockerfile", "requirements.txt", "trainer.py", "util/", "util/__init__.py", "util/data.py"]);
    for (path, header, content) in &entries {
        assert!(header.as_ustar().is_some(), "{path}: ustar header");
        assert_eq!(header.mtime().unwrap(), 0, "{path}");
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0), "{path}");
        assert_eq!(header.username_bytes(), Some(&b""[..]), "{path}");
        assert_eq!(header.groupname_bytes(), Some(&b""[..]), "{path}");
        if path.ends_with('/') {
            assert_eq!(header.mode().unwrap(), 0o755, "{path}");
            assert!(header.entry_type().is_dir());
        } else {
            assert_eq!(header.mode().unwrap(), 0o644, "{path}");
            assert!(header.entry_type().is_file());
            assert_eq!(header.size().unwrap(), content.len() as u64);
        }
    }
    assert_eq!(packed.files.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["Dockerfile", "requirements.txt", "trainer.py", "util/__init__.py", "util/data.py"]);
    let code_copy = "COPY [\"util/__init__.py\", \"util/data.py\", \"util/\"]\n";
    assert!(packed.dockerfile.contains(code_copy), "{}", packed.dockerfile);
    let pip = packed.dockerfile.find("RUN [\"pip\"").unwrap();
    assert!(pip < packed.dockerfile.find("COPY [\"trainer.py\"").unwrap(), "requirements before the code");
}

/// src/context/archive.rs writes its own headers: byte for byte what the tar crate writes for
/// the same fields, long paths (ustar's prefix field) included.
#[test]
fn headers_are_what_the_tar_crate_writes() {
    let long = format!("{}/{}.py", "d".repeat(150), "f".repeat(60));
    let source = files().with(&long, "x = 1\n");
    let packed = pack(&spec(&[&long, "util/data.py"]), &source).unwrap();
    let entries = entries(&packed.archive);
    assert!(entries.iter().any(|(p, _, _)| *p == long), "the long path reads back whole");
    for (path, header, content) in &entries {
        let mut expected = tar::Header::new_ustar();
        expected.set_path(path).unwrap();
        let dir = path.ends_with('/');
        expected.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
        expected.set_mode(if dir { 0o755 } else { 0o644 });
        expected.set_size(content.len() as u64);
        expected.set_uid(0);
        expected.set_gid(0);
        expected.set_mtime(0);
        expected.set_cksum();
        assert_eq!(header.as_bytes()[..], expected.as_bytes()[..], "{path}");
    }
}

#[test]
fn without_requirements_there_is_no_pip() {
    let spec = ContextSpec { requirements: None, ..spec(&[]) };
    let packed = pack(&spec, &files()).unwrap();
    assert!(!packed.dockerfile.contains("pip"));
    assert_eq!(packed.files.len(), 2);
}

#[test]
fn errors_name_the_field_the_file_and_the_fix() {
    let missing = pack(&spec(&["util/nope.py"]), &files()).unwrap_err();
    assert!(matches!(missing, ContextError::MissingFile { .. }));
    assert_eq!(
        missing.to_string(),
        "model.extra_files[0]: \"util/nope.py\" was not found in the test's files; put the file there or correct the path"
    );

    for (path, why) in [("../secret.py", "`..`"), ("/etc/passwd", "absolute"), ("~/x.py", "home")] {
        let err = pack(&spec(&[path]), &files()).unwrap_err();
        assert!(matches!(err, ContextError::OutsideDirectory { .. }), "{path}: {err}");
        let text = err.to_string();
        assert!(text.starts_with("model.extra_files[0]: ") && text.contains("outside the notebook's directory") && text.contains(why), "{text}");
    }

    let dup = pack(&spec(&["trainer.py"]), &files()).unwrap_err();
    assert_eq!(dup.to_string(), "model.extra_files[0]: \"trainer.py\" is already in the context as model.main_file; list each file once");
    let dockerfile = pack(&spec(&["Dockerfile"]), &files().with("Dockerfile", "FROM x")).unwrap_err();
    assert!(dockerfile.to_string().contains("kaptain writes the Dockerfile itself"), "{dockerfile}");
    let both = pack(&spec(&["util", "util/data.py"]), &files().with("util", "x")).unwrap_err();
    assert!(both.to_string().contains("both a file and a directory"), "{both}");
    let dir = pack(&spec(&["util"]), &files()).unwrap_err();
    assert!(matches!(dir, ContextError::NotAFile { .. }), "{dir}");
    let pattern = pack(&spec(&["data*.csv"]), &files()).unwrap_err();
    assert!(pattern.to_string().contains("rename the file"), "{pattern}");

    let model = kaptain::spec::Model { base_image: Some("python:3".into()), ..Default::default() };
    let err = context::pack(&model, &files(), Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "model.main_file is missing: add `main_file: trainer.py` under `model:`");
}

#[test]
fn too_large_says_the_size_and_the_limit() {
    let big = files().with("data.bin", vec![7u8; 3 * 1024 * 1024]);
    let err = context::pack_spec(&spec(&["data.bin"]), &big, Limits { max_bytes: 2 * 1024 * 1024 }).unwrap_err();
    assert!(matches!(err, ContextError::TooLarge { .. }));
    let text = err.to_string();
    assert!(text.contains("over the limit of 2.0 MiB (2097152 bytes)") && text.contains("\"data.bin\""), "{text}");
    assert!(text.contains("3.0 MiB"), "{text}");
    // Just under the limit with the files, over it with the Dockerfile.
    let small = MemorySource::new("m").with("trainer.py", vec![b'#'; 1000]);
    let spec = ContextSpec { requirements: None, ..spec(&[]) };
    let err = context::pack_spec(&spec, &small, Limits { max_bytes: 1100 }).unwrap_err();
    assert!(matches!(err, ContextError::TooLarge { ref path, .. } if path == "Dockerfile"), "{err}");
    let packed = context::pack_spec(&spec, &small, Limits { max_bytes: 2000 }).unwrap();
    assert!(packed.content_bytes() <= 2000);
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kaptain-context-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_directory_source_reads_files_and_refuses_symlink_escapes() {
    let tmp = TempDir::new("dir");
    let nb = tmp.0.join("notebook");
    std::fs::create_dir_all(nb.join("util")).unwrap();
    std::fs::write(nb.join("trainer.py"), "import tensorflow as tf\nprint('training')\n").unwrap();
    std::fs::write(nb.join("requirements.txt"), "numpy==1.19.5\n").unwrap();
    std::fs::write(nb.join("util/data.py"), "def load():\n    return []\n").unwrap();
    std::fs::write(tmp.0.join("secret.txt"), "outside").unwrap();

    let from_dir = pack(&spec(&["util/data.py"]), &DirSource::new(&nb)).unwrap();
    let from_memory = pack(&spec(&["util/data.py"]), &files()).unwrap();
    assert_eq!(from_dir.archive, from_memory.archive, "the source does not change the bytes");

    let missing = pack(&spec(&["nope.py"]), &DirSource::new(&nb)).unwrap_err();
    assert!(missing.to_string().contains(&format!("was not found in the directory {}", nb.display())), "{missing}");

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("../secret.txt", nb.join("escape.txt")).unwrap();
        let err = pack(&spec(&["escape.txt"]), &DirSource::new(&nb)).unwrap_err();
        assert!(matches!(err, ContextError::OutsideDirectory { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A link that stays inside is fine.
        std::os::unix::fs::symlink("util/data.py", nb.join("inside.py")).unwrap();
        assert!(pack(&spec(&["inside.py"]), &DirSource::new(&nb)).is_ok());
    }

    std::fs::write(nb.join("big.bin"), vec![0u8; 5000]).unwrap();
    let err = context::pack_spec(&spec(&["big.bin"]), &DirSource::new(&nb), Limits { max_bytes: 4096 }).unwrap_err();
    assert!(matches!(err, ContextError::TooLarge { .. }), "{err}");
}
