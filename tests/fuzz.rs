//! Garbage in, a clear error out, never a panic: property tests over random bytes, mutated
//! example cells, random YAML trees and random flag lines, through the library and the CLI.

use std::io::Write;
use std::process::{Command, Stdio};

use kaptain::identity::RunId;
use kaptain::lifecycle::Outcome;
use kaptain::{ops, Options};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const EXAMPLES: [&str; 6] = [
    include_str!("../examples/cells/build.cell"),
    include_str!("../examples/cells/train.cell"),
    include_str!("../examples/cells/train-pytorch.cell"),
    include_str!("../examples/cells/tune.cell"),
    include_str!("../examples/cells/deploy.cell"),
    include_str!("../examples/cells/deploy-kserve.cell"),
];

/// Every entry point on one input: an error must say something; success must be consistent.
fn exercise(text: &str) {
    let run_id = RunId::parse("r1").unwrap();
    let options = Options::default();
    match ops::render(text, &options, &run_id) {
        Ok(objects) => {
            for outcome in Outcome::ALL {
                let plan = ops::plan(text, &options, &run_id, outcome).expect("what renders also plans");
                assert_eq!(plan.len(), objects.len());
            }
            let _ = ops::objects_yaml(&objects);
        }
        Err(error) => assert!(!error.to_string().trim().is_empty()),
    }
}

fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = base.as_bytes().to_vec();
    for &(at, op, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        match op % 4 {
            0 => { bytes.remove(at); }
            1 => bytes.insert(at, byte),
            2 => bytes[at] = byte,
            _ => {
                let line_end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| at + p);
                bytes.drain(at..line_end);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn yaml_tree() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("~".to_string()), Just("true".to_string()), Just("-3".to_string()), Just("1e400".to_string()),
        Just("\"2.5.0\"".to_string()), Just("[]".to_string()), Just("{}".to_string()), Just("&a x".to_string()),
        Just("*a".to_string()), Just("!!binary aGk=".to_string()), "[a-z_]{1,12}", "[0-9.]{1,8}",
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(("[a-z_]{1,16}", inner), 0..6).prop_map(|pairs| {
                let body: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&String::from_utf8_lossy(&bytes));
        let mut with_magic = b"%%kaptain train\n".to_vec();
        with_magic.extend(&bytes);
        exercise(&String::from_utf8_lossy(&with_magic));
    }

    #[test]
    fn mutated_examples(which in 0..EXAMPLES.len(), edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        exercise(&mutate(EXAMPLES[which], &edits));
    }

    #[test]
    fn random_values_under_every_key(
        step in prop::sample::select(vec!["build", "train", "tune", "deploy"]),
        key in prop::sample::select(vec![
            "model", "config", "hyperparameters", "args", "gpus", "cpu", "memory", "workers", "timeout",
            "objectives", "objective_goal", "trials", "algorithm", "algorithm_setting", "model_uri", "autoscale",
            "ttl_seconds_after_finished", "force_cleanup", "replace",
        ]),
        value in yaml_tree(),
    ) {
        exercise(&format!("%%kaptain {step}\n{}{key}: {value}\n", EXAMPLES[1].split_once('\n').unwrap().1));
        exercise(&format!("%%kaptain {step}\nmodel:\n  id: {value}\n  framework: {value}\n  labels: {value}\n"));
    }

    #[test]
    fn random_flag_lines(flags in prop::collection::vec("(--)?[a-z-]{0,20}(=[a-z0-9'\" .{}\\[\\]-]{0,10})?", 0..6)) {
        exercise(&format!("%%kaptain tune {}\n{}", flags.join(" "), EXAMPLES[3].split_once('\n').unwrap().1));
    }
}

/// Through the binary: whatever the input, exit 0 with output or exit 2 with a message.
#[test]
fn the_cli_never_panics() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(any::<u8>(), 0..512);
    for round in 0..40 {
        let mut input = strategy.new_tree(&mut runner).unwrap().current();
        if round % 2 == 0 {
            let mut cell = EXAMPLES[round % EXAMPLES.len()].as_bytes().to_vec();
            let at = input.len() % cell.len().max(1);
            cell.splice(at..at, input);
            input = cell;
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_kaptain"))
            .args(["render", "-", "--run-id", "r1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(&input);
        let out = child.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => assert!(!out.stdout.is_empty()),
            Some(2) => {
                assert!(out.stdout.is_empty());
                assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
            }
            other => panic!("exit {other:?} for input {:?}\n{}", String::from_utf8_lossy(&input), String::from_utf8_lossy(&out.stderr)),
        }
    }
}

#[test]
fn deep_nesting_and_alias_bombs_are_refused() {
    let deep_flow = format!("%%kaptain train\nmodel: {}\n", "[".repeat(100_000));
    exercise(&deep_flow);
    let mut bomb = String::from("%%kaptain train\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
    }
    exercise(&bomb);
}
