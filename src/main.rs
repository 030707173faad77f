//! The `stackc` binary: parse arguments, run one command, map the outcome to an exit code.

/// Counts live memory per thread, so that a runaway template is stopped at its budget.
#[global_allocator]
static ALLOCATOR: stackc::memory::Counting = stackc::memory::Counting;

fn main() {
    stackc::memory::tune();
    stackc::timings::phase("start");
    stackc::memory::watch(|over| {
        eprintln!(
            "{:?}",
            miette::Report::new(stackc::memory::OverBudget {
                label: over.label.clone()
            })
        );
    });
    let code = stackc::cli::main();
    end(code)
}

/// Flushes the standard streams and ends the process with the command's status, skipping
/// the allocator's exit-time collection (see [`stackc::memory::exit`]).
fn end(code: std::process::ExitCode) -> ! {
    use std::io::Write;
    let status = (0..=u8::MAX)
        .find(|n| std::process::ExitCode::from(*n) == code)
        .unwrap_or(1);
    // As on Rust's own exit path, a stream that cannot be flushed (a closed pipe) is ignored.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    stackc::timings::phase("exit");
    stackc::memory::exit(status)
}
