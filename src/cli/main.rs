//! `kaptain`: the native command line over the core.
//! Exit status: 0 done (run succeeded), 1 the run failed, 2 bad input (message on stderr,
//! nothing on stdout), 3 the cluster refused or could not be reached, 130 interrupted.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kaptain::identity::RunId;
use kaptain::lifecycle::{self, Outcome};
use kaptain::spec::SpecError;
use kaptain::{ops, Options};

#[derive(Parser)]
#[command(name = "kaptain", version, about = "Kaptain SDK workflows (build, train, tune, deploy) as Kubernetes objects with a clear cleanup policy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Yaml,
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormat {
    Json,
    Markdown,
}

#[derive(clap::Args)]
struct CellArgs {
    /// File holding one %%kaptain cell; `-` reads stdin.
    cell_file: String,
    /// Run id (one per cell execution); a new one when not given.
    #[arg(long)]
    run_id: Option<String>,
    /// Namespace to work in, when the cell's config does not say.
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// A KAPTAIN_SDK_* switch, as KEY=VALUE; wins over the process environment.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// sha256 of the packed build context (otherwise derived from what the cell declares).
    #[arg(long)]
    context_checksum: Option<String>,
}

/// Where a step that builds an image finds the model's files and S3.
#[derive(clap::Args)]
struct BuildArgs {
    /// The notebook's directory: the build context is packed from model.main_file,
    /// extra_files and requirements there and uploaded to S3 before the build Job is created.
    /// Without it the Job's context must be in S3 already (--context-checksum names it).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Where this machine reaches S3, when not at the cell's config.s3_endpoint (which the
    /// kaniko pod uses), e.g. http://127.0.0.1:9000 through a port-forward.
    #[arg(long)]
    s3_endpoint: Option<String>,
    /// Largest context accepted, in bytes: the sum of the files' sizes, Dockerfile included.
    #[arg(long, default_value_t = kaptain::context::DEFAULT_MAX_BYTES)]
    max_bytes: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Print the objects the cell would create (a train or tune cell includes its build).
    Render {
        #[command(flatten)]
        cell: CellArgs,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Print, for each object render lists, whether it is deleted or kept when the run ends.
    Plan {
        #[command(flatten)]
        cell: CellArgs,
        #[arg(long, value_parser = ["succeeded", "failed", "interrupted"])]
        outcome: String,
    },
    /// Print the lifecycle table: when each kind of object is deleted.
    Policy {
        #[arg(long, value_enum, default_value = "markdown")]
        format: TableFormat,
    },
    /// Run the cell's step in the cluster. Ctrl-C is an interruption: everything of the run
    /// is deleted before kaptain exits.
    Apply {
        #[command(flatten)]
        cell: CellArgs,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Follow the run to its outcome and apply the lifecycle plan (otherwise: create and exit).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Delete everything of a run, whatever its state.
    Cleanup {
        #[arg(long)]
        run_id: String,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Namespace of the run (default: the kubeconfig's).
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// List the runs found in the namespace by label.
    Runs {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Clean up runs nobody follows any more: every object of runs that ended longer ago than
    /// --older-than (a run whose job still works is never swept), except deployments
    /// (InferenceServices and the credentials they use). Only runs started from the command
    /// line, unless --notebook-server or --all-servers says otherwise.
    Sweep {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        /// Time since a run ended past which it counts as abandoned: seconds, or a number with
        /// s, m, h or d.
        #[arg(long, default_value = "24h")]
        older_than: String,
        /// Print what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Sweep the runs this notebook server started (its label value, as `kaptain runs`
        /// shows it, or its base URL), not the command line's.
        #[arg(long, conflicts_with = "all_servers")]
        notebook_server: Option<String>,
        /// Sweep every run, whoever started it.
        #[arg(long)]
        all_servers: bool,
    },
    /// Pack the build context of the cell's model (files from --dir plus a generated
    /// Dockerfile) into a deterministic tar.gz; prints its checksum as the last line.
    Context(context::ContextArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

#[derive(clap::Args)]
struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, conflicts_with = "server")]
    kubeconfig: Option<std::path::PathBuf>,
    /// URL of a `kubectl proxy`, e.g. http://127.0.0.1:8001.
    #[arg(long)]
    server: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Apply { cell, cluster, wait, build } => cluster::apply(&cell, &cluster, wait, &build),
        Command::Cleanup { run_id, cluster, namespace } => cluster::cleanup(&run_id, &cluster, namespace),
        Command::Runs { cluster, namespace, format } => cluster::runs(&cluster, namespace, matches!(format, ListFormat::Json)),
        Command::Sweep { cluster, namespace, older_than, dry_run, notebook_server, all_servers } => {
            use kaptain::engine::runs::Whose;
            let whose = match notebook_server {
                // As `kaptain runs` shows it, or the server's base URL.
                Some(label) if !label.is_empty() && kaptain::identity::is_label_value(&label) => Whose::Server(label),
                other => Whose::of(other.as_deref(), all_servers),
            };
            cluster::sweep(&cluster, namespace, &older_than, dry_run, whose)
        }
        Command::Context(args) => context::run(&args).map_err(Failure::Input),
        offline => run(offline).map_err(Failure::Input),
    };
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let (code, message) = match failure {
                Failure::Input(m) => (2, m),
                Failure::Cluster(m) => (3, m),
                Failure::RunFailed(m) => (1, m),
                Failure::Interrupted(m) => (130, m),
            };
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

/// Why a command did not succeed, which decides the exit status.
enum Failure {
    Input(String),
    Cluster(String),
    RunFailed(String),
    Interrupted(String),
}

fn run(command: Command) -> Result<String, String> {
    match command {
        Command::Render { cell, format } => {
            let (text, options, run_id) = load(&cell)?;
            let objects = ops::render(&text, &options, &run_id).map_err(|e| e.to_string())?;
            Ok(match format {
                Format::Json => pretty(&ops::objects_json(&objects)),
                Format::Yaml => ops::objects_yaml(&objects).trim_end().to_string(),
            })
        }
        Command::Plan { cell, outcome } => {
            let (text, options, run_id) = load(&cell)?;
            let outcome = Outcome::parse(&outcome).ok_or("unknown outcome")?;
            let entries = ops::plan(&text, &options, &run_id, outcome).map_err(|e| e.to_string())?;
            Ok(pretty(&serde_json::to_value(entries).map_err(|e| e.to_string())?))
        }
        Command::Policy { format } => Ok(match format {
            TableFormat::Json => pretty(&serde_json::to_value(lifecycle::TABLE).map_err(|e| e.to_string())?),
            TableFormat::Markdown => lifecycle::table_markdown().trim_end().to_string(),
        }),
        _ => unreachable!("cluster commands are dispatched in main"),
    }
}

mod cluster;
mod context;

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn load(args: &CellArgs) -> Result<(String, Options, RunId), String> {
    let limit = kaptain::spec::MAX_CELL_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    let read = if args.cell_file == "-" {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(&args.cell_file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("{}: cannot read the cell file: {e}", args.cell_file))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{}: the cell is not UTF-8 text; save it as UTF-8", args.cell_file))?;

    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| kaptain::spec::ENV_KEYS.contains(&k.as_str()))
        .collect();
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--env {pair:?}: write it as KEY=VALUE, e.g. --env KAPTAIN_SDK_FORCE_CLEANUP=true"))?;
        env.push((key.to_string(), value.to_string()));
    }
    let run_id = match &args.run_id {
        Some(id) => RunId::parse(id).map_err(|e: SpecError| format!("--run-id: {}; {}", e.problem, e.fix))?,
        None => RunId::from_entropy(entropy()),
    };
    let options = Options {
        namespace: args.namespace.clone(),
        env,
        context_checksum: args.context_checksum.clone(),
        ..Options::default()
    };
    Ok((text, options, run_id))
}

fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    hasher.write_u32(std::process::id());
    hasher.finish()
}
