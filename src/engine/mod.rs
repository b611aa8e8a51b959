//! The run engine: creates a step's objects in dependency order, follows them to an outcome,
//! and applies the lifecycle plan. Cancelling a run is an interruption: everything of the run
//! is deleted by label, across every kind it could have created, and the deletion confirmed.

#[cfg(feature = "build-step")]
mod build;
#[cfg(feature = "build-step")]
mod build_log;
mod credentials;
pub mod objects;
pub mod replace;
pub mod runs;
pub mod serving;
pub mod status;

use std::cell::{self, RefCell};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use futures_util::StreamExt;
use serde::Serialize;

#[cfg(feature = "build-step")]
use crate::context::Context;
use crate::identity::{self, Names, RunId, RunIdentity};
use crate::kinds::{self, Follow, KindInfo};
use crate::kube::{Client, KubeError, Transport, WatchEvent};
use crate::lifecycle::{self, Action, Outcome, PlanEntry, Resource, RunEnd};
#[cfg(feature = "build-step")]
use crate::manifest;
use crate::manifest::Manifest;
use crate::spec::{Cell, Step, StepSpec};

pub use status::progress;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Secret {secret:?} in namespace {namespace:?} {problem}; {fix}")]
    SourceSecret { secret: String, namespace: String, problem: String, fix: String },
    #[error("InferenceService {name:?} already exists in namespace {namespace:?}; add --replace (or `replace: true`) to roll out a new revision of it")]
    AlreadyDeployed { name: String, namespace: String },
    #[error("InferenceService {name:?} in namespace {namespace:?} cannot be replaced: {why}; kaptain replaces only its own deployment of the same model: deploy under another model id, or remove that InferenceService yourself")]
    NotOurDeployment { name: String, namespace: String, why: String },
    #[error("the cluster does not serve {wanted}{served}; set config.serving_api to what it serves")]
    ServingApi { wanted: String, served: String },
    #[error("run {run_id} has no objects left in namespace {namespace:?} to resume: it ended or was cleaned up; runs() lists what is there, and apply without resume starts it anew")]
    NothingToResume { run_id: String, namespace: String },
    #[cfg(feature = "build-step")]
    #[error("could not {action}: {problem}; {fix}")]
    S3 { action: String, problem: String, fix: String },
    #[error("{0}")]
    Kube(#[from] KubeError),
    /// Creating the run's objects failed part-way: what was created has been deleted again.
    #[error("{source}\nnothing of the run is left: the {deleted} object(s) created before the failure were deleted{}", remaining_text(.remaining))]
    CreateFailed { source: Box<EngineError>, deleted: usize, remaining: Vec<(ObjectRef, String)> },
    /// Following the run failed (the API went away for too long): its objects stay.
    #[error("{source}\nthe run's objects are still in the cluster ({}); `kaptain cleanup --run-id {run_id}` deletes them", names(.left))]
    FollowFailed { source: Box<EngineError>, run_id: String, left: Vec<ObjectRef> },
}

fn remaining_text(remaining: &[(ObjectRef, String)]) -> String {
    remaining.iter().map(|(o, why)| format!("; still there: {}/{} ({why})", o.kind, o.name)).collect()
}

fn names(objects: &[ObjectRef]) -> String {
    objects.iter().map(|o| format!("{}/{}", o.kind, o.name)).collect::<Vec<_>>().join(", ")
}

/// How often a followed run reads its pods for one that is stuck (seconds): the watch of the
/// followed object is renewed at this interval.
const STUCK_CHECK_SECONDS: u32 = 10;

/// The run's pods that were stuck at the last reading (name, reason, since when), and when
/// they were read.
#[cfg(feature = "build-step")]
#[derive(Default)]
struct StuckPods {
    pods: Vec<(String, String, i64)>,
    read_at: Option<i64>,
}

/// What happened, as it happens, for the cell output and the CLI.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The server accepted every object in a dry run.
    Validated { objects: usize },
    /// An image of this context was built before (by `built_by`): the build step is skipped.
    #[cfg(feature = "build-step")]
    BuildSkipped { image: String, built_by: String },
    /// A line of the build pod's log (kaniko's), as it is written.
    #[cfg(feature = "build-step")]
    Log { pod: String, line: String },
    /// The build context is in S3, where the kaniko Job reads it.
    #[cfg(feature = "build-step")]
    ContextUploaded { uri: String, bytes: usize, checksum: String },
    /// `resumed`: the object existed already (a resumed run, see [`Engine::resume`]).
    Created {
        kind: KindInfo,
        name: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        resumed: bool,
    },
    /// `outcome`: the state is the object's outcome (Succeeded, Failed); None while it works.
    Status { kind: KindInfo, name: String, state: String, message: String, outcome: Option<Outcome> },
    PhaseEnded { phase: Step, outcome: Outcome, message: String },
    Deleted { kind: KindInfo, name: String, reason: String },
    Kept { kind: KindInfo, name: String, reason: String },
    /// Put back as it was before the run: an InferenceService a replacing deploy applied over.
    Restored { kind: KindInfo, name: String, reason: String },
    /// A dry run's answer for one object (see [`Engine::dry_run`]): None when the server accepts it.
    Checked { kind: KindInfo, name: String, error: Option<String> },
    /// Cleanup could not confirm this object gone.
    Remains { kind: KindInfo, name: String, why: String },
}

/// An object of the run, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub kind: KindInfo,
    pub name: String,
}

impl ObjectRef {
    pub fn of(object: &Manifest) -> ObjectRef {
        ObjectRef { kind: object.kind, name: object.name.clone() }
    }

    fn is(&self, object: &Manifest) -> bool {
        self.kind == object.kind && self.name == object.name
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub outcome: Outcome,
    /// The phase the run ended in (a train run whose build failed ended in build).
    pub phase: Step,
    pub message: String,
    pub created: Vec<ObjectRef>,
    pub plan: Vec<PlanEntry>,
    pub cleanup: Option<CleanupReport>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CleanupReport {
    pub deleted: Vec<ObjectRef>,
    /// Objects the run applied over, put back as they were (see [`replace`]).
    pub restored: Vec<ObjectRef>,
    pub remaining: Vec<(ObjectRef, String)>,
    /// API requests the cleanup sent, confirmation included.
    pub requests: u32,
}

/// How long cleanup waits for the garbage collector and finalizers before it reports what is left.
pub(crate) const CONFIRM_DEADLINE_SECONDS: i64 = 60;
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// What validation found: the objects a resumed run made already, or a dry run's whole answer.
enum Validation {
    Ready { existing: Vec<ObjectRef> },
    DryRun(RunReport),
}

pub struct Engine<'a, T> {
    client: &'a Client<T>,
    cell: &'a Cell,
    run: &'a RunIdentity,
    /// Shared by the run's concurrent parts (following the Job and streaming its log); never
    /// borrowed across an await.
    events: RefCell<&'a mut dyn FnMut(Event)>,
    /// What the run created so far, and whether it got to following them (after which a
    /// failure must not delete anything): read when it fails or is interrupted part-way.
    /// Cells, not a RefCell: nothing holds them across an await, and nothing can panic.
    created: cell::Cell<Vec<ObjectRef>>,
    following: cell::Cell<bool>,
    resume: bool,
    dry_run: bool,
    #[cfg(feature = "build-step")]
    context: Option<&'a Context>,
}

impl<'a, T: Transport> Engine<'a, T> {
    pub fn new(client: &'a Client<T>, cell: &'a Cell, run: &'a RunIdentity, events: &'a mut dyn FnMut(Event)) -> Self {
        Engine {
            client,
            cell,
            run,
            events: RefCell::new(events),
            created: cell::Cell::default(),
            following: cell::Cell::new(false),
            resume: false,
            dry_run: false,
            #[cfg(feature = "build-step")]
            context: None,
        }
    }

    /// Follows a run that was started before (a page reload lost it) instead of starting it:
    /// objects that exist count as created (no dry run of them, a create answered
    /// AlreadyExists is fine), the rest are created when their phase comes, a build whose
    /// consumer exists is done; then the run is followed and its plan applied as usual.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Validates instead of running: the checks a run makes before its first create (serving
    /// API, source Secrets, an existing deployment), then every object with the server
    /// (`dryRun=All`), each answer a `Checked` event; nothing is created. The report's outcome is
    /// Succeeded when the server accepts every object, Failed otherwise.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The packed build context of a step that builds: the engine uploads it before the build
    /// Job is created, and skips the build when its image was built before. Without one, the
    /// build objects are created as rendered (their context must be in S3 already).
    #[cfg(feature = "build-step")]
    pub fn context(mut self, context: Option<&'a Context>) -> Self {
        self.context = context;
        self
    }

    fn namespace(&self) -> &str {
        &self.cell.config.namespace
    }

    fn emit(&self, event: Event) {
        (self.events.borrow_mut())(event);
    }

    fn report(&self, outcome: Outcome, phase: Step, message: String, plan: Vec<PlanEntry>) -> RunReport {
        RunReport { run_id: self.run.run_id.to_string(), outcome, phase, message, created: Vec::new(), plan, cleanup: None }
    }

    /// Runs the step: validates and creates its objects and, with `follow`, follows them to an
    /// outcome and applies the plan. If `cancelled` completes first the run is interrupted and
    /// everything of it is deleted.
    pub async fn run(&mut self, objects: Vec<Manifest>, follow: bool, cancelled: impl Future<Output = ()>) -> Result<RunReport, EngineError> {
        let outcome = {
            let work = pin!(self.drive(objects, follow));
            let cancelled = pin!(cancelled);
            match select(work, cancelled).await {
                Either::Left((result, _)) => Some(result),
                Either::Right(((), _abandoned)) => None,
            }
        };
        let (created, following) = (self.created.take(), self.following.get());
        match outcome {
            Some(Ok(report)) => Ok(RunReport { created, ..report }),
            Some(Err(error)) if created.is_empty() => Err(error),
            Some(Err(error)) if following => Err(EngineError::FollowFailed {
                source: Box::new(error),
                run_id: self.run.run_id.to_string(),
                left: created,
            }),
            Some(Err(error)) => {
                let cleanup = self.cleanup().await;
                Err(EngineError::CreateFailed { source: Box::new(error), deleted: cleanup.deleted.len(), remaining: cleanup.remaining })
            }
            None => {
                let cleanup = self.cleanup().await;
                let message = "interrupted: every object of the run was deleted".into();
                let report = self.report(Outcome::Interrupted, self.cell.step_kind(), message, Vec::new());
                Ok(RunReport { created, cleanup: Some(cleanup), ..report })
            }
        }
    }

    /// The steps of a run, in order.
    async fn drive(&self, mut objects: Vec<Manifest>, follow: bool) -> Result<RunReport, EngineError> {
        let skipped = self.skip_a_built_image(&mut objects).await?;
        let replaced = self.preflight(&mut objects).await?;
        let replaced = replaced.as_ref();
        let existing = match self.validate(&objects, replaced).await? {
            Validation::Ready { existing } => existing,
            Validation::DryRun(report) => return Ok(report),
        };
        let uploaded = self.upload(&objects).await?;
        if !follow {
            for object in &objects {
                self.create_one(object, replaced, false).await?;
            }
            let message = "created; not followed (nothing will apply the lifecycle: `kaptain sweep` cleans such runs)".into();
            return Ok(self.report(Outcome::Succeeded, self.cell.step_kind(), message, Vec::new()));
        }
        let (end, message) = self.follow_phases(&objects, replaced, &existing, uploaded).await?;
        self.finish(&objects, replaced, end, message.unwrap_or(skipped)).await
    }

    /// An image built before from the same context is not built again: the build objects go.
    /// The message that says so, or an empty one.
    async fn skip_a_built_image(&self, objects: &mut Vec<Manifest>) -> Result<String, EngineError> {
        #[cfg(feature = "build-step")]
        if let Some(image) = self.image().filter(|_| !self.resume && !self.cell.config.force_rebuild && builds(objects)) {
            if let Some(built_by) = build::built_before(self.client, self.namespace(), &image).await? {
                objects.retain(|m| m.step != Step::Build);
                let message = format!("image {image} was built before (run {built_by}): not built again; config.force_rebuild: true builds it anew");
                self.emit(Event::BuildSkipped { image, built_by });
                return Ok(message);
            }
        }
        let _ = objects;
        Ok(String::new())
    }

    #[cfg(feature = "build-step")]
    fn image(&self) -> Option<String> {
        self.context.map(|c| manifest::image_ref(self.cell, &c.checksum))
    }

    /// What every run checks first; fills the credential Secrets (unless the server in front
    /// of the API makes them: see [`credentials`]). Some when the deploy replaces an existing
    /// InferenceService: what it was, to note on the replacement.
    async fn preflight(&self, objects: &mut [Manifest]) -> Result<Option<serde_json::Value>, EngineError> {
        let names = Names::new(&self.cell.model.id, &self.run.run_id);
        self.check_serving_api().await?;
        if !self.client.transport().copies_secrets() {
            credentials::fill(self.client, self.cell, &names, objects).await?;
        }
        self.check_existing_deployment(objects).await
    }

    /// Every object validated by the server (`dryRun=All`) before the first is created.
    async fn validate(&self, objects: &[Manifest], replaced: Option<&serde_json::Value>) -> Result<Validation, EngineError> {
        let mut existing = Vec::new();
        let mut refused = 0;
        for object in objects {
            let answer = self.create(object, replaced, true).await;
            if self.dry_run {
                let error = answer.err().map(|e| e.to_string());
                refused += usize::from(error.is_some());
                self.emit(Event::Checked { kind: object.kind, name: object.name.clone(), error });
            } else if answer? {
                existing.push(ObjectRef::of(object));
            }
        }
        if self.dry_run {
            let (outcome, message) = match refused {
                0 => (Outcome::Succeeded, "the cluster accepts every object; nothing was created".into()),
                n => (Outcome::Failed, format!("the cluster refused {n} of {} object(s); nothing was created", objects.len())),
            };
            return Ok(Validation::DryRun(self.report(outcome, self.cell.step_kind(), message, Vec::new())));
        }
        if self.resume && existing.is_empty() {
            return Err(EngineError::NothingToResume { run_id: self.run.run_id.to_string(), namespace: self.namespace().into() });
        }
        self.emit(Event::Validated { objects: objects.len() });
        Ok(Validation::Ready { existing })
    }

    /// The build context goes to S3 before the kaniko Job that reads it exists: its URI.
    async fn upload(&self, objects: &[Manifest]) -> Result<Option<String>, EngineError> {
        #[cfg(feature = "build-step")]
        if let Some(context) = self.context.filter(|_| !self.resume && builds(objects)) {
            let credentials = build::credentials(self.client, self.cell).await?;
            let uploaded = build::upload(self.client, self.cell, context, &credentials).await?;
            self.emit(Event::ContextUploaded { uri: uploaded.uri.clone(), bytes: uploaded.bytes, checksum: context.checksum.clone() });
            return Ok(Some(uploaded.uri));
        }
        let _ = objects;
        Ok(None)
    }

    /// Creates one object and says so. `resumed`: it existed already.
    async fn create_one(&self, object: &Manifest, replaced: Option<&serde_json::Value>, resumed: bool) -> Result<(), EngineError> {
        let resumed = resumed || self.create(object, replaced, false).await?;
        let mut created = self.created.take();
        created.push(ObjectRef::of(object));
        self.created.set(created);
        self.emit(Event::Created { kind: object.kind, name: object.name.clone(), resumed });
        Ok(())
    }

    /// Each phase (a train or tune run's build, then its step) created and followed to its
    /// outcome; the next starts only when one succeeded. How and where the run ended, and the
    /// last phase's message (None when no phase had objects).
    async fn follow_phases(
        &self,
        objects: &[Manifest],
        replaced: Option<&serde_json::Value>,
        existing: &[ObjectRef],
        uploaded: Option<String>,
    ) -> Result<(RunEnd, Option<String>), EngineError> {
        let step = self.cell.step_kind();
        let (build, main): (Vec<&Manifest>, Vec<&Manifest>) = objects.iter().partition(|m| m.step == Step::Build && step != Step::Build);
        let existed = |m: &Manifest| existing.iter().any(|e| e.is(m));
        // A resumed run whose step's objects exist is past its build: what is left of the
        // build is the run's (the plan deletes it), but nothing of it is made again.
        let build_done = self.resume && main.iter().any(|m| existed(m));
        let mut end = RunEnd { phase: step, outcome: Outcome::Succeeded };
        let mut message = None;
        for (phase, group) in [(Step::Build, build), (step, main)] {
            if group.is_empty() {
                continue;
            }
            if build_done && phase == Step::Build {
                for object in group.into_iter().filter(|m| existed(m)) {
                    self.create_one(object, replaced, true).await?;
                }
                continue;
            }
            for object in &group {
                self.create_one(object, replaced, false).await?;
            }
            self.following.set(true);
            let (outcome, why) = match group.iter().rev().find(|m| m.kind.follow != Follow::Not) {
                #[cfg(feature = "build-step")]
                Some(object) if object.kind.follow == Follow::Job => self.follow_build(object).await?,
                Some(object) => self.follow(object).await?,
                None => (Outcome::Succeeded, String::new()),
            };
            self.emit(Event::PhaseEnded { phase, outcome, message: why.clone() });
            if (phase, outcome) == (Step::Build, Outcome::Succeeded) {
                self.record_image(uploaded.as_deref()).await;
            }
            end = RunEnd { phase, outcome };
            message = Some(why);
            if outcome != Outcome::Succeeded {
                break;
            }
            self.following.set(false);
        }
        Ok((end, message))
    }

    /// A successful build leaves a record of its image, so the next run of the same context
    /// skips it. Not fatal: without the record the next run builds again.
    async fn record_image(&self, uploaded: Option<&str>) {
        #[cfg(feature = "build-step")]
        if let (Some(image), Some(uri)) = (self.image(), uploaded) {
            if let Err(e) = build::record(self.client, self.cell, self.run, &image, uri).await {
                self.emit(Event::Status {
                    kind: kinds::CONFIG_MAP,
                    name: identity::image_record_name(&image),
                    state: "not recorded".into(),
                    message: format!("the image record could not be written ({e}): the next run builds again"),
                    outcome: None,
                });
            }
        }
        let _ = uploaded;
    }

    /// The lifecycle plan applied to what the run created: each object deleted or kept, and
    /// why. A replaced deployment that now serves is no longer to be restored.
    async fn finish(&self, objects: &[Manifest], replaced: Option<&serde_json::Value>, end: RunEnd, message: String) -> Result<RunReport, EngineError> {
        // From here on a failure must not delete what the plan keeps.
        self.following.set(true);
        if let (Some(_), Outcome::Succeeded) = (replaced, end.outcome) {
            // The same object applied again, without the note of what it replaced.
            for isvc in objects.iter().filter(|m| m.kind.is_inference_service()) {
                self.client.apply(&isvc.kind, self.namespace(), &isvc.name, &isvc.object, false).await?;
            }
        }
        let plan = lifecycle::plan(self.cell, objects, end);
        let created = self.created.take();
        let was_created: Vec<bool> = plan.iter().map(|e| created.iter().any(|c| c.kind == e.kind && c.name == e.name)).collect();
        self.created.set(created);
        for (entry, _) in plan.iter().zip(was_created).filter(|(_, was_created)| *was_created) {
            let (kind, name, reason) = (entry.kind, entry.name.clone(), entry.reason.clone());
            match entry.action {
                Action::Delete => {
                    self.client.delete(&kind, self.namespace(), &name).await?;
                    self.emit(Event::Deleted { kind, name, reason });
                }
                Action::Keep => self.emit(Event::Kept { kind, name, reason }),
            }
        }
        Ok(self.report(end.outcome, end.phase, message, plan))
    }

    async fn check_serving_api(&self) -> Result<(), EngineError> {
        if self.cell.step_kind() != Step::Deploy {
            return Ok(());
        }
        let wanted = self.cell.config.serving_api;
        let served = self.client.serving_apis().await?;
        if served.contains(&wanted) {
            return Ok(());
        }
        let served = match served.first() {
            Some(other) => format!(" (it serves {})", other.api_version()),
            None => " (nor any other InferenceService API: is KFServing or KServe installed?)".into(),
        };
        Err(EngineError::ServingApi { wanted: wanted.api_version().into(), served })
    }

    /// A deploy of a model that is deployed already needs `replace`, and only kaptain's own
    /// deployment of the same model is replaced; returns what it was (see [`replace`]).
    async fn check_existing_deployment(&self, objects: &[Manifest]) -> Result<Option<serde_json::Value>, EngineError> {
        let StepSpec::Deploy(deploy) = &self.cell.step else { return Ok(None) };
        let Some(isvc) = objects.iter().find(|m| m.kind.is_inference_service()) else { return Ok(None) };
        let Some(found) = self.client.get(&isvc.kind, self.namespace(), &isvc.name).await? else { return Ok(None) };
        let ours = found["metadata"]["labels"][identity::RUN_ID_LABEL] == self.run.run_id.as_str();
        if self.resume && ours && !deploy.replace {
            // This run made it before the reload: resumed like the rest.
            return Ok(None);
        }
        if !deploy.replace {
            return Err(EngineError::AlreadyDeployed { name: isvc.name.clone(), namespace: self.namespace().into() });
        }
        replace::previous(&found, &self.cell.model.id, self.run.run_id.as_str(), self.namespace()).map(Some)
    }

    /// Creates (or with `dry_run` validates) an object; an InferenceService that `replaced`
    /// an existing one is applied over it, noting what it was. True when a resumed run finds
    /// it exists already.
    async fn create(&self, object: &Manifest, replaced: Option<&serde_json::Value>, dry_run: bool) -> Result<bool, EngineError> {
        if let (Some(previous), true) = (replaced, object.kind.is_inference_service()) {
            self.client.apply(&object.kind, self.namespace(), &object.name, &replace::noting(&object.object, previous), dry_run).await?;
            return Ok(false);
        }

        let names = Names::new(&self.cell.model.id, &self.run.run_id);
        let copy = credentials::copy_of(&names, object).filter(|_| self.client.transport().copies_secrets());
        match self.client.create(&object.kind, self.namespace(), &object.object, copy, dry_run).await {
            Ok(_) => Ok(false),
            Err(e) if self.resume && e.is_already_exists() => Ok(true),
            Err(e) => Err(match copy {
                Some(copy) => credentials::copy_failed(e, self.cell, &names, object, copy),
                None => e.into(),
            }),
        }
    }

    /// The cell's timeout, for the object its step is about.
    fn timeout_seconds(&self, object: &Manifest) -> Option<u32> {
        match (&self.cell.step, object.resource) {
            (StepSpec::Train(t), Resource::TrainingJob) => t.timeout_seconds,
            (StepSpec::Tune(t), Resource::Experiment) => t.timeout_seconds,
            _ => None,
        }
    }

    #[cfg(feature = "build-step")]
    fn stuck_timeout_seconds(&self) -> Option<u32> {
        match &self.cell.step {
            StepSpec::Train(t) => t.stuck_timeout_seconds,
            StepSpec::Tune(t) => t.stuck_timeout_seconds,
            _ => None,
        }
    }

    /// Follows an object until its status says how it ended: a watch while the server streams
    /// it, polling when it does not. With the build step (every train and tune cell runs with
    /// it: they build first) the run's pods are read every [`STUCK_CHECK_SECONDS`]: one that
    /// cannot go on by itself is said at once (a Pod status event), and fails the run once
    /// stuck for the cell's `stuck_timeout`. The page's package leaves this out: its size budget.
    async fn follow(&self, object: &Manifest) -> Result<(Outcome, String), EngineError> {
        let kind = object.kind;
        let namespace = self.namespace().to_string();
        let started = self.client.transport().now();
        let deadline = self.timeout_seconds(object).map(|t| started + i64::from(t) + 30);
        let mut last_state = String::new();
        #[cfg(feature = "build-step")]
        let mut stuck = StuckPods::default();
        loop {
            let Some(current) = self.client.get(&kind, &namespace, &object.name).await? else {
                return Ok((Outcome::Failed, format!("{kind} {} was deleted while the run followed it", object.name)));
            };
            if let Some(done) = self.observe(object, &current, &mut last_state) {
                return Ok(done);
            }
            if deadline.is_some_and(|d| self.client.transport().now() > d) {
                return Ok((Outcome::Failed, format!("{kind} {} did not finish within its timeout", object.name)));
            }
            #[cfg(feature = "build-step")]
            if let Some(failed) = self.check_pods(&mut stuck).await {
                return Ok(failed);
            }
            let version = current["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
            let field = format!("metadata.name={}", object.name);
            match self.client.watch(&kind, &namespace, None, Some(&field), &version, STUCK_CHECK_SECONDS).await {
                Ok(events) => {
                    let mut events = pin!(events);
                    while let Some(event) = events.next().await {
                        match event {
                            Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => {
                                if let Some(done) = self.observe(object, &o, &mut last_state) {
                                    return Ok(done);
                                }
                            }
                            Ok(WatchEvent::Deleted(_)) => break,
                            Ok(WatchEvent::Bookmark(_)) => {}
                            Ok(WatchEvent::Error(_)) | Err(_) => break,
                        }
                        if deadline.is_some_and(|d| self.client.transport().now() > d) {
                            break;
                        }
                    }
                }
                // No streaming on the way to the API: poll.
                Err(_) => self.client.transport().sleep(Duration::from_secs(1)).await,
            }
        }
    }

    /// Reads the run's pods; says each newly stuck one (see [`status::stuck_pod`]) and fails
    /// the run when one has been stuck for the cell's `stuck_timeout`. Watched, the follow
    /// loop comes round every STUCK_CHECK_SECONDS; polled (no watch on the way), every second:
    /// either way the pods are read at most every half of it.
    #[cfg(feature = "build-step")]
    async fn check_pods(&self, stuck: &mut StuckPods) -> Option<(Outcome, String)> {
        let now = self.client.transport().now();
        if stuck.read_at.is_some_and(|at| now - at < i64::from(STUCK_CHECK_SECONDS / 2)) {
            return None;
        }
        stuck.read_at = Some(now);
        // Not being able to read pods only costs the diagnosis.
        let pods = self.client.list(&kinds::POD, self.namespace(), &identity::run_selector(&self.run.run_id)).await.ok()?;
        let limit = self.stuck_timeout_seconds().map(i64::from);
        let mut failed = None;
        let before = std::mem::take(&mut stuck.pods);
        for pod in &pods.items {
            let Some((reason, said)) = status::stuck_pod(pod) else { continue };
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let since = before.iter().find(|(n, r, _)| n == name && *r == reason).map_or(now, |(_, _, since)| *since);
            if since == now {
                self.emit(Event::Status { kind: kinds::POD, name: name.into(), state: reason.clone(), message: said.clone(), outcome: None });
            }
            if limit.is_some_and(|limit| now - since >= limit) {
                failed.get_or_insert((Outcome::Failed, format!("pod {name} {reason} for {} s (stuck_timeout): {said}", now - since)));
            }
            stuck.pods.push((name.into(), reason, since));
        }
        failed
    }

    fn observe(&self, object: &Manifest, current: &serde_json::Value, last_state: &mut String) -> Option<(Outcome, String)> {
        let progress = status::progress(object.kind, current);
        let shown = format!("{}|{}", progress.state, progress.message);
        if *last_state != shown {
            *last_state = shown;
            self.emit(Event::Status {
                kind: object.kind,
                name: object.name.clone(),
                state: progress.state.clone(),
                message: progress.message.clone(),
                outcome: progress.outcome,
            });
        }
        progress.outcome.map(|o| (o, progress.message))
    }

    /// Deletes everything of this run. See [`cleanup`].
    pub async fn cleanup(&mut self) -> CleanupReport {
        let namespace = self.namespace().to_string();
        cleanup(self.client, &namespace, &self.run.run_id, *self.events.get_mut()).await
    }
}

#[cfg(feature = "build-step")]
fn builds(objects: &[Manifest]) -> bool {
    objects.iter().any(|m| m.step == Step::Build)
}

/// Deletes every object of a run, by label, across every kind a run can create (so objects
/// whose create request was still in flight are found too), then lists until none is left,
/// deleting again whatever appears late. Reports what could not be confirmed gone, and why.
pub async fn cleanup<T: Transport>(client: &Client<T>, namespace: &str, run_id: &RunId, events: &mut dyn FnMut(Event)) -> CleanupReport {
    let selector = identity::run_selector(run_id);
    // An InferenceService the run applied over a deployment that was there before is never
    // deleted: the first round leaves it, the listing below finds it and puts it back.
    let made = replace::made_by(&selector);
    let mut report = CleanupReport::default();
    let mut served: Vec<KindInfo> = Vec::new();
    // One request per kind, all at once.
    let deletes = join_all(kinds::CREATED_KINDS.iter().map(|kind| {
        let selector = if kind.is_inference_service() { &made } else { &selector };
        client.delete_collection(kind, namespace, selector)
    }))
    .await;
    report.requests += deletes.len() as u32;
    for (kind, result) in kinds::CREATED_KINDS.into_iter().zip(deletes) {
        match result {
            Ok(names) => {
                served.push(kind);
                for name in names {
                    events(Event::Deleted { kind, name: name.clone(), reason: "run interrupted: delete".into() });
                    report.deleted.push(ObjectRef { kind, name });
                }
            }
            // A kind the cluster does not serve holds nothing of ours.
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                served.push(kind);
                events(Event::Remains { kind, name: "*".into(), why: e.to_string() });
            }
        }
    }
    // Pods go with their Job (garbage collector); wait for them too.
    served.push(kinds::POD);
    let started = client.transport().now();
    loop {
        let lists = join_all(served.iter().map(|kind| client.list_metadata(kind, namespace, &selector))).await;
        report.requests += lists.len() as u32;
        let mut left: Vec<(KindInfo, serde_json::Value)> = Vec::new();
        let mut unlisted: Vec<(ObjectRef, String)> = Vec::new();
        for (kind, result) in served.iter().zip(lists) {
            match result {
                Ok(list) => left.extend(list.items.into_iter().map(|item| (*kind, item))),
                Err(e) => unlisted.push((ObjectRef { kind: *kind, name: "*".into() }, e.to_string())),
            }
        }
        // Later rounds ask only about the kinds that still had something.
        let mut waiting = unlisted;
        served.retain(|kind| left.iter().any(|(k, _)| k == kind) || waiting.iter().any(|(o, _)| o.kind == *kind));
        for (kind, item) in left {
            let name = item["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let why = if replace::replaces(&item) {
                report.requests += 1;
                put_back(client, kind, namespace, &item, &mut report, events).await;
                "was applied over a deployment that is being put back".into()
            } else if item["metadata"]["ownerReferences"].as_array().is_some_and(|owners| !owners.is_empty()) {
                // Not created by the run (kaptain sets no owners): a pod the training operator or
                // the Job controller made from the run's template, labels and all. It goes with
                // its owner, by the garbage collector; the run does not delete it itself.
                "goes with its owner (garbage collector)".into()
            } else if item["metadata"]["deletionTimestamp"].is_string() {
                let finalizers = item["metadata"]["finalizers"].as_array().map(|f| f.len()).unwrap_or(0);
                format!("terminating, waiting for {finalizers} finalizer(s) or its node")
            } else {
                // Created after the collection was deleted (its create was in flight): delete it now.
                report.requests += 1;
                if client.delete(&kind, namespace, &name).await.unwrap_or(false) {
                    events(Event::Deleted { kind, name: name.clone(), reason: "run interrupted: delete (created late)".into() });
                    report.deleted.push(ObjectRef { kind, name: name.clone() });
                }
                "was created after the first delete".into()
            };
            waiting.push((ObjectRef { kind, name }, why));
        }
        if waiting.is_empty() {
            break;
        }
        if client.transport().now() - started > CONFIRM_DEADLINE_SECONDS {
            for (object, why) in &waiting {
                events(Event::Remains { kind: object.kind, name: object.name.clone(), why: why.clone() });
            }
            report.remaining = waiting;
            break;
        }
        client.transport().sleep(POLL).await;
    }
    report
}

/// Restores an InferenceService a replacing run applied over (see [`replace::restore`]).
async fn put_back<T: Transport>(client: &Client<T>, kind: KindInfo, namespace: &str, item: &serde_json::Value, report: &mut CleanupReport, events: &mut dyn FnMut(Event)) {
    let name = item["metadata"]["name"].as_str().unwrap_or_default().to_string();
    match replace::restore(client, &kind, namespace, item).await {
        Ok(true) => {
            events(Event::Restored { kind, name: name.clone(), reason: "run interrupted: put back as it was before the run replaced it".into() });
            report.restored.push(ObjectRef { kind, name });
        }
        Ok(false) => events(Event::Remains { kind, name, why: "it was replaced by the run, but what it was before is not readable: left as it is".into() }),
        Err(e) => events(Event::Remains { kind, name, why: format!("could not be put back as it was before the run: {e}") }),
    }
}

/// The engine's steps against the scripted API server (a test double: the answers are what a
/// real API server gives; tests/cluster_*.rs run the same paths against a real one).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::identity::RunId;
    use crate::kube::scripted::{status, ScriptedApi};
    use crate::kube::Response;
    use crate::ops::{self, Options};

    const DEPLOY: &str = "%%kaptain deploy\nmodel:\n  id: dev/mnist\n  framework: tensorflow\nconfig:\n  namespace: ns\n";
    const SERVES_KFSERVING: &str = r#"{"kind":"APIGroupList","groups":[{"name":"serving.kubeflow.org"}]}"#;
    const NOT_FOUND: &str = r#"{"kind":"Status","reason":"NotFound","code":404}"#;
    const CREATED: &str = r#"{"metadata":{"name":"x"}}"#;

    /// A deploy run on a server that copies Secrets (so the run reads none): its events, its
    /// result and what the API was asked.
    async fn deploy(api: &ScriptedApi, dry_run: bool, cancelled: impl Future<Output = ()>) -> (Vec<Event>, Result<RunReport, EngineError>) {
        let run_id = RunId::parse("r1").unwrap();
        let (cell, identity, objects) = ops::prepare(DEPLOY, &Options::default(), &run_id).unwrap();
        let client = Client::new(api);
        let mut events = Vec::new();
        let mut record = |e| events.push(e);
        let result = Engine::new(&client, &cell, &identity, &mut record).dry_run(dry_run).run(objects, true, cancelled).await;
        (events, result)
    }

    /// What the API answers a deploy run up to its creates: KFServing is served, no deployment
    /// of the model exists; then `creates` creates (dry runs included) accepted.
    fn served_then_created(creates: usize) -> Vec<Result<Response, KubeError>> {
        let mut answers = vec![status(200, None, SERVES_KFSERVING), status(404, None, NOT_FOUND)];
        answers.extend((0..creates).map(|_| status(201, None, CREATED)));
        answers
    }

    fn asked_with(api: &ScriptedApi, method: &str) -> Vec<String> {
        api.asked.borrow().iter().filter(|a| a.starts_with(method)).cloned().collect()
    }

    #[tokio::test]
    async fn a_dry_run_checks_every_object_and_creates_none() {
        let invalid = r#"{"kind":"Status","reason":"Invalid","message":"InferenceService \"dev-mnist\" is invalid","code":422}"#;
        let api = ScriptedApi {
            copies: true,
            ..ScriptedApi::answering([served_then_created(2), vec![status(422, None, invalid)]].concat())
        };
        let (events, report) = deploy(&api, true, std::future::pending()).await;
        let report = report.unwrap();
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(report.message, "the cluster refused 1 of 3 object(s); nothing was created");
        let checked: Vec<_> = events.iter().filter_map(|e| if let Event::Checked { kind, error, .. } = e { Some((kind.kind, error.is_some())) } else { None }).collect();
        assert_eq!(checked, [("Secret", false), ("ServiceAccount", false), ("InferenceService", true)]);
        assert!(asked_with(&api, "POST").iter().all(|p| p.contains("dryRun=All")), "{:?}", api.asked.borrow());
        assert!(report.created.is_empty());
    }

    #[tokio::test]
    async fn a_create_that_fails_half_way_leaves_nothing_and_says_what_it_deleted() {
        let forbidden = r#"{"kind":"Status","reason":"Forbidden","message":"serviceaccounts is forbidden","code":403}"#;
        let api = ScriptedApi {
            copies: true,
            // The cleanup's deletes and listings: the Secret created before the failure, then nothing.
            fallback: Some(|line| match line.starts_with("DELETE /api/v1/namespaces/ns/secrets?") {
                true => status(200, None, r#"{"items":[{"metadata":{"name":"dev-mnist-r1-serving"}}]}"#),
                false => status(200, None, r#"{"items":[]}"#),
            }),
            // Three dry runs, then the Secret; the ServiceAccount is refused.
            ..ScriptedApi::answering([served_then_created(4), vec![status(403, None, forbidden)]].concat())
        };
        let (events, result) = deploy(&api, false, std::future::pending()).await;
        let error = result.unwrap_err();
        let EngineError::CreateFailed { deleted, remaining, .. } = &error else { panic!("{error}") };
        assert_eq!((*deleted, remaining.len()), (1, 0));
        assert!(error.to_string().contains("nothing of the run is left"), "{error}");
        // Every kind a run can create was deleted by the run's label, then confirmed empty.
        let deletes = asked_with(&api, "DELETE");
        assert_eq!(deletes.len(), kinds::CREATED_KINDS.len());
        assert!(deletes.iter().all(|d| d.contains("kaptain.io%2Frun-id%3Dr1")), "{deletes:?}");
        assert!(events.iter().any(|e| matches!(e, Event::Created { kind, .. } if *kind == kinds::SECRET)));
        assert!(events.iter().any(|e| matches!(e, Event::Deleted { kind, .. } if *kind == kinds::SECRET)));
    }

    #[tokio::test]
    async fn a_followed_run_ends_with_its_object_and_applies_the_plan_to_what_it_created() {
        let ready = r#"{"metadata":{"name":"dev-mnist","generation":1},"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True"}]}}"#;
        let api = ScriptedApi {
            copies: true,
            // Three dry runs and three creates; the InferenceService Ready; the plan's two deletes.
            ..ScriptedApi::answering(
                [served_then_created(6), vec![status(200, None, ready), status(200, None, "{}"), status(200, None, "{}")]].concat(),
            )
        };
        let (events, report) = deploy(&api, false, std::future::pending()).await;
        let report = report.unwrap();
        assert_eq!((report.outcome, report.phase), (Outcome::Succeeded, Step::Deploy));
        assert_eq!(report.created.len(), 3);
        // The serving credentials go on success (keep_serving_credentials is off); the deployment stays.
        let fates: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Deleted { kind, .. } => Some(("deleted", kind.kind)),
                Event::Kept { kind, .. } => Some(("kept", kind.kind)),
                _ => None,
            })
            .collect();
        assert_eq!(fates, [("kept", "InferenceService"), ("deleted", "ServiceAccount"), ("deleted", "Secret")]);
        assert_eq!(asked_with(&api, "DELETE").len(), 2);
        assert!(events.iter().any(|e| matches!(e, Event::PhaseEnded { phase: Step::Deploy, outcome: Outcome::Succeeded, .. })));
    }

    #[tokio::test]
    async fn a_cleanup_waits_for_the_pods_of_what_it_deleted_and_deletes_none_itself() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static POD_LISTS: AtomicUsize = AtomicUsize::new(0);
        let api = ScriptedApi {
            fallback: Some(|line| match line {
                // The TFJob's pod, made by the training operator with the run's labels, before the
                // garbage collector has reached it; gone at the next listing.
                _ if line.starts_with("GET /api/v1/namespaces/ns/pods?") && POD_LISTS.fetch_add(1, Ordering::SeqCst) == 0 => status(
                    200,
                    None,
                    r#"{"items":[{"metadata":{"name":"dev-mnist-r1-chief-0","ownerReferences":[{"kind":"TFJob","name":"dev-mnist-r1","controller":true}]}}]}"#,
                ),
                _ if line.starts_with("DELETE /apis/kubeflow.org/v1/namespaces/ns/tfjobs?") => {
                    status(200, None, r#"{"items":[{"metadata":{"name":"dev-mnist-r1"}}]}"#)
                }
                _ => status(200, None, r#"{"items":[]}"#),
            }),
            ..Default::default()
        };
        let client = Client::new(&api);
        let mut events = Vec::new();
        let report = cleanup(&client, "ns", &RunId::parse("r1").unwrap(), &mut |e| events.push(e)).await;
        let deleted: Vec<_> = report.deleted.iter().map(|o| format!("{} {}", o.kind.kind, o.name)).collect();
        assert_eq!(deleted, ["TFJob dev-mnist-r1"]);
        assert!(report.remaining.is_empty(), "{:?}", report.remaining);
        assert_eq!(POD_LISTS.load(Ordering::SeqCst), 2, "the pods were listed until none was left");
        let deletes = asked_with(&api, "DELETE");
        assert!(!deletes.iter().any(|d| d.contains("/pods")), "{deletes:?}");
    }

    #[tokio::test]
    async fn an_interrupted_run_deletes_everything_of_it() {
        let api = ScriptedApi {
            copies: true,
            // Interrupted while the InferenceService's create is in flight.
            stalls: Some(|line| line.starts_with("POST /apis/serving.kubeflow.org/") && !line.contains("dryRun")),
            fallback: Some(|line| match line {
                "GET /apis" => status(200, None, SERVES_KFSERVING),
                // A get of one object (the InferenceService): none; lists (the cleanup's): empty.
                _ if line.starts_with("GET ") && !line.contains('?') => status(404, None, NOT_FOUND),
                _ if line.starts_with("POST ") => status(201, None, CREATED),
                _ => status(200, None, r#"{"items":[]}"#),
            }),
            ..Default::default()
        };
        let interrupt = async {
            // Let the run get as far as it can: it stalls at the create in flight.
            for _ in 0..100 {
                tokio::task::yield_now().await;
            }
        };
        let (events, report) = deploy(&api, false, interrupt).await;
        let report = report.unwrap();
        assert_eq!(report.outcome, Outcome::Interrupted);
        let created: Vec<_> = report.created.iter().map(|o| o.kind.kind).collect();
        assert_eq!(created, ["Secret", "ServiceAccount"]);
        assert!(report.cleanup.is_some());
        // Every kind, by the run's label: the InferenceService whose create was in flight too.
        assert_eq!(asked_with(&api, "DELETE").len(), kinds::CREATED_KINDS.len());
        assert!(!events.iter().any(|e| matches!(e, Event::Kept { .. })));
    }
}
