//! What opening a data directory skipped, repaired or could not read,
//! printed as `warning: ` lines on stderr: a dump or query over a damaged
//! directory must never look healthy. `--strict` refuses such a directory
//! instead, as promtool does.

use std::path::Path;

use aion_tsdb::{Db, Options};
use clap::Args;

/// The `--strict` flag of every command that opens a data directory.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct OpenFlags {
    /// Refuse a damaged directory (an unreadable block, WAL or checkpoint
    /// damage, a torn WAL record, a damaged chunks_head file): exit 1
    /// naming the file and offset, changing nothing, as promtool does.
    /// Without it the damaged part is skipped (or, when opened for
    /// writing, cut or moved aside) with a `warning: ` line.
    #[arg(long)]
    pub strict: bool,
}

impl OpenFlags {
    /// `base` with the flag applied.
    pub fn options(self, base: Options) -> Options {
        Options {
            refuse_damaged_data: self.strict,
            ..base
        }
    }
}

/// Opens `dir` read-only and prints what the open found.
pub fn open_read_only(dir: &Path, flags: OpenFlags) -> aion_tsdb::Result<Db> {
    let db = Db::open_read_only_with(dir, flags.options(Options::default()))?;
    print_open_warnings(&db);
    Ok(db)
}

/// Prints every problem the open found ([`Db::warnings`]: blocks skipped,
/// WAL cut or repaired, head chunk files dropped), one `warning: ` line
/// each, naming the file.
pub fn print_open_warnings(db: &Db) {
    for w in db.warnings() {
        eprintln!("warning: {w}");
    }
}
