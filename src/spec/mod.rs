//! What the user asks for: the `%%kaptain` cell, parsed and validated into typed specs.
//!
//! Nothing here does IO. Every error is a [`SpecError`] that names the field, says what is
//! wrong and how to fix it, and points at the line and column.

mod config;
mod env;
mod error;
mod grammar;
mod model;
mod quantity;
mod steps;
mod yaml;

pub use config::{BuilderResources, Config, ServingApi};
pub use env::{Env, ENV_KEYS, ENV_DELETE_EXPERIMENT, ENV_FORCE_CLEANUP, ENV_KEEP_SERVING_CREDENTIALS, ENV_TTL_SECONDS_AFTER_FINISHED};
pub use error::{Location, SpecError};
pub use grammar::{parse_cell, ParseContext, MAX_CELL_BYTES};
pub use model::{Framework, Model};
pub use quantity::Quantity;
pub use yaml::parse_duration;
pub use steps::{
    Algorithm, DeploySpec, Domain, MetricStrategy, ObjectiveType, Resources, StepSpec, TrainSpec, TuneSpec,
};

use std::fmt;

/// The four steps of the Kaptain SDK workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Build,
    Train,
    Tune,
    Deploy,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Build, Step::Train, Step::Tune, Step::Deploy];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Build => "build",
            Step::Train => "train",
            Step::Tune => "tune",
            Step::Deploy => "deploy",
        }
    }

    pub fn parse(text: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Train and tune run on an image the build step makes first.
    pub fn needs_build(self) -> bool {
        matches!(self, Step::Build | Step::Train | Step::Tune)
    }

    /// The phases a run of this step goes through, in order: train and tune build first.
    pub fn phases(self) -> &'static [Step] {
        match self {
            Step::Build => &[Step::Build],
            Step::Train => &[Step::Build, Step::Train],
            Step::Tune => &[Step::Build, Step::Tune],
            Step::Deploy => &[Step::Deploy],
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, validated `%%kaptain` cell with every default resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub model: Model,
    pub config: Config,
    pub step: StepSpec,
}

impl Cell {
    pub fn step_kind(&self) -> Step {
        self.step.kind()
    }
}
