//! The `stackc` binary: parse arguments, run one command, map the outcome to an exit code.

/// Counts live memory per thread, so that a runaway template is stopped at its budget.
#[global_allocator]
static ALLOCATOR: stackc::memory::Counting = stackc::memory::Counting;

fn main() -> std::process::ExitCode {
    stackc::memory::watch(|over| {
        eprintln!(
            "{:?}",
            miette::Report::new(stackc::memory::OverBudget {
                label: over.label.clone()
            })
        );
    });
    stackc::cli::main()
}
