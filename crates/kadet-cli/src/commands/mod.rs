//! The subcommands, one module each, with the argument groups they share
//! ([`args`]), event reading for `cat` and `explain` ([`events`]), and the
//! exit-status convention.

pub mod args;
pub mod cat;
pub mod completions;
pub mod events;
pub mod explain;
pub mod man;
pub mod policy;
pub mod rules;
pub mod scan;
mod scan_summary;
pub mod serve;
pub mod test;

use std::io;
use std::process::ExitCode;

/// The command did what it was asked to find: failed rule tests, or alerts
/// with `scan --fail-on-alerts`.
pub const EXIT_FINDINGS: u8 = 1;
/// The command could not do its job.
pub const EXIT_ERROR: u8 = 2;

/// Turns a command's result into the process exit status. An error means
/// status 2, printed on standard error, except a closed output pipe, which
/// is how `kadet ... | head` stops a command: status 0, nothing printed.
pub fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kadet: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// True when the error comes from writing to a pipe whose reader is gone.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io_kind = cause
            .downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        io_kind == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_through_context_and_serde() {
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing output");
        assert!(is_broken_pipe(&e));
        let json = serde_json::Error::io(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&anyhow::Error::new(json).context("x")));
        let other = anyhow::Error::new(io::Error::from(io::ErrorKind::NotFound));
        assert!(!is_broken_pipe(&other));
    }
}
