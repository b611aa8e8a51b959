//! The step keywords: what `train`, `tune` and `deploy` take, with the SDK's defaults.

use super::config::s3_uri;
use super::env::{Env, ENV_DELETE_EXPERIMENT, ENV_FORCE_CLEANUP, ENV_KEEP_SERVING_CREDENTIALS, ENV_TTL_SECONDS_AFTER_FINISHED};
use super::error::SpecError;
use super::quantity::Quantity;
use super::yaml::{Field, Node};
use super::{Config, Model, Step};

/// What a step's keyword holds: booleans can be bare flags (`--force-cleanup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Value,
}

const TRAIN_KEYWORDS: &[(&str, Kind)] = &[
    ("hyperparameters", Kind::Value),
    ("args", Kind::Value),
    ("gpus", Kind::Value),
    ("cpu", Kind::Value),
    ("memory", Kind::Value),
    ("workers", Kind::Value),
    ("ttl_seconds_after_finished", Kind::Value),
    ("force_cleanup", Kind::Bool),
    ("timeout", Kind::Value),
    ("stuck_timeout", Kind::Value),
];

const TUNE_KEYWORDS: &[(&str, Kind)] = &[
    ("hyperparameters", Kind::Value),
    ("args", Kind::Value),
    ("objectives", Kind::Value),
    ("objective_goal", Kind::Value),
    ("objective_type", Kind::Value),
    ("metric_strategies", Kind::Value),
    ("workers", Kind::Value),
    ("gpus", Kind::Value),
    ("cpu", Kind::Value),
    ("memory", Kind::Value),
    ("trials", Kind::Value),
    ("parallel_trials", Kind::Value),
    ("failed_trials", Kind::Value),
    ("algorithm", Kind::Value),
    ("algorithm_setting", Kind::Value),
    ("delete_experiment", Kind::Bool),
    ("ttl_seconds_after_finished", Kind::Value),
    ("timeout", Kind::Value),
    ("stuck_timeout", Kind::Value),
];

const DEPLOY_KEYWORDS: &[(&str, Kind)] = &[
    ("model_uri", Kind::Value),
    ("autoscale", Kind::Value),
    ("gpus", Kind::Value),
    ("cpu", Kind::Value),
    ("memory", Kind::Value),
    ("replace", Kind::Bool),
    ("keep_serving_credentials", Kind::Bool),
];

pub(super) fn keywords(step: Step) -> &'static [(&'static str, Kind)] {
    match step {
        Step::Build => &[],
        Step::Train => TRAIN_KEYWORDS,
        Step::Tune => TUNE_KEYWORDS,
        Step::Deploy => DEPLOY_KEYWORDS,
    }
}

/// What the step itself asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum StepSpec {
    Build,
    Train(TrainSpec),
    Tune(TuneSpec),
    Deploy(DeploySpec),
}

impl StepSpec {
    pub fn kind(&self) -> Step {
        match self {
            StepSpec::Build => Step::Build,
            StepSpec::Train(_) => Step::Train,
            StepSpec::Tune(_) => Step::Tune,
            StepSpec::Deploy(_) => Step::Deploy,
        }
    }
}

/// Per-replica resources.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    pub gpus: u32,
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainSpec {
    /// Passed to the main file as `--name=value`, in the order written.
    pub hyperparameters: Vec<(String, String)>,
    pub args: Vec<String>,
    pub resources: Resources,
    /// Replicas in all: one coordinates (Chief / Master), the rest are Workers.
    pub workers: u32,
    pub ttl_seconds_after_finished: Option<u32>,
    pub force_cleanup: bool,
    pub timeout_seconds: Option<u32>,
    /// Fail the run once a pod of it has been stuck this long (unschedulable, its image not
    /// pulled, crash-looping); None: such a pod is reported and the run waits for `timeout`.
    pub stuck_timeout_seconds: Option<u32>,
}

/// A hyperparameter's search space, as Katib knows them.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    Double { min: f64, max: f64, step: Option<f64> },
    Int { min: i64, max: i64, step: Option<i64> },
    Categorical(Vec<String>),
    Discrete(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectiveType {
    Maximize,
    Minimize,
}

impl ObjectiveType {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveType::Maximize => "maximize",
            ObjectiveType::Minimize => "minimize",
        }
    }
}

/// How Katib reduces a metric's values in a trial to the one it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricStrategy {
    Min,
    Max,
    Latest,
}

impl MetricStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricStrategy::Min => "min",
            MetricStrategy::Max => "max",
            MetricStrategy::Latest => "latest",
        }
    }

    /// Without one in the cell: the objective follows `objective_type`; an additional metric
    /// whose name says it should be small (loss, error, ...) is `min`, any other `max`. Katib
    /// itself would give every metric the objective's type, reporting a loss at its worst.
    fn default_for(name: &str, objective: Option<ObjectiveType>) -> MetricStrategy {
        const SMALL_IS_GOOD: [&str; 7] = ["loss", "error", "mse", "mae", "latency", "perplexity", "wer"];
        match objective {
            Some(ObjectiveType::Maximize) => MetricStrategy::Max,
            Some(ObjectiveType::Minimize) => MetricStrategy::Min,
            None if SMALL_IS_GOOD.iter().any(|word| name.to_ascii_lowercase().contains(word)) => MetricStrategy::Min,
            None => MetricStrategy::Max,
        }
    }
}

/// Katib's hyperparameter search algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Random,
    Grid,
    BayesianOptimization,
    Hyperband,
    Tpe,
    MultivariateTpe,
    Cmaes,
    Sobol,
    Pbt,
}

impl Algorithm {
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Random,
        Algorithm::Grid,
        Algorithm::BayesianOptimization,
        Algorithm::Hyperband,
        Algorithm::Tpe,
        Algorithm::MultivariateTpe,
        Algorithm::Cmaes,
        Algorithm::Sobol,
        Algorithm::Pbt,
    ];

    /// Katib's `algorithmName`.
    pub fn katib_name(self) -> &'static str {
        match self {
            Algorithm::Random => "random",
            Algorithm::Grid => "grid",
            Algorithm::BayesianOptimization => "bayesianoptimization",
            Algorithm::Hyperband => "hyperband",
            Algorithm::Tpe => "tpe",
            Algorithm::MultivariateTpe => "multivariate-tpe",
            Algorithm::Cmaes => "cmaes",
            Algorithm::Sobol => "sobol",
            Algorithm::Pbt => "pbt",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TuneSpec {
    pub domains: Vec<(String, Domain)>,
    pub args: Vec<String>,
    /// The first is the objective; the rest are additional metrics.
    pub objectives: Vec<String>,
    pub objective_goal: Option<f64>,
    pub objective_type: ObjectiveType,
    /// One per objective, in the same order: the cell's, else [`MetricStrategy::default_for`].
    pub metric_strategies: Vec<MetricStrategy>,
    pub workers: u32,
    pub resources: Resources,
    pub trials: u32,
    pub parallel_trials: u32,
    pub failed_trials: u32,
    pub algorithm: Algorithm,
    pub algorithm_settings: Vec<(String, String)>,
    pub delete_experiment: bool,
    pub ttl_seconds_after_finished: Option<u32>,
    pub timeout_seconds: Option<u32>,
    /// As [`TrainSpec::stuck_timeout_seconds`], for the trials' pods.
    pub stuck_timeout_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploySpec {
    pub model_uri: String,
    /// Knative's target of concurrent requests per replica.
    pub autoscale: u32,
    pub resources: Resources,
    pub replace: bool,
    /// Keep the serving Secret and ServiceAccount after a successful deploy, so that a
    /// predictor scaling from zero can still fetch the model.
    pub keep_serving_credentials: bool,
}

/// Reads the step's keywords (already merged from body and flags).
pub(super) fn read(
    step: Step,
    fields: &[Field<'_>],
    model: &Model,
    config: &Config,
    env: &Env,
) -> Result<StepSpec, SpecError> {
    Ok(match step {
        Step::Build => StepSpec::Build,
        Step::Train => StepSpec::Train(read_train(fields, env)?),
        Step::Tune => StepSpec::Tune(read_tune(fields, env)?),
        Step::Deploy => StepSpec::Deploy(read_deploy(fields, model, config, env)?),
    })
}

fn read_resources(key: &str, value: Node<'_>, resources: &mut Resources) -> Result<bool, SpecError> {
    match key {
        "gpus" => resources.gpus = value.integer(0, 16)? as u32,
        "cpu" => resources.cpu = Some(value.quantity("2 or 500m")?),
        "memory" => resources.memory = Some(value.quantity("4Gi")?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn read_train(fields: &[Field<'_>], env: &Env) -> Result<TrainSpec, SpecError> {
    let mut spec = TrainSpec {
        hyperparameters: Vec::new(),
        args: Vec::new(),
        resources: Resources::default(),
        workers: 2,
        ttl_seconds_after_finished: env.seconds(ENV_TTL_SECONDS_AFTER_FINISHED)?,
        force_cleanup: env.flag(ENV_FORCE_CLEANUP),
        timeout_seconds: None,
        stuck_timeout_seconds: None,
    };
    for field in fields {
        let value = field.node();
        if read_resources(field.key, value, &mut spec.resources)? {
            continue;
        }
        match field.key {
            "hyperparameters" => {
                for hp in value.mapping(&[])? {
                    let name = argument_name(&hp, false)?;
                    spec.hyperparameters.push((name, hp.node().plain_text()?));
                }
            }
            "args" => spec.args = value.string_list()?,
            "workers" => spec.workers = value.integer(1, 64)? as u32,
            "ttl_seconds_after_finished" => spec.ttl_seconds_after_finished = Some(value.integer(0, i64::from(u32::MAX))? as u32),
            "force_cleanup" => spec.force_cleanup = value.boolean()?,
            "timeout" => spec.timeout_seconds = Some(value.duration_seconds()?),
            "stuck_timeout" => spec.stuck_timeout_seconds = Some(value.duration_seconds()?),
            _ => unreachable!("only train keywords reach here"),
        }
    }
    Ok(spec)
}

/// Hyperparameter names become `--name=value` arguments (and, for tune, Katib's
/// `${trialParameters.name}`, which takes letters, digits and '_').
fn argument_name(field: &Field<'_>, katib: bool) -> Result<String, SpecError> {
    let name = field.key;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || (!katib && matches!(c, '-' | '.')));
    if valid {
        Ok(name.to_string())
    } else {
        let allowed = if katib { "letters, digits and '_'" } else { "letters, digits, '_', '-' and '.'" };
        Err(field.node().error("is not a usable hyperparameter name", format!("use {allowed}, starting with a letter")))
    }
}

fn read_tune(fields: &[Field<'_>], env: &Env) -> Result<TuneSpec, SpecError> {
    let mut spec = TuneSpec {
        domains: Vec::new(),
        args: Vec::new(),
        objectives: Vec::new(),
        objective_goal: None,
        objective_type: ObjectiveType::Maximize,
        metric_strategies: Vec::new(),
        workers: 2,
        resources: Resources::default(),
        trials: 16,
        parallel_trials: 2,
        failed_trials: 4,
        algorithm: Algorithm::Random,
        algorithm_settings: Vec::new(),
        delete_experiment: env.flag(ENV_DELETE_EXPERIMENT),
        ttl_seconds_after_finished: env.seconds(ENV_TTL_SECONDS_AFTER_FINISHED)?,
        timeout_seconds: None,
        stuck_timeout_seconds: None,
    };
    let mut hyperparameters_at = None;
    let mut parallel_at = None;
    let mut strategies: Vec<(Field<'_>, MetricStrategy)> = Vec::new();
    for field in fields {
        let value = field.node();
        if read_resources(field.key, value, &mut spec.resources)? {
            continue;
        }
        match field.key {
            "hyperparameters" => {
                hyperparameters_at = Some(value.location());
                for hp in value.mapping(&[])? {
                    let name = argument_name(&hp, true)?;
                    spec.domains.push((name, domain(hp.node())?));
                }
            }
            "args" => spec.args = value.string_list()?,
            "objectives" => spec.objectives = value.string_list()?,
            "objective_goal" => spec.objective_goal = Some(value.number()?),
            "objective_type" => {
                spec.objective_type = match value.text()?.to_ascii_lowercase().as_str() {
                    "maximize" => ObjectiveType::Maximize,
                    "minimize" => ObjectiveType::Minimize,
                    other => return Err(value.error(format!("{other:?} is not an objective type"), "use maximize or minimize")),
                }
            }
            "metric_strategies" => {
                for metric in value.mapping(&[])? {
                    let strategy = match metric.node().text()?.to_ascii_lowercase().as_str() {
                        "min" => MetricStrategy::Min,
                        "max" => MetricStrategy::Max,
                        "latest" => MetricStrategy::Latest,
                        other => return Err(metric.node().error(format!("{other:?} is not a metric strategy"), "use min, max or latest")),
                    };
                    strategies.push((metric, strategy));
                }
            }
            "workers" => spec.workers = value.integer(1, 64)? as u32,
            "trials" => spec.trials = value.integer(1, 10_000)? as u32,
            "parallel_trials" => {
                parallel_at = Some(value.location());
                spec.parallel_trials = value.integer(1, 1_000)? as u32
            }
            "failed_trials" => spec.failed_trials = value.integer(0, 10_000)? as u32,
            "algorithm" => spec.algorithm = algorithm(value)?,
            "algorithm_setting" => {
                spec.algorithm_settings = value
                    .mapping(&[])?
                    .iter()
                    .map(|s| Ok((s.key.to_string(), s.node().plain_text()?)))
                    .collect::<Result<_, SpecError>>()?
            }
            "delete_experiment" => spec.delete_experiment = value.boolean()?,
            "ttl_seconds_after_finished" => spec.ttl_seconds_after_finished = Some(value.integer(0, i64::from(u32::MAX))? as u32),
            "timeout" => spec.timeout_seconds = Some(value.duration_seconds()?),
            "stuck_timeout" => spec.stuck_timeout_seconds = Some(value.duration_seconds()?),
            _ => unreachable!("only tune keywords reach here"),
        }
    }
    let err = |field: &str, at, problem: String, fix: &str| SpecError::new(field, problem, fix).at(at);
    if spec.domains.is_empty() {
        return Err(err(
            "hyperparameters",
            hyperparameters_at,
            "has no search space".into(),
            "add at least one, e.g. `learning_rate: {min: 0.001, max: 0.1}`",
        ));
    }
    if spec.objectives.is_empty() {
        return Err(SpecError::new("objectives", "is missing", "add the metric to optimise, e.g. `objectives: [accuracy]`"));
    }
    if let Some((unknown, _)) = strategies.iter().find(|(m, _)| !spec.objectives.iter().any(|o| o == m.key)) {
        return Err(unknown.node().error(
            format!("metric_strategies names {:?}, which is not one of objectives", unknown.key),
            "add it to objectives, or remove it from metric_strategies",
        ));
    }
    spec.metric_strategies = spec
        .objectives
        .iter()
        .enumerate()
        .map(|(i, name)| match strategies.iter().find(|(m, _)| m.key == name) {
            Some((_, strategy)) => *strategy,
            None => MetricStrategy::default_for(name, (i == 0).then_some(spec.objective_type)),
        })
        .collect();
    if spec.parallel_trials > spec.trials {
        return Err(err(
            "parallel_trials",
            parallel_at,
            format!("{} is more than trials ({})", spec.parallel_trials, spec.trials),
            "lower parallel_trials or raise trials",
        ));
    }
    if spec.algorithm == Algorithm::Grid {
        if let Some((name, _)) = spec.domains.iter().find(|(_, d)| matches!(d, Domain::Double { step: None, .. })) {
            return Err(err(
                &format!("hyperparameters.{name}"),
                hyperparameters_at,
                "needs a step for the grid algorithm".into(),
                "add `step:` to the range, or choose another algorithm",
            ));
        }
    }
    Ok(spec)
}

fn algorithm(value: Node<'_>) -> Result<Algorithm, SpecError> {
    let text = value.text()?.to_ascii_lowercase();
    let normalized = text.replace(['_', ' '], "-");
    if let Some(found) = Algorithm::ALL.into_iter().find(|a| a.katib_name() == normalized) {
        return Ok(found);
    }
    let names: Vec<_> = Algorithm::ALL.iter().map(|a| a.katib_name()).collect();
    let fix = match (normalized.as_str(), super::error::did_you_mean(&normalized, names.iter().copied())) {
        ("enas" | "darts", _) => "that is neural architecture search, which tune does not run; use a hyperparameter algorithm".to_string(),
        (_, Some(close)) => format!("did you mean {close}?"),
        _ => format!("use one of: {}", names.join(", ")),
    };
    Err(value.error(format!("{text:?} is not a Katib search algorithm"), fix))
}

const DOMAIN_KEYS: &[&str] = &["type", "min", "max", "step", "values"];

/// `{min, max[, step]}` is a range (integer when both ends are whole numbers), a list of
/// strings is categorical, a list of numbers is discrete; `type:` says it outright.
fn domain(node: Node<'_>) -> Result<Domain, SpecError> {
    if node.is_list() {
        return list_domain(node, None);
    }
    if !node.is_mapping() {
        return Err(node.error(
            "is not a search space",
            "use a range `{min: 0.001, max: 0.1}` or a list of values `[adam, sgd]`",
        ));
    }
    let fields = node.mapping(DOMAIN_KEYS)?;
    let get = |key: &str| fields.iter().find(|f| f.key == key);
    let declared = match get("type") {
        Some(f) => Some(f.node().text()?.to_ascii_lowercase()),
        None => None,
    };
    if let Some(values) = get("values") {
        return list_domain(values.node(), declared.as_deref());
    }
    let (Some(min), Some(max)) = (get("min"), get("max")) else {
        return Err(node.error("needs min and max (or values)", "e.g. `{min: 0.001, max: 0.1}`"));
    };
    let whole = |f: &Field<'_>| f.node().integer(i64::MIN, i64::MAX).is_ok();
    let all_whole = whole(min) && whole(max) && get("step").is_none_or(whole);
    let int = match declared.as_deref() {
        Some("int" | "integer") => true,
        Some("double" | "float") => false,
        None => all_whole,
        Some(other) => {
            return Err(node.error(format!("type {other:?} does not take min and max"), "use type: double or type: int"))
        }
    };
    let domain = if int {
        let (lo, hi) = (min.node().integer(i64::MIN, i64::MAX)?, max.node().integer(i64::MIN, i64::MAX)?);
        let step = get("step").map(|s| s.node().integer(1, i64::MAX)).transpose()?;
        if lo >= hi {
            return Err(node.error(format!("min {lo} is not below max {hi}"), "swap them or widen the range"));
        }
        Domain::Int { min: lo, max: hi, step }
    } else {
        let (lo, hi) = (min.node().number()?, max.node().number()?);
        let step = get("step").map(|s| s.node().number()).transpose()?;
        if lo >= hi {
            return Err(node.error(format!("min {lo} is not below max {hi}"), "swap them or widen the range"));
        }
        if step.is_some_and(|s| s <= 0.0) {
            return Err(node.error("step must be positive", "use a step above 0"));
        }
        Domain::Double { min: lo, max: hi, step }
    };
    Ok(domain)
}

fn list_domain(node: Node<'_>, declared: Option<&str>) -> Result<Domain, SpecError> {
    let items = node.items();
    if !node.is_list() || items.is_empty() {
        return Err(node.error("needs a non-empty list of values", "e.g. `[adam, sgd]` or `[32, 64, 128]`"));
    }
    let numeric = items.iter().all(|i| i.node().number().is_ok());
    let values: Vec<String> = items.iter().map(|i| i.node().plain_text()).collect::<Result<_, _>>()?;
    match declared {
        Some("categorical") => Ok(Domain::Categorical(values)),
        Some("discrete") if numeric => Ok(Domain::Discrete(values)),
        Some("discrete") => Err(node.error("discrete values must be numbers", "use type: categorical for strings")),
        None if numeric => Ok(Domain::Discrete(values)),
        None => Ok(Domain::Categorical(values)),
        Some(other) => Err(node.error(format!("type {other:?} does not take a list"), "use type: categorical or type: discrete")),
    }
}

fn read_deploy(fields: &[Field<'_>], model: &Model, config: &Config, env: &Env) -> Result<DeploySpec, SpecError> {
    let default_uri = format!(
        "{}/{}/{}",
        config.model_storage_uri,
        model.id.trim_matches('/'),
        model.version.as_deref().unwrap_or("latest")
    );
    let mut spec = DeploySpec {
        model_uri: default_uri,
        autoscale: 2,
        resources: Resources::default(),
        replace: false,
        keep_serving_credentials: env.flag(ENV_KEEP_SERVING_CREDENTIALS),
    };
    for field in fields {
        let value = field.node();
        if read_resources(field.key, value, &mut spec.resources)? {
            continue;
        }
        match field.key {
            "model_uri" => spec.model_uri = s3_uri(value)?,
            "autoscale" => spec.autoscale = value.integer(1, 10_000)? as u32,
            "replace" => spec.replace = value.boolean()?,
            "keep_serving_credentials" => spec.keep_serving_credentials = value.boolean()?,
            _ => unreachable!("only deploy keywords reach here"),
        }
    }
    Ok(spec)
}
