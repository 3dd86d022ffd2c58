//! `tcpsim`: the command line of the TCP connection-lifecycle simulator.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scenarios::run::{self, RunOptions};
use scenarios::{CliError, builtin, spec, sweep};

/// A deterministic discrete-event simulator of the TCP connection lifecycle.
#[derive(Debug, Parser)]
#[command(
    name = "tcpsim",
    version,
    after_help = "Examples:\n  tcpsim list\n  tcpsim run client-close\n  tcpsim run server-close --set workload.rate=5000 --set group.clients.count=100\n  tcpsim show port-exhaustion > mine.toml && tcpsim run mine.toml --trace\n  tcpsim report out/client-close-seed1\n\nExit status: 0 success, 2 bad input (nothing written), 1 anything else."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the built-in scenarios, one line each.
    List,
    /// Print a scenario as TOML with every default filled in (it can be fed back to `run`).
    Show(ScenarioArgs),
    /// Run a scenario and write its result files.
    Run(RunArgs),
    /// Run a sweep plan: many runs over a grid of settings and seeds.
    Sweep(sweep::SweepArgs),
    /// Summarize a result directory.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
struct ScenarioArgs {
    /// A built-in scenario name (see `tcpsim list`) or a path to a .toml file.
    scenario: String,
    /// Master seed of the run (overrides run.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario key by its dotted path, e.g. --set tcp.fin_timeout=30s
    /// --set workload.rate=200 --set group.clients.count=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl ScenarioArgs {
    fn load(&self) -> Result<spec::Scenario, CliError> {
        let mut sets = self.sets.clone();
        if let Some(seed) = self.seed {
            sets.push(format!("run.seed={seed}"));
        }
        spec::load(&self.scenario, &sets)
    }
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    // Not a doc comment: rustdoc would read `<scenario>` as an HTML tag.
    #[arg(
        long,
        value_name = "DIR",
        help = "Result directory [default: out/<scenario>-seed<N>]. An earlier result there is replaced."
    )]
    out: Option<PathBuf>,
    /// Also write transitions.csv: every state change of every socket.
    #[arg(long)]
    trace: bool,
    /// Also write every segment, with real Ethernet/IPv4/TCP headers, to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// A result directory written by `tcpsim run`.
    dir: PathBuf,
    /// Also draw plots into the directory.
    #[arg(long)]
    plots: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Table,
    Csv,
    Json,
}

/// `tcpsim report`: the analysis crate's report of a run or sweep directory.
fn report(args: &ReportArgs) -> Result<(), CliError> {
    use analysis::ReportError;
    use analysis::report::{Format, ReportOptions};
    let opts = ReportOptions {
        dir: args.dir.clone(),
        format: match args.format {
            ReportFormat::Table => Format::Table,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Json => Format::Json,
        },
        plots: args.plots,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = analysis::report::report(&opts, &mut out).map_err(|e| match e {
        ReportError::BadInput(m) => CliError::bad_input(m),
        other => CliError::other(other.to_string()),
    })?;
    std::io::Write::flush(&mut out).or_else(stdout_closed)?;
    for p in written {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcpsim: error: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`tcpsim show X | head`) is not
/// an error.
fn emit(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, text.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut out))
        .or_else(stdout_closed)
}

fn stdout_closed(e: std::io::Error) -> Result<(), CliError> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(CliError::other(format!("stdout: {e}")))
    }
}

fn dispatch(command: Command) -> Result<(), CliError> {
    match command {
        Command::List => {
            let width = builtin::ALL.iter().map(|b| b.name.len()).max().unwrap_or(0);
            let lines: String = builtin::ALL
                .iter()
                .map(|b| format!("{:width$}  {}\n", b.name, b.summary))
                .collect();
            emit(&lines)
        }
        Command::Show(args) => emit(&args.load()?.to_toml()),
        Command::Run(args) => {
            let sc = args.scenario.load()?;
            if let Some(pcap) = &args.pcap {
                let dir = pcap.parent().filter(|d| !d.as_os_str().is_empty());
                if dir.is_some_and(|d| !d.is_dir()) {
                    return Err(CliError::bad_input(format!(
                        "--pcap {}: directory {} does not exist",
                        pcap.display(),
                        dir.map(|d| d.display().to_string()).unwrap_or_default()
                    )));
                }
            }
            let opts = RunOptions {
                out: args
                    .out
                    .clone()
                    .unwrap_or_else(|| run::default_out_dir(&sc)),
                trace: args.trace,
                pcap: args.pcap.clone(),
                progress: !args.quiet && std::io::stderr().is_terminal(),
            };
            let outcome = run::run(&sc, &opts)?;
            emit(&format!("{}\n", outcome.describe()))
        }
        Command::Sweep(args) => sweep::run(&args),
        Command::Report(args) => report(&args),
    }
}
