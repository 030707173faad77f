//! Command-line arguments and the dispatch to one function per command. Exit codes: 0 success,
//! 1 "found something" (`diff` differences, `build --check` staleness), 2 error.

use crate::diagnostics::Diagnostics;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Declarative, fast, safe `GitOps` manifests.
#[derive(Debug, Parser)]
#[command(name = "stackc", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The stack's root directory (holds stacks.kdl).
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub root: PathBuf,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// `--identity FILE`, offered only by the commands that decrypt.
#[derive(Debug, Args, Default)]
pub struct IdentityArgs {
    /// An age identity file to decrypt with (repeatable); also looked for: `SOPS_AGE_KEY_FILE`,
    /// `SOPS_AGE_KEY`, `~/.config/sops/age/keys.txt`.
    #[arg(long = "identity", value_name = "FILE", global = true)]
    pub identities: Vec<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every environment (or the ones named) into out/<env>.
    Build(build::BuildArgs),
    /// Compare two environments, or out/ENV with what a build would write (exit 1 on
    /// differences).
    Diff(diff::DiffArgs),
    /// Show where each resolved value of a service came from.
    Explain(explain::ExplainArgs),
    /// Set, get or rotate a value in an environment's secret store.
    Secret(secret::SecretArgs),
    /// Make a new age identity and print its recipient.
    Keygen(keygen::KeygenArgs),
    /// Print the `sops-age` Secret for flux-system (holding --identity) to standard output.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Show layers, services, depends-on edges, secrets and waves (text, dot or mermaid).
    Graph(graph::GraphArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) to standard output.
    Man,
    /// Install, remove or run the git pre-commit hook.
    Hook(hook::HookArgs),
    /// Run every validation rule over the stack (exit 1 when one finds an error).
    Check(check::CheckArgs),
    /// Scaffold a new stack (or copy a built-in template into templates/).
    Init(init::InitArgs),
    /// Copy a service's pinned versions from one environment into the next (edits the KDL).
    Promote(promote::PromoteArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    install_report_handler();
    let outcome = match &cli.command {
        Command::Build(args) => build::run(&cli.global, args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::Explain(args) => explain::run(&cli.global, args),
        Command::Secret(args) => secret::run(&cli.global, args),
        Command::Keygen(args) => keygen::run(&cli.global, args),
        Command::Bootstrap(args) => bootstrap::run(&cli.global, args),
        Command::Graph(args) => graph::run(&cli.global, args),
        Command::Completions(args) => completions::run(args),
        Command::Man => completions::man(),
        Command::Hook(args) => hook::run(&cli.global, args),
        Command::Promote(args) => promote::run(&cli.global, args),
        Command::Init(args) => init::run(&cli.global, args),
        Command::Check(args) => check::run(&cli.global, args),
    };
    match outcome {
        Ok(code) => code,
        Err(diagnostics) => {
            report(&diagnostics);
            ExitCode::from(2)
        }
    }
}

/// Diagnostics are drawn for a terminal when there is one; piped output (CI logs, tests,
/// editors) gets unwrapped lines so that every message stays greppable.
fn install_report_handler() {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| {
        let options = miette::MietteHandlerOpts::new();
        let options = if terminal {
            options
        } else {
            options.wrap_lines(false).color(false)
        };
        Box::new(options.build())
    }));
}

/// Prints diagnostics to stderr with miette's graphical handler.
pub fn report(diagnostics: &Diagnostics) {
    for report in diagnostics.reports() {
        eprintln!("{report:?}");
    }
    if diagnostics.len() > 1 {
        eprintln!("error: {} problems found", diagnostics.len());
    }
}

pub mod bootstrap;
pub mod build;
pub mod check;
pub mod completions;
pub mod diff;
pub mod explain;
pub mod graph;
pub mod hook;
pub mod init;
pub mod keygen;
pub mod promote;
pub mod secret;
mod session;

pub use session::{set_jobs, BuildLock, Session, UnknownName};
