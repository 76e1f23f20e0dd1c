//! `confab admin backup --data-dir DIR --to FILE`: see `confab_store_sqlite::backup`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The running (or stopped) server's data directory, holding confab.db.
    #[arg(long, env = "CONFAB_DATA_DIR", default_value = "./confab-data")]
    data_dir: PathBuf,

    /// The file to write; it must not exist yet.
    #[arg(long)]
    to: PathBuf,
}

pub fn run(args: Args) -> Result<(), String> {
    let report = confab_store_sqlite::backup::backup(&args.data_dir, &args.to).map_err(|e| e.to_string())?;
    println!(
        "backed up {} to {}: {} bytes, {} rooms, {} events, integrity ok",
        args.data_dir.join("confab.db").display(),
        args.to.display(),
        report.bytes,
        report.rooms,
        report.events
    );
    Ok(())
}
