//! Runs found in a namespace by label alone: what `kaptain runs` lists and `sweep` cleans.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{status, ObjectRef};
use crate::identity::{
    managed_selector, notebook_server_label, RunId, CELL_ANNOTATION, MODEL_ID_LABEL, NOTEBOOK_ANNOTATION, NOTEBOOK_SERVER_LABEL,
    RUN_ID_LABEL, STEP_LABEL,
};
use crate::kinds;
use crate::kube::{Client, KubeError, Transport};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunObject {
    pub kind: kinds::KindInfo,
    pub name: String,
    pub step: String,
    pub state: String,
    pub created: i64,
    /// When it reached its outcome (seconds since the epoch); None while it works or when it has
    /// none to reach (a Secret).
    pub finished: Option<i64>,
    /// Still working: a job or an experiment without an outcome yet.
    pub active: bool,
    /// A deployment (an InferenceService): Revisions serve traffic behind it, and deleting it
    /// ends the deployment.
    pub serving: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub model_id: String,
    /// The last step the run reached (a train run lists build objects and a TFJob: train).
    pub step: String,
    pub status: String,
    /// Seconds since the newest object of the run was created.
    pub age_seconds: i64,
    /// Seconds since the run ended: since its last job or experiment reached its outcome, or,
    /// with none to follow, since its newest object was created. None while any still works:
    /// such a run is never swept by age.
    pub ended_seconds_ago: Option<i64>,
    /// The label value of the notebook server that started it; None from the command line.
    pub notebook_server: Option<String>,
    /// Started by the notebook server the listing was asked for (see [`mark_ours`]).
    pub ours: bool,
    /// Where the run's cell lives (its objects' annotations), when the front end said so: the
    /// panel groups runs by notebook and cell, and finds orphans with them.
    pub notebook: Option<String>,
    pub cell_id: Option<String>,
    pub objects: Vec<RunObject>,
}

pub(crate) fn created_at(object: &serde_json::Value) -> i64 {
    object["metadata"]["creationTimestamp"].as_str().and_then(unix_seconds).unwrap_or(0)
}

/// Seconds since the epoch of a Kubernetes timestamp (`2026-11-28T19:09:12Z`, always UTC).
/// Small enough not to need a date library in the wasm.
pub(crate) fn unix_seconds(timestamp: &str) -> Option<i64> {
    let b = timestamp.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| timestamp.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from 1970-01-01 to the date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Whose runs a listing or a sweep covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// Those one notebook server started (the label value of [`notebook_server_label`]).
    Server(String),
    /// Those started without a notebook server: the command line, the demo page.
    NoServer,
    /// Everyone's: only when the user asks for all.
    Everyone,
}

impl Whose {
    /// From what a front end passes: the server it is (as it names itself) and whether the
    /// user asked for every server's runs.
    pub fn of(notebook_server: Option<&str>, all: bool) -> Whose {
        match (all, notebook_server) {
            (true, _) => Whose::Everyone,
            (false, Some(server)) => Whose::Server(notebook_server_label(server)),
            (false, None) => Whose::NoServer,
        }
    }

    /// The label selector of these runs' objects.
    fn selector(&self) -> String {
        match self {
            Whose::Server(label) => format!("{},{NOTEBOOK_SERVER_LABEL}={label}", managed_selector()),
            Whose::NoServer => format!("{},!{NOTEBOOK_SERVER_LABEL}", managed_selector()),
            Whose::Everyone => managed_selector(),
        }
    }
}

/// Every run with objects in the namespace, of `whose`, newest first.
pub async fn list_runs<T: Transport>(client: &Client<T>, namespace: &str, whose: &Whose) -> Result<Vec<RunSummary>, KubeError> {
    let now = client.transport().now();
    let mut runs: BTreeMap<String, RunSummary> = BTreeMap::new();
    let selector = whose.selector();
    for kind in kinds::CREATED_KINDS {
        // Secrets and ServiceAccounts have no status to read: their metadata is all that is
        // asked for (what a Secret holds never travels).
        let listed = match kind == kinds::SECRET || kind == kinds::SERVICE_ACCOUNT {
            true => client.list_metadata(&kind, namespace, &selector).await,
            false => client.list(&kind, namespace, &selector).await,
        };
        let items = match listed {
            Ok(list) => list.items,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        for item in items {
            let labels = &item["metadata"]["labels"];
            let Some(run_id) = labels[RUN_ID_LABEL].as_str() else { continue };
            let step = labels[STEP_LABEL].as_str().unwrap_or_default().to_string();
            let progress = status::progress(kind, &item);
            let object = RunObject {
                kind,
                name: item["metadata"]["name"].as_str().unwrap_or_default().into(),
                step: step.clone(),
                finished: progress.outcome.and_then(|_| status::finished_at(&item)),
                active: kind.works_towards_an_outcome() && progress.outcome.is_none(),
                serving: kind.follow == kinds::Follow::Serving,
                state: progress.state,
                created: created_at(&item),
            };
            let run = runs.entry(run_id.to_string()).or_insert_with(|| RunSummary {
                run_id: run_id.to_string(),
                model_id: labels[MODEL_ID_LABEL].as_str().unwrap_or_default().into(),
                step: String::new(),
                status: String::new(),
                age_seconds: 0,
                ended_seconds_ago: None,
                notebook_server: labels[NOTEBOOK_SERVER_LABEL].as_str().map(String::from),
                ours: false,
                notebook: None,
                cell_id: None,
                objects: Vec::new(),
            });
            let annotation = |key: &str| item["metadata"]["annotations"][key].as_str().filter(|v| !v.is_empty()).map(String::from);
            run.notebook = run.notebook.take().or_else(|| annotation(NOTEBOOK_ANNOTATION));
            run.cell_id = run.cell_id.take().or_else(|| annotation(CELL_ANNOTATION));
            run.objects.push(object);
        }
    }
    let mut runs: Vec<RunSummary> = runs.into_values().collect();
    for run in &mut runs {
        // Objects come in delete order (consumers first): the first is the furthest step.
        let main = run.objects.iter().find(|o| o.step != "build").or(run.objects.first());
        if let Some(main) = main {
            run.step = main.step.clone();
            run.status = main.state.clone();
        }
        let newest = run.objects.iter().map(|o| o.created).max().unwrap_or(now);
        run.age_seconds = now - newest;
        run.ended_seconds_ago = match run.objects.iter().any(|o| o.active) {
            true => None,
            false => Some(now - run.objects.iter().filter_map(|o| o.finished).max().unwrap_or(newest).max(newest)),
        };
    }
    runs.sort_by_key(|r| r.age_seconds);
    Ok(runs)
}

/// Marks the runs `server` (as it names itself) started, for a front end that lists everyone's.
pub fn mark_ours(runs: &mut [RunSummary], server: Option<&str>) {
    let ours = server.map(notebook_server_label);
    for run in runs {
        run.ours = ours.is_some() && run.notebook_server == ours;
    }
}

/// What a sweep removes from an abandoned run: everything but a deployment, that is the
/// InferenceService and the serving credentials it reads its model with.
pub fn sweepable(run: &RunSummary) -> impl Iterator<Item = &RunObject> {
    let deployed = run.objects.iter().any(|o| o.kind.is_inference_service());
    run.objects
        .iter()
        .filter(move |o| !(o.kind.is_inference_service() || deployed && o.step == "deploy"))
}

/// Which runs a sweep cleans, among `whose`: those named (orphans a front end found: their
/// notebook or cell is gone) and those that ended longer ago than a limit (a run that still
/// works is never swept by age).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSelection {
    pub whose: Whose,
    pub older_than_seconds: Option<u32>,
    pub run_ids: Vec<RunId>,
}

impl SweepSelection {
    pub fn selects(&self, run: &RunSummary) -> bool {
        let ended_before = |limit: u32| run.ended_seconds_ago.is_some_and(|ago| ago > i64::from(limit));
        self.older_than_seconds.is_some_and(ended_before) || self.run_ids.iter().any(|id| id.as_str() == run.run_id)
    }
}

/// What a sweep did to one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweptRun {
    pub run_id: String,
    pub age_seconds: i64,
    /// Deleted (with `dry_run`: what would be).
    pub deleted: Vec<ObjectRef>,
    /// The deployment, which a sweep never removes.
    pub kept: Vec<ObjectRef>,
}

/// Deletes the sweepable objects of the selected runs, newest run first. `deleted` is
/// called after each object is deleted (or, with `dry_run`, would be), for a front end that
/// prints as it goes. Stops at the first failed delete.
pub async fn sweep<T: Transport>(
    client: &Client<T>,
    namespace: &str,
    selection: &SweepSelection,
    dry_run: bool,
    deleted: &mut dyn FnMut(&RunSummary, &RunObject),
) -> Result<Vec<SweptRun>, KubeError> {
    let runs = list_runs(client, namespace, &selection.whose).await?;
    let mut swept = Vec::new();
    for run in runs.iter().filter(|r| selection.selects(r)) {
        let mut done = SweptRun { run_id: run.run_id.clone(), age_seconds: run.age_seconds, deleted: Vec::new(), kept: Vec::new() };
        for object in sweepable(run) {
            if !dry_run {
                client.delete(&object.kind, namespace, &object.name).await?;
            }
            deleted(run, object);
            done.deleted.push(ObjectRef { kind: object.kind, name: object.name.clone() });
        }
        for object in run.objects.iter().filter(|o| !done.deleted.iter().any(|d| d.kind == o.kind && d.name == o.name)) {
            done.kept.push(ObjectRef { kind: object.kind, name: object.name.clone() });
        }
        swept.push(done);
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, age: i64, objects: &[(kinds::KindInfo, &str)]) -> RunSummary {
        RunSummary {
            run_id: id.into(),
            model_id: "m".into(),
            step: String::new(),
            status: String::new(),
            age_seconds: age,
            ended_seconds_ago: Some(age),
            notebook_server: None,
            ours: false,
            notebook: None,
            cell_id: None,
            objects: objects
                .iter()
                .map(|(kind, step)| RunObject {
                    kind: *kind,
                    name: format!("{id}-{kind}"),
                    step: (*step).into(),
                    state: String::new(),
                    created: 0,
                    finished: None,
                    active: false,
                    serving: kind.follow == kinds::Follow::Serving,
                })
                .collect(),
        }
    }

    fn selection(older_than_seconds: Option<u32>, run_ids: &[&str]) -> SweepSelection {
        SweepSelection { whose: Whose::Everyone, older_than_seconds, run_ids: run_ids.iter().map(|id| RunId::parse(id).unwrap()).collect() }
    }

    #[test]
    fn a_sweep_selects_named_runs_and_runs_that_ended_long_ago() {
        let named = selection(None, &["r1"]);
        assert!(named.selects(&run("r1", 0, &[])));
        assert!(!named.selects(&run("r2", 1_000_000, &[])));
        let old = selection(Some(60), &[]);
        assert!(old.selects(&run("r2", 61, &[])) && !old.selects(&run("r2", 60, &[])));
        assert!(!selection(None, &[]).selects(&run("r1", 1_000_000, &[])));
        // Created 30 h ago and still training: not swept by age, only by name.
        let working = RunSummary { ended_seconds_ago: None, ..run("r3", 30 * 3600, &[(kinds::TFJOB, "train")]) };
        assert!(!selection(Some(24 * 3600), &[]).selects(&working));
        assert!(selection(Some(24 * 3600), &["r3"]).selects(&working));
    }

    #[test]
    fn whose_runs_by_label() {
        assert_eq!(Whose::of(Some("/user/alice/"), false).selector(), "app.kubernetes.io/managed-by=kaptain,kaptain.io/notebook-server=user.alice");
        assert_eq!(Whose::of(None, false).selector(), "app.kubernetes.io/managed-by=kaptain,!kaptain.io/notebook-server");
        assert_eq!(Whose::of(Some("/user/alice/"), true), Whose::Everyone);
    }

    #[test]
    fn a_sweep_keeps_the_deployment() {
        let deploy = run("r1", 0, &[(kinds::KFSERVING_INFERENCE_SERVICE, "deploy"), (kinds::SERVICE_ACCOUNT, "deploy"), (kinds::SECRET, "deploy")]);
        assert_eq!(sweepable(&deploy).count(), 0);
        // Serving credentials without their InferenceService serve nothing: they go.
        let failed = run("r2", 0, &[(kinds::SERVICE_ACCOUNT, "deploy"), (kinds::SECRET, "deploy")]);
        assert_eq!(sweepable(&failed).count(), 2);
        let train = run("r3", 0, &[(kinds::TFJOB, "train"), (kinds::JOB, "build"), (kinds::SECRET, "build")]);
        assert_eq!(sweepable(&train).map(|o| o.kind).collect::<Vec<_>>(), [kinds::TFJOB, kinds::JOB, kinds::SECRET]);
    }

    #[test]
    fn kubernetes_timestamps() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(unix_seconds("2026-11-28T19:09:12Z"), Some(1_795_892_952));
        assert_eq!(unix_seconds("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(unix_seconds("2026-13-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("yesterday"), None);
    }
}
