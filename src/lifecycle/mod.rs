//! The lifecycle table (DESIGN §1) as data, and the plan that applies it to a run's objects.
//! Everything that decides whether an object is deleted reads [`TABLE`].

use std::fmt;

use serde::Serialize;

use crate::manifest::Manifest;
use crate::spec::{Cell, Step, StepSpec};

/// A row of the table: a group of objects that share their fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    /// Build Secrets (registry, S3, CA) and the kaniko Job with its pods.
    BuildObjects,
    /// TFJob or PyTorchJob.
    TrainingJob,
    /// Katib Experiment with its trials.
    Experiment,
    /// The deploy S3 Secret and the ServiceAccount that carries it.
    ServingCredentials,
    /// The InferenceService and the Knative objects KFServing makes for it.
    InferenceService,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// The user interrupted the cell (or restarted / shut down the kernel) while it ran.
    Interrupted,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Succeeded, Outcome::Failed, Outcome::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// User switches the table refers to; a cell keyword or flag, else a KAPTAIN_SDK_* variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    ForceCleanup,
    DeleteExperiment,
    KeepServingCredentials,
}

impl Switch {
    pub fn keyword(self) -> &'static str {
        match self {
            Switch::ForceCleanup => "force_cleanup",
            Switch::DeleteExperiment => "delete_experiment",
            Switch::KeepServingCredentials => "keep_serving_credentials",
        }
    }

    pub fn env(self) -> &'static str {
        use crate::spec::*;
        match self {
            Switch::ForceCleanup => ENV_FORCE_CLEANUP,
            Switch::DeleteExperiment => ENV_DELETE_EXPERIMENT,
            Switch::KeepServingCredentials => ENV_KEEP_SERVING_CREDENTIALS,
        }
    }

    /// The switch as the cell resolved it (cell or flag, else environment, else off).
    pub fn is_on(self, cell: &Cell) -> bool {
        match (self, &cell.step) {
            (Switch::ForceCleanup, StepSpec::Train(t)) => t.force_cleanup,
            (Switch::DeleteExperiment, StepSpec::Tune(t)) => t.delete_experiment,
            (Switch::KeepServingCredentials, StepSpec::Deploy(d)) => d.keep_serving_credentials,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", content = "switch", rename_all = "snake_case")]
pub enum Rule {
    Delete,
    Keep,
    DeleteIf(Switch),
    DeleteUnless(Switch),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Delete => f.write_str("delete"),
            Rule::Keep => f.write_str("keep"),
            Rule::DeleteIf(s) => write!(f, "delete if {} (or {}), else keep", s.keyword(), s.env()),
            Rule::DeleteUnless(s) => write!(f, "delete, unless {} (or {})", s.keyword(), s.env()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Row {
    pub resource: Resource,
    pub what: &'static str,
    pub on_success: Rule,
    pub on_failure: Rule,
    pub on_interruption: Rule,
}

impl Row {
    pub fn rule(&self, outcome: Outcome) -> Rule {
        match outcome {
            Outcome::Succeeded => self.on_success,
            Outcome::Failed => self.on_failure,
            Outcome::Interrupted => self.on_interruption,
        }
    }
}

/// DESIGN §1: when each object a run created is removed.
pub const TABLE: [Row; 5] = [
    Row {
        resource: Resource::BuildObjects,
        what: "build Secrets + kaniko Job (and its pods)",
        on_success: Rule::Delete,
        on_failure: Rule::Keep,
        on_interruption: Rule::Delete,
    },
    Row {
        resource: Resource::TrainingJob,
        what: "TFJob / PyTorchJob",
        on_success: Rule::DeleteIf(Switch::ForceCleanup),
        on_failure: Rule::DeleteIf(Switch::ForceCleanup),
        on_interruption: Rule::Delete,
    },
    Row {
        resource: Resource::Experiment,
        what: "Experiment (with its trials)",
        on_success: Rule::DeleteIf(Switch::DeleteExperiment),
        on_failure: Rule::Keep,
        on_interruption: Rule::Delete,
    },
    Row {
        resource: Resource::ServingCredentials,
        what: "deploy S3 Secret (+ its ServiceAccount)",
        on_success: Rule::DeleteUnless(Switch::KeepServingCredentials),
        on_failure: Rule::Keep,
        on_interruption: Rule::Delete,
    },
    Row {
        resource: Resource::InferenceService,
        what: "InferenceService + its Knative objects",
        on_success: Rule::Keep,
        on_failure: Rule::Keep,
        on_interruption: Rule::Delete,
    },
];

pub fn row(resource: Resource) -> &'static Row {
    TABLE.iter().find(|r| r.resource == resource).expect("every resource has a row")
}

/// Where a run ended: the phase it was in and how that phase ended. A phase before it
/// (the build of a train run) had succeeded, or the run would not have moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    pub phase: Step,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Delete,
    Keep,
}

/// One object's fate: what to do and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    /// Of `kind`, for readers of the plan (which InferenceService group).
    pub api_version: String,
    pub kind: crate::kinds::KindInfo,
    pub name: String,
    pub action: Action,
    /// Human-readable: which row and rule decided, e.g. "TFJob / PyTorchJob on success: keep".
    pub reason: String,
    /// What this fate costs the user, where the table knows (DESIGN §1's serving caveat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
}

/// Decides, for every object of a run, whether it is deleted or kept. Entries come in the order
/// deletes must be sent: consumers (Jobs, InferenceServices) before what they consume (Secrets).
pub fn plan(cell: &Cell, objects: &[Manifest], end: RunEnd) -> Vec<PlanEntry> {
    let mut entries: Vec<(usize, Resource, PlanEntry)> = objects
        .iter()
        .map(|object| {
            let outcome = if object.step < end.phase && end.outcome != Outcome::Interrupted {
                Outcome::Succeeded
            } else {
                end.outcome
            };
            let row = row(object.resource);
            let rule = row.rule(outcome);
            let delete = match rule {
                Rule::Delete => true,
                Rule::Keep => false,
                Rule::DeleteIf(s) => s.is_on(cell),
                Rule::DeleteUnless(s) => !s.is_on(cell),
            };
            let action = if delete { Action::Delete } else { Action::Keep };
            let decided = match rule {
                Rule::DeleteIf(s) | Rule::DeleteUnless(s) => {
                    format!(" ({} is {})", s.keyword(), if s.is_on(cell) { "on" } else { "off" })
                }
                _ => String::new(),
            };
            let order = crate::kinds::CREATED_KINDS.iter().position(|k| *k == object.kind).unwrap_or(usize::MAX);
            let entry = PlanEntry {
                api_version: object.kind.api_version(),
                kind: object.kind,
                name: object.name.clone(),
                action,
                reason: format!("{} on {}: {rule}{decided}", row.what, outcome_words(outcome)),
                caveat: None,
            };
            (order, object.resource, entry)
        })
        .collect();
    entries.sort_by_key(|(order, _, _)| *order);
    let fate_of = |resource: Resource, action: Action| entries.iter().position(|(_, r, e)| *r == resource && e.action == action);
    if let (Some(credentials), Some(_)) =
        (fate_of(Resource::ServingCredentials, Action::Delete), fate_of(Resource::InferenceService, Action::Keep))
    {
        entries[credentials].2.caveat = Some(serving_caveat());
    }
    entries.into_iter().map(|(_, _, e)| e).collect()
}

/// The serving credentials go while the InferenceService stays: a predictor that scales from
/// zero then starts without them.
fn serving_caveat() -> String {
    let switch = Switch::KeepServingCredentials;
    format!(
        "The serving credentials (S3 Secret, ServiceAccount) go while the InferenceService stays: scaled from zero, it cannot fetch its model. To keep them, set {} (or {}=true; JupyterLab: Settings › kaptain) and deploy again.",
        switch.keyword(),
        switch.env()
    )
}

fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "success",
        Outcome::Failed => "failure",
        Outcome::Interrupted => "cell interruption",
    }
}

/// The table as Markdown, as DESIGN §1 prints it.
pub fn table_markdown() -> String {
    let mut out = String::from("| resources | on success | on failure | on cell interruption |\n| --- | --- | --- | --- |\n");
    for row in &TABLE {
        out.push_str(&format!("| {} | {} | {} | {} |\n", row.what, row.on_success, row.on_failure, row.on_interruption));
    }
    out
}
