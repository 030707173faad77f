//! `stackc check [ENV...]`: every rule of the registry over the resolved stack and its
//! rendered objects; miette text for people, `--format json` (docs/check-json.md) and
//! `--format github` (GitHub Actions annotations) for CI. Exit 0 clean (warnings allowed),
//! 1 when a rule found an error, 2 when the stack could not be checked.

use super::{GlobalArgs, Session};
use crate::check::{self, Context, EnvCheck, Finding, Severity, RULES};
use crate::diagnostics::Diagnostics;
use clap::{Args, ValueEnum};
use std::process::ExitCode;

/// Arguments of `stackc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Environments to check (all when none are named).
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,
    /// Print the rules and exit.
    #[arg(long)]
    pub list: bool,
    /// How to print findings.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// The renderings of the findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// miette diagnostics on standard error.
    Text,
    /// One JSON document on standard output (docs/check-json.md).
    Json,
    /// GitHub Actions workflow commands (`::error file=...,line=...::...`) on standard output.
    Github,
}

/// The version of the JSON output's schema.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Runs `stackc check`.
pub fn run(global: &GlobalArgs, args: &CheckArgs) -> Result<ExitCode, Diagnostics> {
    if args.list {
        let width = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
        for rule in RULES {
            println!(
                "{:width$}  {:7}  {}",
                rule.id,
                rule.severity.as_str(),
                rule.description
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let session = Session::open(global)?;
    check::check_allows(&session.stack)?;
    let names = session.select_environments(&args.environments)?;
    let rendered = crate::build::render_objects(&session.stack, &session.resolved, &names)?;
    // The layout's own objects (Namespaces, policy, Flux and Argo CD objects) are validated
    // by `check::generated_findings`, as in the build's gate, not as rendered objects.
    let envs = rendered
        .into_iter()
        .filter_map(|(name, objects)| {
            let env = session
                .resolved
                .environments
                .iter()
                .find(|e| e.name == name)?;
            Some(EnvCheck::new(env, objects, session.out_dir().join(&name)))
        })
        .collect();
    let ctx = Context {
        stack: &session.stack,
        envs,
    };
    let findings = check::run(&ctx);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let sources = &session.stack.sources;
    match args.format {
        CheckFormat::Text => {
            let mut reports = Diagnostics::new();
            for finding in &findings {
                reports.push(finding.report(sources));
            }
            for report in reports.reports() {
                eprintln!("{report:?}");
            }
            if !global.quiet || errors > 0 {
                eprintln!(
                    "checked {} environment{}: {errors} error{}, {warnings} warning{}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    if errors == 1 { "" } else { "s" },
                    if warnings == 1 { "" } else { "s" },
                );
            }
        }
        CheckFormat::Json => {
            let generated = check::generated_validated(&ctx);
            println!(
                "{}",
                json(&findings, sources, &names, [errors, warnings, generated])
            );
        }
        CheckFormat::Github => {
            for finding in &findings {
                println!("{}", github(finding, sources));
            }
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn json(
    findings: &[Finding],
    sources: &crate::source::Sources,
    envs: &[String],
    [errors, warnings, generated]: [usize; 3],
) -> String {
    let items: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let location = f.location(sources);
            serde_json::json!({
                "rule": f.rule,
                "code": format!("stackc::check::{}", f.rule),
                "severity": f.severity.as_str(),
                "message": f.message,
                "environment": f.env,
                "service": f.service,
                "object": f.object,
                "file": location.as_ref().map(|l| l.0.clone()),
                "line": location.as_ref().map(|l| l.1),
                "column": location.as_ref().map(|l| l.2),
                "help": f.help,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "version": JSON_SCHEMA_VERSION,
        "environments": envs,
        "findings": items,
        "summary": { "errors": errors, "warnings": warnings, "generated_objects": generated },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_string())
}

/// `::error file=F,line=L,col=C,title=T::MESSAGE`, with GitHub's escapes.
fn github(finding: &Finding, sources: &crate::source::Sources) -> String {
    let escape_data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let escape_property = |s: &str| escape_data(s).replace(':', "%3A").replace(',', "%2C");
    let level = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut properties = Vec::new();
    if let Some((file, line, column)) = finding.location(sources) {
        properties.push(format!("file={}", escape_property(&file)));
        properties.push(format!("line={line}"));
        properties.push(format!("col={column}"));
    }
    properties.push(format!(
        "title={}",
        escape_property(&format!("stackc::check::{}", finding.rule))
    ));
    format!(
        "::{level} {}::{}",
        properties.join(","),
        escape_data(&finding.headline())
    )
}
