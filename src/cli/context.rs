//! `kaptain context`: packs the build context of a cell's model from a directory.

use std::path::PathBuf;

use kaptain::context::{self, DirSource, Limits};
use kaptain::{ops, Options};

#[derive(clap::Args)]
pub struct ContextArgs {
    /// File holding one %%kaptain cell; `-` reads stdin.
    cell_file: String,
    /// The notebook's directory: model.main_file, extra_files and requirements are read from it.
    #[arg(long)]
    dir: PathBuf,
    /// Where to write the tar.gz.
    #[arg(long)]
    out: PathBuf,
    /// Largest context accepted, in bytes: the sum of the files' sizes, Dockerfile included.
    #[arg(long, default_value_t = context::DEFAULT_MAX_BYTES)]
    max_bytes: u64,
}

/// Lists the files and the written archive; the checksum is the last line.
pub fn run(args: &ContextArgs) -> Result<String, String> {
    let cell_args = super::CellArgs {
        cell_file: args.cell_file.clone(),
        run_id: None,
        namespace: None,
        env: Vec::new(),
        context_checksum: None,
    };
    let (text, options, _) = super::load(&cell_args)?;
    let cell = ops::parse(&text, &Options { env: options.env, ..Options::default() }).map_err(|e| e.to_string())?;
    if !args.dir.is_dir() {
        return Err(format!("--dir {}: not a directory; give the notebook's directory", args.dir.display()));
    }
    let packed = context::pack(&cell.model, &DirSource::new(&args.dir), Limits { max_bytes: args.max_bytes })
        .map_err(|e| e.to_string())?;
    std::fs::write(&args.out, &packed.archive).map_err(|e| format!("--out {}: cannot write the archive: {e}", args.out.display()))?;
    let mut out = String::new();
    for (path, size) in &packed.files {
        out.push_str(&format!("{size:>12}  {path}\n"));
    }
    out.push_str(&format!("wrote {} ({} bytes, {} files, {} bytes of content)\n", args.out.display(), packed.archive.len(), packed.files.len(), packed.content_bytes()));
    out.push_str(&packed.checksum);
    Ok(out)
}
