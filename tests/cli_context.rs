//! The CLI contract of `kaptain context CELL_FILE --dir DIR --out FILE`: the tar.gz is written,
//! the checksum is the last line of stdout; bad input exits 2 with `error: ...` on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CELL: &str = "%%kaptain build
model:
  id: dev/mnist
  framework: tensorflow
  main_file: trainer.py
  image_name: registry.example.com/dev/mnist
  base_image: tensorflow/tensorflow:2.5.0
  requirements: requirements.txt
  extra_files: [util/data.py]
";

struct Workspace(PathBuf);

impl Workspace {
    fn new(name: &str) -> Workspace {
        let dir = std::env::temp_dir().join(format!("kaptain-cli-context-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nb/util")).unwrap();
        std::fs::write(dir.join("nb/trainer.py"), "print('training')\n").unwrap();
        std::fs::write(dir.join("nb/requirements.txt"), "numpy\n").unwrap();
        std::fs::write(dir.join("nb/util/data.py"), "X = 1\n").unwrap();
        std::fs::write(dir.join("cell"), CELL).unwrap();
        Workspace(dir)
    }

    fn path(&self, p: &str) -> String {
        self.0.join(p).to_string_lossy().into_owned()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kaptain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kaptain")).args(args).output().expect("kaptain runs")
}

fn checksum_line(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    stdout.trim_end().lines().last().unwrap().to_string()
}

#[test]
fn packs_writes_and_prints_the_checksum_last() {
    let ws = Workspace::new("ok");
    let out = kaptain(&["context", &ws.path("cell"), "--dir", &ws.path("nb"), "--out", &ws.path("a.tar.gz")]);
    let checksum = checksum_line(&out);
    assert_eq!(checksum.len(), 64);
    assert!(checksum.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{checksum}");

    let archive = std::fs::read(ws.path("a.tar.gz")).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&archive[..]));
    let mut names = Vec::new();
    let mut dockerfile = String::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().to_vec()).unwrap();
        if name == "Dockerfile" {
            std::io::Read::read_to_string(&mut entry, &mut dockerfile).unwrap();
        }
        names.push(name);
    }
    assert_eq!(names, ["Dockerfile", "requirements.txt", "trainer.py", "util/", "util/data.py"]);
    assert!(dockerfile.ends_with(&format!("LABEL checksum={checksum}\n")), "{dockerfile}");

    // Again, from stdin, to another file: the same bytes and checksum.
    let again = Command::new(env!("CARGO_BIN_EXE_kaptain"))
        .args(["context", "-", "--dir", &ws.path("nb"), "--out", &ws.path("b.tar.gz")])
        .stdin(std::fs::File::open(ws.path("cell")).unwrap())
        .output()
        .unwrap();
    assert_eq!(checksum_line(&again), checksum);
    assert_eq!(std::fs::read(ws.path("b.tar.gz")).unwrap(), archive);

    // A changed byte, another checksum.
    std::fs::write(Path::new(&ws.path("nb/util/data.py")), "X = 2\n").unwrap();
    let changed = kaptain(&["context", &ws.path("cell"), "--dir", &ws.path("nb"), "--out", &ws.path("c.tar.gz")]);
    assert_ne!(checksum_line(&changed), checksum);
}

fn fails_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains(needle), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let ws = Workspace::new("bad");
    std::fs::remove_file(ws.path("nb/util/data.py")).unwrap();
    let out = kaptain(&["context", &ws.path("cell"), "--dir", &ws.path("nb"), "--out", &ws.path("a.tar.gz")]);
    fails_with(&out, &format!("model.extra_files[0]: \"util/data.py\" was not found in the directory {}", ws.path("nb")));
    assert!(!Path::new(&ws.path("a.tar.gz")).exists(), "no archive on error");

    std::fs::write(ws.path("outside.cell"), CELL.replace("[util/data.py]", "[../cell]")).unwrap();
    let out = kaptain(&["context", &ws.path("outside.cell"), "--dir", &ws.path("nb"), "--out", &ws.path("a.tar.gz")]);
    fails_with(&out, "outside the notebook's directory");

    std::fs::write(ws.path("nb/util/data.py"), vec![b'x'; 4096]).unwrap();
    let out = kaptain(&["context", &ws.path("cell"), "--dir", &ws.path("nb"), "--out", &ws.path("a.tar.gz"), "--max-bytes", "1000"]);
    fails_with(&out, "over the limit of 1000 bytes");

    let out = kaptain(&["context", &ws.path("cell"), "--dir", &ws.path("missing-dir"), "--out", &ws.path("a.tar.gz")]);
    fails_with(&out, "not a directory");
}
