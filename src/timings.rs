//! `STACKC_TIMINGS=1`: the time since the process started at the end of each phase of a
//! command, on stderr. A measuring aid for the benchmark, not part of any output.

use std::sync::OnceLock;
use std::time::Instant;

/// Prints, when `STACKC_TIMINGS` is set, the time since the first call (`main` makes it at
/// the start of the process) as the end of phase `name`.
pub fn phase(name: &str) {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    let started = STARTED.get_or_init(Instant::now);
    if std::env::var_os("STACKC_TIMINGS").is_some() {
        eprintln!(
            "[{:>7.1} ms] {name}",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}
