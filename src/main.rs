//! The `leukolens` command line: logging and signals here, the commands in `leukolens::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Output piped into a program that stops reading (`leukolens info … | head`) ends the
    // process quietly, as for other command-line tools, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    leukolens::cli::run()
}
