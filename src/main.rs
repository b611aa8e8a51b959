//! `kaptain`: the native command line over the core (render, plan, policy).
//! Bad input exits with status 2 and the message on stderr, nothing on stdout.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
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
    }
}

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
