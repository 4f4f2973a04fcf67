//! Runs Prometheus's PromQL test scripts against Aion's engine.
//!
//! ```text
//! cargo run --release --example promqltest -- PATH...
//! cargo run --release --example promqltest -- promqltest/tests/upstream
//! ```
//!
//! The runner is the `aion-promqltest` harness crate; the test-script
//! dialect it understands is described in `docs/promql-test-scripts.md`.
//!
//! Each PATH is a `.test` file or a folder of them. Every failing eval is
//! printed with `file:line`, what was expected and what came back; skipped
//! evals are listed by reason; the last line is `N passed, M failed`
//! (plus `, K skipped` when some were skipped), counting eval commands.
//! The exit status is 1 when anything failed, 2 on a usage error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aion::promql::{Engine, EngineOptions};
use aion_promqltest::{run_script, MemTestStorage, Outcome, SkipReason};

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "test") {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("usage: promqltest [-v] PATH...   (.test files or folders of them; -v lists skipped evals)");
        return ExitCode::from(2);
    }
    let verbose = args.iter().any(|a| a == "-v");
    args.retain(|a| a != "-v");
    let mut files = Vec::new();
    for a in &args {
        if let Err(e) = collect(Path::new(a), &mut files) {
            eprintln!("{a}: {e}");
            return ExitCode::from(2);
        }
    }
    let engine = Engine::new(EngineOptions::prometheus_test_suite());
    let mut storage = MemTestStorage::new();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut reasons: BTreeMap<SkipReason, usize> = BTreeMap::new();
    let mut file_errors = 0usize;
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                println!("{}: {e}", f.display());
                file_errors += 1;
                continue;
            }
        };
        let report = run_script(&text, &mut storage, &engine);
        for e in &report.evals {
            match &e.outcome {
                Outcome::Passed => passed += 1,
                Outcome::Failed(m) => {
                    failed += 1;
                    println!("{}:{}: {}\n    {m}", f.display(), e.line, e.query);
                }
                Outcome::Skipped(r) => {
                    if verbose {
                        println!("{}:{}: {} (skipped: {r})", f.display(), e.line, e.query);
                    }
                    skipped += 1;
                    *reasons.entry(r.clone()).or_default() += 1;
                }
            }
        }
        if let Some(err) = &report.error {
            file_errors += 1;
            println!("{}: {err}", f.display());
        }
    }
    if !reasons.is_empty() {
        println!("skipped evals by reason:");
        for (r, n) in &reasons {
            println!("  {n:5}  {r}");
        }
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    if failed > 0 || file_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
