//! The CLI contract acceptance checks use: render / plan / policy, exit status 2 on bad input
//! with the message on stderr and nothing on stdout, golden manifests for every example cell.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn kaptain(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaptain"))
        .args(args)
        .env_remove("KAPTAIN_SDK_FORCE_CLEANUP")
        .env_remove("KAPTAIN_SDK_DELETE_EXPERIMENT")
        .env_remove("KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED")
        .env_remove("KAPTAIN_SDK_KEEP_SERVING_CREDENTIALS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kaptain runs");
    let mut pipe = child.stdin.take().unwrap();
    // The CLI may exit before reading everything (size limit): a broken pipe is fine.
    let _ = pipe.write_all(stdin.unwrap_or_default());
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

fn example(name: &str) -> String {
    format!("{}/examples/cells/{name}.cell", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn render_lists_build_objects_before_the_training_job() {
    let out = json(&kaptain(&["render", &example("train"), "--run-id", "r1", "--namespace", "kaptain-test"], None));
    let kinds: Vec<&str> = out.as_array().unwrap().iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Secret", "Secret", "Job", "TFJob"]);
    for object in out.as_array().unwrap() {
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/managed-by"], "kaptain");
        assert_eq!(labels["kaptain.io/run-id"], "r1");
        assert_eq!(labels["kaptain.io/model-id"], "dev-mnist");
        assert_eq!(object["metadata"]["namespace"], "kaptain-test");
    }
    assert_eq!(out[0]["metadata"]["labels"]["kaptain.io/step"], "build");
    assert_eq!(out[3]["metadata"]["labels"]["kaptain.io/step"], "train");
}

#[test]
fn render_reads_stdin_and_prints_yaml() {
    let cell = std::fs::read(example("deploy")).unwrap();
    let out = kaptain(&["render", "-", "--run-id", "r1", "--format", "yaml"], Some(&cell));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("\nkind: ").count(), 3, "{text}");
    assert!(text.contains("kind: InferenceService"));
}

#[test]
fn the_same_run_id_renders_the_same_bytes_and_a_new_run_gets_new_names() {
    let a = kaptain(&["render", &example("tune"), "--run-id", "r1"], None);
    let b = kaptain(&["render", &example("tune"), "--run-id", "r1"], None);
    assert_eq!(a.stdout, b.stdout);
    let c = json(&kaptain(&["render", &example("tune")], None));
    let d = json(&kaptain(&["render", &example("tune")], None));
    assert_ne!(c[0]["metadata"]["name"], d[0]["metadata"]["name"], "each run has its own id");
}

#[test]
fn plan_has_one_entry_per_rendered_object() {
    let rendered = json(&kaptain(&["render", &example("train"), "--run-id", "r1"], None));
    let plan = json(&kaptain(&["plan", &example("train"), "--run-id", "r1", "--outcome", "succeeded"], None));
    assert_eq!(plan.as_array().unwrap().len(), rendered.as_array().unwrap().len());
    for entry in plan.as_array().unwrap() {
        for key in ["apiVersion", "kind", "name", "action"] {
            assert!(entry.get(key).is_some(), "{entry}");
        }
        let action = entry["action"].as_str().unwrap();
        let expected = if entry["kind"] == "TFJob" { "keep" } else { "delete" };
        assert_eq!(action, expected, "{entry}");
    }
    let forced = json(&kaptain(
        &["plan", &example("train"), "--run-id", "r1", "--outcome", "succeeded", "--env", "KAPTAIN_SDK_FORCE_CLEANUP=Yes"],
        None,
    ));
    assert!(forced.as_array().unwrap().iter().all(|e| e["action"] == "delete"));
}

#[test]
fn policy_prints_the_table() {
    let out = kaptain(&["policy"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("| build Secrets + kaniko Job (and its pods) | delete | keep | delete |"), "{text}");
    let table = json(&kaptain(&["policy", "--format", "json"], None));
    assert_eq!(table.as_array().unwrap().len(), 5);
}

fn assert_bad_input(output: &Output, needle: &str) {
    assert_eq!(output.status.code(), Some(2), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
}

#[test]
fn bad_input_exits_2_with_the_message_on_stderr() {
    assert_bad_input(&kaptain(&["render", "-"], Some(b"%%kaptain train --wokers 2\n")), "did you mean --workers?");
    assert_bad_input(&kaptain(&["render", "/nonexistent.cell"], None), "cannot read the cell file");
    assert_bad_input(&kaptain(&["render", "-"], Some(&[0xff, 0xfe, 0x00, 0x80])), "not UTF-8");
    assert_bad_input(&kaptain(&["render", "-", "--run-id", "BAD"], Some(b"")), "--run-id");
    assert_bad_input(&kaptain(&["plan", &example("train"), "--outcome", "maybe"], None), "maybe");
    assert_bad_input(&kaptain(&["plan", &example("train"), "--outcome", "failed", "--env", "KAPTAIN_SDK_FORCE=1"], None), "did you mean");
    let huge = vec![b'#'; 2 * 1024 * 1024];
    assert_bad_input(&kaptain(&["render", "-"], Some(&huge)), "256 KiB");
}

/// Golden manifests: the exact objects for each example cell. After an intended change,
/// regenerate with `UPDATE_GOLDEN=1 cargo test --test cli` and review the diff.
#[test]
fn golden_manifests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for name in ["build", "train", "train-pytorch", "tune", "deploy", "deploy-kserve"] {
        let out = kaptain(&["render", &example(name), "--run-id", "r1", "--namespace", "kaptain-test", "--format", "yaml"], None);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let path = dir.join(format!("{name}.yaml"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &out.stdout).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
        assert_eq!(String::from_utf8_lossy(&out.stdout), golden, "{name} differs from {}", path.display());
    }
}
