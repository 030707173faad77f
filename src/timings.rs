//! `STACKC_TIMINGS=1`: the time since the process started at the end of each phase of a
//! command, on stderr. A measuring aid for the benchmark, not part of any output.

use std::sync::OnceLock;
use std::time::Instant;

/// Prints, when `STACKC_TIMINGS` is set, the time since the first call (`main` makes it at
/// the start of the process) as the end of phase `name`, with the resident memory then.
pub fn phase(name: &str) {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    let started = STARTED.get_or_init(Instant::now);
    if std::env::var_os("STACKC_TIMINGS").is_some() {
        eprintln!(
            "[{:>7.1} ms] {name} ({} MiB resident)",
            started.elapsed().as_secs_f64() * 1000.0,
            resident_mib().map_or_else(|| "?".to_string(), |m| m.to_string())
        );
    }
}

/// The process's resident memory in MiB, from `/proc/self/statm` (Linux; `None` elsewhere).
fn resident_mib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = u64::try_from(rustix::param::page_size()).ok()?;
    Some((pages * page) >> 20)
}
