//! Writing a command's output to stdout, where a closed pipe is a normal end.
//!
//! `meldingsvakt incident list --json | head` closes our stdout early. `println!` would panic
//! with "Broken pipe" and a backtrace; like `cat` and `grep`, a command stops quietly instead
//! (exit 0: the reader has all it wanted). Any other write error is reported and exits 1.
//! The daemon does not use this: it writes nothing to stdout.

use std::io::Write;

/// Write `args` (and a newline when `newline`) to stdout.
pub fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let r = out.write_fmt(args).and_then(|_| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = r {
        failed(e);
    }
}

fn failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("cannot write output: {e}");
    std::process::exit(1);
}

/// `println!` through [`write`].
#[macro_export]
macro_rules! outln {
    () => { $crate::stdout::write(format_args!(""), true) };
    ($($t:tt)*) => { $crate::stdout::write(format_args!($($t)*), true) };
}

/// `print!` through [`write`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::stdout::write(format_args!($($t)*), false) };
}
