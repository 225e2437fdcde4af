//! The `comicbooth` command: parses arguments and calls the library. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use comicbooth::commands;
use comicbooth::config::Config;

/// Turns a photo booth into a comic booth: camera frames in, looping comic animations out.
#[derive(Parser)]
#[command(version, about, max_term_width = 100)]
struct Cli {
    /// Configuration file (TOML). Without it every key has its default; see `config --default`.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the booth: camera, display and triggers, until stopped (the systemd service).
    /// Exits with 78 (EX_CONFIG) when the configuration cannot be used, which the unit does not
    /// restart.
    Run {
        /// Stop cleanly after this many seconds (soak tests, screenshots).
        #[arg(long = "for", value_name = "SECONDS")]
        duration: Option<u64>,
    },
    /// Run the whole pipeline on the built-in sample photos, headless, and save the animations.
    Demo {
        /// Folder for the animations and screen frames [default: export.dir from the config].
        #[arg(long, short, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Generator ONNX file to use instead of model.path.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Gate ONNX file to use instead of model.gate_path.
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
    },
    /// Serve the comics to guests' phones: a page per comic (what the QR code on the result
    /// screen opens), read-only, until stopped (the comicbooth-share service).
    Share {
        /// Address and port to listen on instead of share.listen.
        #[arg(long, value_name = "ADDRESS:PORT")]
        listen: Option<String>,
    },
    /// Turn one photo, or a folder of photos, into comic pictures.
    Stylize {
        /// A .jpg/.png photo or a folder of them.
        input: PathBuf,
        /// Output .png/.jpg file, or a folder (created when missing).
        output: PathBuf,
        /// Short side of the comic in pixels, at most the photo's own [default: look.size].
        #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(64..=4096))]
        size: Option<u32>,
        /// Generator ONNX file to use instead of model.path.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Gate ONNX file to use instead of model.gate_path.
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
        /// Also print the look's figures of each photo and its comic (flat share, colours
        /// covering 90%, ink share).
        #[arg(long)]
        measure: bool,
    },
    /// List cameras (with formats and sizes), displays and GPIO chips.
    Devices {
        /// Where device nodes live (a fake root for tests).
        #[arg(long, default_value = "/dev", hide = true)]
        dev: PathBuf,
    },
    /// Self-test config, model, gate, camera, display and disk; the exit code's bits say what
    /// failed (1 config, 2 model, 4 camera, 8 display, 16 disk, 32 gate).
    Check,
    /// Measure the generator's latency on this board.
    Bench {
        /// Timed runs after the warm-up.
        #[arg(long, short = 'n', default_value_t = 20)]
        iterations: usize,
        /// Generator ONNX file to use instead of model.path.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// Gate ONNX file to use instead of model.gate_path.
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
        /// Also make one comic and loop it for 4 s on the configured display (stop the
        /// service first), and report the frame pacing and how long each present takes.
        #[arg(long)]
        display: bool,
        /// Also time every operation of the generator over as many runs again and print where
        /// its time goes, by kind of operation and its slowest nodes.
        #[arg(long)]
        profile: bool,
    },
    /// Show the configuration.
    Config {
        /// Print the default configuration, every key with its comment.
        #[arg(long)]
        default: bool,
    },
}

fn main() -> ExitCode {
    comicbooth::memory::keep_big_blocks_mapped();
    let cli = Cli::parse();
    let is_run = matches!(cli.command, Command::Run { .. });
    let mut config = match &cli.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => return fail(e.into(), is_run),
        },
        None => Config::default(),
    };
    comicbooth::logging::init(config.log.level);
    let done = match cli.command {
        Command::Demo { out, model, gate } => {
            config.export.dir = out.unwrap_or(config.export.dir);
            use_models(&mut config, model, gate);
            commands::demo::run(&config).map(|r| print!("{r}"))
        }
        Command::Stylize { input, output, size, model, gate, measure } => {
            use_models(&mut config, model, gate);
            let size = size.unwrap_or(config.look.size);
            match commands::stylize::run(&config, &input, &output, size, measure) {
                Ok(report) => {
                    print!("{report}");
                    return if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
                }
                Err(e) => Err(e),
            }
        }
        Command::Bench { iterations, model, gate, display, profile } => {
            use_models(&mut config, model, gate);
            commands::bench::run(&config, iterations, (display, profile)).map(|r| print!("{r}"))
        }
        Command::Check => {
            let report = commands::check::run(&config);
            print!("{report}");
            return ExitCode::from(report.exit_bits());
        }
        Command::Config { default } => {
            print!("{}", commands::config::show(&config, default, cli.config.is_some()));
            Ok(())
        }
        Command::Run { duration } => commands::run::run(&config, cli.config.as_deref(), duration),
        Command::Share { listen } => commands::share::run(&config, listen.as_deref()),
        Command::Devices { dev } => {
            print!("{}", commands::devices::list(&config, &dev));
            Ok(())
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, is_run),
    }
}

/// `--model` and `--gate` override the config's model.path and model.gate_path.
fn use_models(config: &mut Config, model: Option<PathBuf>, gate: Option<PathBuf>) {
    config.model.path = model.unwrap_or(std::mem::take(&mut config.model.path));
    config.model.gate_path = gate.unwrap_or(std::mem::take(&mut config.model.gate_path));
}

/// Prints an error chain on one line and returns a failing exit code: for `run`, 78
/// (EX_CONFIG) when the configuration is at fault, which the unit does not restart.
fn fail(e: anyhow::Error, is_run: bool) -> ExitCode {
    eprintln!("error: {e:#}");
    if is_run && comicbooth::wiring::is_config_error(&e) {
        ExitCode::from(comicbooth::wiring::EX_CONFIG)
    } else {
        ExitCode::FAILURE
    }
}
