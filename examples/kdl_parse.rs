//! Measures KDL parse speed: our `model::syntax` parser against `kdl::KdlDocument::parse`, on
//! the given files, in MB/s (dev-only; see the report in docs or the commit message).
//!
//! ```text
//! cargo run --release --example gen_stack -- --services 1000 /dev/shm/g1000
//! cargo run --release --example kdl_parse -- /dev/shm/g1000/stacks.kdl
//! ```
//!
//! `--ours-only` skips the `kdl` crate (slow on large files). Times are CPU time (see
//! `best_of`), the best of several runs, the drop of the parsed tree included.

use stackc::model::syntax::Document;
use std::time::{Duration, Instant};

fn main() {
    let mut ours_only = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--ours-only" {
            ours_only = true;
        } else {
            files.push(arg);
        }
    }
    for path in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        };
        // Exact below 2^52 bytes, far past any file this reads.
        #[allow(clippy::cast_precision_loss)]
        let mb = text.len() as f64 / 1e6;
        let ours = best_of(|| {
            let doc = Document::parse(&text);
            assert!(doc.is_ok(), "our parser rejects {path}");
        });
        println!(
            "{path}: {mb:.2} MB, ours {:.1} ms = {:.0} MB/s",
            ours.as_secs_f64() * 1e3,
            mb / ours.as_secs_f64()
        );
        if !ours_only {
            let theirs = best_of(|| {
                let doc = kdl::KdlDocument::parse(&text);
                assert!(doc.is_ok(), "kdl rejects {path}");
            });
            println!(
                "{path}: kdl {:.1} ms = {:.2} MB/s; ours is {:.0}x faster",
                theirs.as_secs_f64() * 1e3,
                mb / theirs.as_secs_f64(),
                theirs.as_secs_f64() / ours.as_secs_f64()
            );
        }
    }
}

/// The fastest of a few runs (at least 3, and at least one second's worth when runs are short),
/// in CPU time of this thread where Linux tells it (`/proc/thread-self/schedstat`), so a busy
/// machine's waiting is not counted; wall-clock time elsewhere.
fn best_of(mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    let start = Instant::now();
    let mut runs = 0;
    while runs < 3 || (start.elapsed() < Duration::from_secs(1) && runs < 200) {
        let (t, cpu) = (Instant::now(), cpu_ns());
        f();
        let took = match (cpu, cpu_ns()) {
            (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
            _ => t.elapsed(),
        };
        best = best.min(took);
        runs += 1;
    }
    best
}

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
