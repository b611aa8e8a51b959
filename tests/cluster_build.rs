//! The build step end to end with the CLI, as a user types it, against the local control plane
//! and its real S3 server (tests/cluster/up starts both; `KAPTAIN_S3_ENV` names the file with
//! the server's endpoint and keys): the context packed from a directory, uploaded and read back
//! with an independent signer (curl's SigV4), the kaniko Job pointing at it, the Secrets
//! copied from their sources, image reuse, and cleanup per the lifecycle table.
//!
//! The kaniko Job's pod is scheduled by the real kube-scheduler and played by kwok, its log by
//! the simulator (a TEST DOUBLE for the kubelet's log): nothing is really built, but the Job
//! succeeds or fails as the real Job controller decides.

#[path = "support/cluster.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster::{kubectl, namespace, objects_of_run, user_kubeconfig};

/// The test S3 server's endpoint and keys (tests/cluster/up writes them).
struct S3 {
    endpoint: String,
    key: String,
    secret: String,
}

fn s3() -> S3 {
    let path = std::env::var("KAPTAIN_S3_ENV").expect("KAPTAIN_S3_ENV names tests/cluster/.data/s3.env: run scripts/test");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let vars: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    S3 {
        endpoint: vars["KAPTAIN_S3_ENDPOINT"].to_string(),
        key: vars["KAPTAIN_S3_ACCESS_KEY_ID"].to_string(),
        secret: vars["KAPTAIN_S3_SECRET_ACCESS_KEY"].to_string(),
    }
}

/// A namespace whose S3 source Secret holds the test server's real keys.
fn build_namespace(name: &str, s3: &S3) -> String {
    let ns = namespace(name);
    kubectl(&["-n", &ns, "delete", "secret", "kaptain-s3-credentials"]);
    kubectl(&["-n", &ns, "create", "secret", "generic", "kaptain-s3-credentials", &format!("--from-literal=AWS_ACCESS_KEY_ID={}", s3.key), &format!("--from-literal=AWS_SECRET_ACCESS_KEY={}", s3.secret)]);
    ns
}

/// The notebook's directory: the model's files and the cell.
fn notebook_dir(name: &str, ns: &str, bucket: &str, s3: &S3, labels: &str, extra_config: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kaptain-build-{ns}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("trainer.py"), "import src.model\nprint('training')\n").unwrap();
    std::fs::write(dir.join("src/model.py"), "LAYERS = 3\n").unwrap();
    std::fs::write(dir.join("requirements.txt"), "numpy==1.26.4\n").unwrap();
    std::fs::write(
        dir.join("build.cell"),
        format!(
            "%%kaptain build\nmodel:\n  id: build/model\n  framework: tensorflow\n  main_file: trainer.py\n  extra_files: [src/model.py]\n  requirements: requirements.txt\n  image_name: registry.example.com/build/model\n  base_image: python:3.11-slim\n  labels:\n{labels}config:\n  namespace: {ns}\n  s3_endpoint: {}\n  s3_bucket: {bucket}\n{extra_config}",
            s3.endpoint
        ),
    )
    .unwrap();
    dir
}

/// The CLI as the namespace's user (the ServiceAccount with the shipped Role).
fn kaptain(ns: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kaptain")).args(args).env("KUBECONFIG", user_kubeconfig(ns)).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn apply(ns: &str, dir: &Path, run_id: &str) -> Output {
    let cell = dir.join("build.cell");
    kaptain(ns, &["apply", cell.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--run-id", run_id, "--wait"])
}

/// What `kaptain context` packs from the directory: (checksum, archive bytes).
fn packed(dir: &Path) -> (String, Vec<u8>) {
    let out_file = dir.join("context.tar.gz.out");
    // Offline: no cluster is asked.
    let out = Command::new(env!("CARGO_BIN_EXE_kaptain")).args(["context", dir.join("build.cell").to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--out", out_file.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let checksum = String::from_utf8_lossy(&out.stdout).lines().last().unwrap().to_string();
    let bytes = std::fs::read(&out_file).unwrap();
    std::fs::remove_file(&out_file).unwrap();
    (checksum, bytes)
}

/// GET with curl's own SigV4 signer, independent of the one under test.
fn s3_get(s3: &S3, path: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", &format!("{}:{}", s3.key, s3.secret), &format!("{}/{path}", s3.endpoint)])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {path}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn assert_no_secret(s3: &S3, out: &str) {
    assert!(!out.contains(&s3.secret), "the S3 secret key is in the output:\n{out}");
    assert!(!out.contains("seeded-registry-password"), "the registry password is in the output:\n{out}");
}

const QUICK: &str = "    kaptain-sim/delay-seconds: \"1\"\n";

#[test]
#[ignore = "needs the local control plane and its S3 server (scripts/test)"]
fn a_build_uploads_its_context_and_a_second_run_reuses_the_image() {
    let s3 = s3();
    let ns = build_namespace("build", &s3);
    let bucket = format!("ctx-{}", std::process::id());
    let dir = notebook_dir("plain", &ns, &bucket, &s3, QUICK, "");
    let (checksum, archive) = packed(&dir);

    let first = apply(&ns, &dir, "b1");
    let out = text(&first);
    assert!(first.status.success(), "{out}");
    assert_no_secret(&s3, &out);
    let key = format!("build-contexts/{checksum}.tar.gz");
    assert!(out.contains(&format!("uploaded the build context to s3://{bucket}/{key} ({} bytes)", archive.len())), "{out}");
    for line in ["created Secret/build-model-b1-registry", "created Secret/build-model-b1-context", "created Job/build-model-b1-build", "deleted Job/build-model-b1-build", "run b1: succeeded (build)"] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    // kaniko's log (made up by the simulator, a test double for the kubelet's log) streamed as it ran.
    assert!(out.contains(&format!("  kaniko | INFO[0000] Downloading the build context from s3://{bucket}/{key}")), "{out}");
    assert!(out.contains(&format!("Pushing image to registry.example.com/build/model:{checksum}")), "{out}");
    // The object in S3 is byte for byte what `kaptain context` packs: same files, same bytes.
    assert_eq!(s3_get(&s3, &format!("{bucket}/{key}")), archive);
    // Success deletes the build's Secrets and Job; the image record stays.
    assert_eq!(objects_of_run(&ns, "b1"), Vec::<String>::new());
    let record = kubectl(&["-n", &ns, "get", "configmaps", "-l", "kaptain.io/image-record", "-o", "jsonpath={.items[*].data.image}"]);
    assert_eq!(record, format!("registry.example.com/build/model:{checksum}"));

    // Unchanged files: the image is there, nothing is built or created.
    let second = apply(&ns, &dir, "b2");
    let out = text(&second);
    assert!(second.status.success(), "{out}");
    assert!(out.contains(&format!("build skipped: registry.example.com/build/model:{checksum} was built by run b1")), "{out}");
    assert!(!out.contains("created ") && !out.contains("uploaded"), "{out}");

    // A changed file changes the checksum: built again.
    std::fs::write(dir.join("src/model.py"), "LAYERS = 4\n").unwrap();
    let (changed, _) = packed(&dir);
    assert_ne!(changed, checksum);
    let third = apply(&ns, &dir, "b3");
    assert!(text(&third).contains(&format!("uploaded the build context to s3://{bucket}/build-contexts/{changed}.tar.gz")), "{}", text(&third));

    // force_rebuild builds though the image was built.
    let forced_dir = notebook_dir("forced", &ns, &bucket, &s3, QUICK, "  force_rebuild: true\n");
    let forced = apply(&ns, &forced_dir, "b4");
    let out = text(&forced);
    assert!(forced.status.success() && out.contains("created Job/build-model-b4-build") && !out.contains("build skipped"), "{out}");
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
#[ignore = "needs the local control plane and its S3 server (scripts/test)"]
fn a_failed_build_keeps_its_job_pointing_at_the_uploaded_context() {
    let s3 = s3();
    let ns = build_namespace("buildfail", &s3);
    let bucket = format!("fail-{}", std::process::id());
    let dir = notebook_dir("failing", &ns, &bucket, &s3, "    kaptain-sim/delay-seconds: \"1\"\n    kaptain-sim/outcome: Failed\n", "");
    let (checksum, _) = packed(&dir);
    let failed = apply(&ns, &dir, "f1");
    let out = text(&failed);
    assert!(!failed.status.success(), "{out}");
    assert_no_secret(&s3, &out);
    assert!(out.contains("  kaniko | error building image:"), "kaniko's last words are in the output:\n{out}");
    // Kept for troubleshooting: the Secrets and the Job (and its pod).
    let left = objects_of_run(&ns, "f1");
    for object in ["job.batch/build-model-f1-build", "secret/build-model-f1-context", "secret/build-model-f1-registry"] {
        assert!(left.iter().any(|o| o == object), "{object} in {left:?}");
    }
    let args = kubectl(&["-n", &ns, "get", "job", "build-model-f1-build", "-o", "jsonpath={.spec.template.spec.containers[0].args}"]);
    assert!(args.contains(&format!("--context=s3://{bucket}/build-contexts/{checksum}.tar.gz")), "{args}");
    assert!(args.contains(&format!("--destination=registry.example.com/build/model:{checksum}")), "{args}");
    // The S3 credentials reach the pod only by reference to the run's own Secret, which
    // holds the source's keys.
    let env = kubectl(&["-n", &ns, "get", "job", "build-model-f1-build", "-o", "jsonpath={.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name}"]);
    assert_eq!(env, "build-model-f1-context");
    let copied = kubectl(&["-n", &ns, "get", "secret", "build-model-f1-context", "-o", "jsonpath={.data.AWS_ACCESS_KEY_ID}"]);
    let source = kubectl(&["-n", &ns, "get", "secret", "kaptain-s3-credentials", "-o", "jsonpath={.data.AWS_ACCESS_KEY_ID}"]);
    assert_eq!(copied, source);
    // No record of a failed build: the next run builds again.
    let records = kubectl(&["-n", &ns, "get", "configmaps", "-l", "kaptain.io/image-record", "-o", "name"]);
    assert_eq!(records.trim(), "");
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
#[ignore = "needs the local control plane and its S3 server (scripts/test)"]
fn ctrl_c_during_a_build_deletes_its_secrets_and_job() {
    let s3 = s3();
    let ns = build_namespace("buildint", &s3);
    let dir = notebook_dir("slow", &ns, &format!("int-{}", std::process::id()), &s3, "    kaptain-sim/delay-seconds: \"60\"\n", "");
    let cell = dir.join("build.cell");
    let child = Command::new(env!("CARGO_BIN_EXE_kaptain"))
        .args(["apply", cell.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--run-id", "i1", "--wait"])
        .env("KUBECONFIG", user_kubeconfig(&ns))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..150 {
        if objects_of_run(&ns, "i1").iter().any(|o| o.starts_with("job.batch/")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert_eq!(objects_of_run(&ns, "i1"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
#[ignore = "needs the local control plane and its S3 server (scripts/test)"]
fn wrong_s3_keys_are_reported_before_anything_is_created() {
    let s3 = s3();
    // namespace() seeds keys the S3 server does not know.
    let ns = namespace("buildkeys");
    let dir = notebook_dir("keys", &ns, &format!("keys-{}", std::process::id()), &s3, QUICK, "");
    let refused = apply(&ns, &dir, "k1");
    let out = text(&refused);
    assert!(!refused.status.success(), "{out}");
    assert!(out.contains("could not upload the build context to s3://") && out.contains("S3 answered 403"), "{out}");
    assert!(out.contains("check the keys in Secret \"kaptain-s3-credentials\""), "{out}");
    assert!(!out.contains("seeded-secret-key"), "{out}");
    assert_eq!(objects_of_run(&ns, "k1"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
#[ignore = "needs the local control plane and its S3 server (scripts/test)"]
fn a_missing_file_is_named_before_anything_is_created() {
    let s3 = s3();
    let ns = build_namespace("buildfile", &s3);
    let dir = notebook_dir("missing", &ns, "unused", &s3, QUICK, "");
    std::fs::remove_file(dir.join("src/model.py")).unwrap();
    let out = apply(&ns, &dir, "m1");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("model.extra_files[0]: \"src/model.py\" was not found in"), "{}", text(&out));
    assert_eq!(objects_of_run(&ns, "m1"), Vec::<String>::new());
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
