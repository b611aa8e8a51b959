//! The commands that talk to a cluster: apply, cleanup, runs, sweep. Translation only: the
//! engine in the core does the work.

use std::time::Instant;

use kaptain::engine::{self, runs, Engine, Event, RunReport};
use kaptain::identity::RunId;
use kaptain::kinds;
use kaptain::kube::Client;
use kaptain::lifecycle::Outcome;
use kaptain::native::{NativeTransport, Target};
use kaptain::ops;

use kaptain::context::{DirSource, Limits};

use super::{load, BuildArgs, CellArgs, ClusterArgs, Failure};

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Cluster(format!("cannot start the async runtime: {e}")))
}

async fn connect(cluster: &ClusterArgs) -> Result<(Client<NativeTransport>, String), Failure> {
    connect_with_s3(cluster, None).await
}

async fn connect_with_s3(cluster: &ClusterArgs, s3_endpoint: Option<String>) -> Result<(Client<NativeTransport>, String), Failure> {
    let target = match (&cluster.kubeconfig, &cluster.server) {
        (Some(path), _) => Target::Kubeconfig(path),
        (None, Some(url)) => Target::Server(url),
        (None, None) => Target::Infer,
    };
    let (transport, namespace) = NativeTransport::connect(target).await.map_err(Failure::Input)?;
    Ok((Client::new(transport.with_s3_endpoint(s3_endpoint)), namespace))
}

/// `--namespace`, else the kubeconfig's, refused before any request when it is not a namespace.
fn namespace_or(given: &Option<String>, kubeconfig: String) -> Result<String, Failure> {
    let (field, namespace) = match given {
        Some(given) => ("--namespace", given.clone()),
        None => ("the kubeconfig's namespace", kubeconfig),
    };
    kaptain::identity::check_namespace(field, &namespace).map_err(|e| Failure::Input(e.to_string()))?;
    Ok(namespace)
}

/// Completes on the first Ctrl-C (SIGINT). Later ones are absorbed while cleanup runs.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await
    }
}

fn print_event(event: Event) {
    let line = match event {
        Event::Validated { objects } => format!("validated {objects} objects with the cluster (dry run)"),
        Event::BuildSkipped { image, built_by } => format!("build skipped: {image} was built by run {built_by} (config.force_rebuild: true builds it again)"),
        Event::Log { line, .. } => format!("  kaniko | {line}"),
        Event::ContextUploaded { uri, bytes, .. } => format!("uploaded the build context to {uri} ({bytes} bytes)"),
        Event::Created { kind, name, .. } => format!("created {kind}/{name}"),
        Event::Status { kind, name, state, message, .. } if message.is_empty() => format!("{kind}/{name}: {state}"),
        Event::Status { kind, name, state, message, .. } => format!("{kind}/{name}: {state} ({message})"),
        Event::PhaseEnded { phase, outcome, message } if message.is_empty() => format!("{phase}: {}", outcome.as_str()),
        Event::PhaseEnded { phase, outcome, message } => format!("{phase}: {} ({message})", outcome.as_str()),
        Event::Deleted { kind, name, reason } => format!("deleted {kind}/{name} ({reason})"),
        Event::Kept { kind, name, reason } => format!("kept {kind}/{name} ({reason})"),
        Event::Restored { kind, name, reason } => format!("restored {kind}/{name} ({reason})"),
        Event::Remains { kind, name, why } => format!("NOT deleted {kind}/{name}: {why}"),
        Event::Checked { kind, name, error: None } => format!("{kind}/{name}: accepted (dry run)"),
        Event::Checked { kind, name, error: Some(error) } => format!("{kind}/{name}: refused (dry run): {error}"),
    };
    println!("{line}");
}

pub fn apply(cell: &CellArgs, cluster: &ClusterArgs, follow: bool, build: &BuildArgs) -> Result<String, Failure> {
    let (text, mut options, run_id) = load(cell).map_err(Failure::Input)?;
    let context = match &build.dir {
        Some(dir) if !dir.is_dir() => return Err(Failure::Input(format!("--dir {}: not a directory; give the notebook's directory", dir.display()))),
        Some(dir) => ops::pack_context(&text, &options, &DirSource::new(dir), Limits { max_bytes: build.max_bytes })
            .map_err(|e| Failure::Input(e.to_string()))?,
        None => None,
    };
    if let Some(context) = &context {
        options.context_checksum = Some(context.checksum.clone());
    }
    runtime()?.block_on(async {
        let (client, default_namespace) = connect_with_s3(cluster, build.s3_endpoint.clone()).await?;
        if options.namespace.is_none() {
            // The kubeconfig's namespace, under the cell's own config.namespace.
            options.settings = Some(format!("{{\"namespace\": {:?}}}", default_namespace));
        }
        let (parsed, identity, objects) = ops::prepare(&text, &options, &run_id).map_err(|e| Failure::Input(e.to_string()))?;
        println!("run {run_id}: {} {} in namespace {}", parsed.step_kind(), parsed.model.id, parsed.config.namespace);
        if context.is_none() && parsed.step_kind().needs_build() {
            println!("no --dir: the build context is not packed or uploaded; the build Job reads {}", context_uri(&objects));
        }
        let started = Instant::now();
        let mut print = print_event;
        let report = Engine::new(&client, &parsed, &identity, &mut print)
            .context(context.as_ref())
            .run(objects, follow, interrupted())
            .await
            .map_err(|e| Failure::Cluster(e.to_string()))?;
        finish(&report, started)
    })
}

/// The `--context` the rendered build Job reads.
fn context_uri(objects: &[kaptain::manifest::Manifest]) -> String {
    objects
        .iter()
        .filter(|m| m.kind == kinds::JOB)
        .flat_map(|m| m.object["spec"]["template"]["spec"]["containers"][0]["args"].as_array().cloned().unwrap_or_default())
        .find_map(|arg| arg.as_str().and_then(|a| a.strip_prefix("--context=")).map(String::from))
        .unwrap_or_default()
}

fn finish(report: &RunReport, started: Instant) -> Result<String, Failure> {
    let took = started.elapsed().as_secs_f64();
    match report.outcome {
        Outcome::Succeeded => {
            let mut message = format!("run {}: {} ({}) in {took:.1} s", report.run_id, report.outcome.as_str(), report.phase);
            for caveat in report.plan.iter().filter_map(|entry| entry.caveat.as_deref()) {
                message.push_str(&format!("\n  note: {caveat}"));
            }
            Ok(message)
        }
        Outcome::Failed => Err(Failure::RunFailed(format!("run {} failed in {}: {}", report.run_id, report.phase, report.message))),
        Outcome::Interrupted => {
            let cleanup = report.cleanup.clone().unwrap_or_default();
            let mut message = format!(
                "run {} interrupted: {} objects deleted with {} requests in {took:.1} s",
                report.run_id,
                cleanup.deleted.len(),
                cleanup.requests
            );
            for object in &cleanup.restored {
                message.push_str(&format!("\n  restored as it was before the run: {}/{}", object.kind, object.name));
            }
            for (object, why) in &cleanup.remaining {
                message.push_str(&format!("\n  still there: {}/{}: {why}", object.kind, object.name));
            }
            Err(Failure::Interrupted(message))
        }
    }
}

pub fn cleanup(run_id: &str, cluster: &ClusterArgs, namespace: Option<String>) -> Result<String, Failure> {
    let run_id = RunId::parse(run_id).map_err(|e| Failure::Input(format!("--run-id: {}; {}", e.problem, e.fix)))?;
    runtime()?.block_on(async {
        let (client, default_namespace) = connect(cluster).await?;
        let namespace = namespace_or(&namespace, default_namespace)?;
        let started = Instant::now();
        let mut print = print_event;
        let report = engine::cleanup(&client, &namespace, &run_id, &mut print).await;
        let summary = format!(
            "run {run_id}: {} objects deleted with {} requests in {:.1} s",
            report.deleted.len(),
            report.requests,
            started.elapsed().as_secs_f64()
        );
        if report.remaining.is_empty() {
            Ok(summary)
        } else {
            Err(Failure::Cluster(format!("{summary}; {} could not be confirmed gone", report.remaining.len())))
        }
    })
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

pub fn runs(cluster: &ClusterArgs, namespace: Option<String>, json: bool) -> Result<String, Failure> {
    runtime()?.block_on(async {
        let (client, default_namespace) = connect(cluster).await?;
        let namespace = namespace_or(&namespace, default_namespace)?;
        let runs = runs::list_runs(&client, &namespace, &runs::Whose::Everyone).await.map_err(|e| Failure::Cluster(e.to_string()))?;
        if json {
            return Ok(serde_json::to_string_pretty(&runs).unwrap_or_default());
        }
        if runs.is_empty() {
            return Ok(format!("no kaptain runs in namespace {namespace}"));
        }
        let mut out = format!("{:<12} {:<24} {:<7} {:<12} {:>7} {:>5} {:>5}  {}", "RUN", "MODEL", "STEP", "STATUS", "OBJECTS", "AGE", "ENDED", "SERVER");
        for run in runs {
            out.push_str(&format!(
                "\n{:<12} {:<24} {:<7} {:<12} {:>7} {:>5} {:>5}  {}",
                run.run_id,
                run.model_id,
                run.step,
                run.status,
                run.objects.len(),
                age(run.age_seconds),
                run.ended_seconds_ago.map_or("-".into(), age),
                run.notebook_server.as_deref().unwrap_or("-"),
            ));
        }
        Ok(out)
    })
}

pub fn sweep(cluster: &ClusterArgs, namespace: Option<String>, older_than: &str, dry_run: bool, whose: runs::Whose) -> Result<String, Failure> {
    let limit = kaptain::spec::parse_duration(older_than)
        .ok_or_else(|| Failure::Input(format!("--older-than {older_than:?}: use seconds or a number with s, m, h or d, e.g. 24h")))?;
    runtime()?.block_on(async {
        let (client, default_namespace) = connect(cluster).await?;
        let namespace = namespace_or(&namespace, default_namespace)?;
        let scope = match &whose {
            runs::Whose::Server(label) => format!("notebook server {label}'s runs"),
            runs::Whose::NoServer => "runs started from the command line".into(),
            runs::Whose::Everyone => "every server's runs".into(),
        };
        let selection = runs::SweepSelection { whose, older_than_seconds: Some(limit), run_ids: Vec::new() };
        let verb = if dry_run { "would delete" } else { "deleted" };
        let mut print = |run: &runs::RunSummary, object: &runs::RunObject| {
            let ended = run.ended_seconds_ago.map_or("-".into(), age);
            println!("{verb} {}/{} (run {}, ended {ended} ago)", object.kind, object.name, run.run_id);
        };
        let swept = runs::sweep(&client, &namespace, &selection, dry_run, &mut print).await.map_err(|e| Failure::Cluster(e.to_string()))?;
        let swept: usize = swept.iter().map(|r| r.deleted.len()).sum();
        Ok(format!("sweep: {verb} {swept} objects of {scope} that ended more than {older_than} ago in namespace {namespace}"))
    })
}
