//! Where `simulate` keeps its output until the whole scenario ran (SPEC: on an error, nothing
//! on stdout).
//!
//! - stdout a regular file at its end (`> out.jsonl`, `>> out.jsonl`): written straight to
//!   it, and cut back to where it was on an error.
//! - stdout `/dev/null`: what is written goes nowhere (it is still rendered, so an error is
//!   still found).
//! - anything else (a pipe, a terminal): up to `LIMIT` bytes in memory; beyond, in an unlinked
//!   file in the temporary folder, so a year of operations (~60 MB of JSON) does not stay
//!   resident; copied to stdout after success.
//!
//! The first two save writing a year's 60 MB twice through the kernel (issue #32: the copy was
//! a tenth of the writer thread's time). A process killed halfway leaves what it wrote in the
//! file; an error it reports does not.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

const LIMIT: usize = 4 << 20;

/// Output held back until the run succeeded (see the module).
pub struct Spill(Mode);

enum Mode {
    Held {
        mem: Vec<u8>,
        file: Option<File>,
    },
    /// stdout's file, and its length when the run began.
    Direct {
        file: File,
        start: u64,
    },
    Discard,
}

impl Default for Spill {
    /// Held in memory and a temporary file.
    fn default() -> Spill {
        Spill(Mode::Held {
            mem: Vec::new(),
            file: None,
        })
    }
}

impl Spill {
    /// For this process's stdout: direct to a regular file at its end, discarded for
    /// `/dev/null`, else held (see the module).
    #[cfg(unix)]
    pub fn for_stdout() -> Spill {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else {
            return Spill::default();
        };
        let mut file = File::from(fd);
        let Ok(meta) = file.metadata() else {
            return Spill::default();
        };
        if let Ok(null) = std::fs::metadata("/dev/null") {
            if meta.dev() == null.dev() && meta.ino() == null.ino() {
                return Spill(Mode::Discard);
            }
        }
        // Only at its end (`>`, or `>>`: opened to append, its position says nothing):
        // cutting back must not take anything that was there before.
        let at_end = file.stream_position().is_ok_and(|pos| pos == meta.len());
        if meta.is_file() && (at_end || appends(&file)) {
            return Spill(Mode::Direct {
                file,
                start: meta.len(),
            });
        }
        Spill::default()
    }

    /// Held: elsewhere there is no telling what stdout is.
    #[cfg(not(unix))]
    pub fn for_stdout() -> Spill {
        Spill::default()
    }

    fn spill(mem: &mut Vec<u8>, file: &mut Option<File>) -> io::Result<()> {
        if file.is_none() {
            let dir = std::env::temp_dir();
            let path = dir.join(format!("meldingsvakt-simulate-{}", std::process::id()));
            let f = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            // Unlinked at once: the space goes back when the process ends, however it ends.
            std::fs::remove_file(&path)?;
            *file = Some(f);
        }
        if let Some(f) = file.as_mut() {
            f.write_all(mem)?;
        }
        mem.clear();
        Ok(())
    }

    /// Everything written, in order, to `out` (held output; direct or discarded output is
    /// where it goes already).
    pub fn copy_to(self, out: &mut impl Write) -> io::Result<()> {
        match self.0 {
            Mode::Held { mem, file } => {
                if let Some(mut f) = file {
                    f.rewind()?;
                    io::copy(&mut f, out)?;
                }
                out.write_all(&mem)
            }
            Mode::Direct { mut file, .. } => file.flush(),
            Mode::Discard => Ok(()),
        }
    }
}

/// Whether `file` was opened to append (`O_APPEND`, from Linux's `/proc/self/fdinfo`; `false`
/// where that cannot be read).
#[cfg(unix)]
fn appends(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    const O_APPEND: u32 = 0o2000;
    std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd()))
        .ok()
        .and_then(|info| {
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
            u32::from_str_radix(flags.trim(), 8).ok()
        })
        .is_some_and(|f| f & O_APPEND != 0)
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Mode::Held { mem, file } => {
                mem.extend_from_slice(buf);
                if mem.len() >= LIMIT {
                    Spill::spill(mem, file)?;
                }
                Ok(buf.len())
            }
            Mode::Direct { file, .. } => file.write(buf),
            Mode::Discard => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Mode::Direct { file, .. } => file.flush(),
            _ => Ok(()),
        }
    }
}

impl super::Sink for Spill {
    fn clear(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Mode::Held { mem, file } => {
                mem.clear();
                if let Some(f) = file.as_mut() {
                    f.set_len(0)?;
                    f.rewind()?;
                }
                Ok(())
            }
            Mode::Direct { file, start } => {
                file.set_len(*start)?;
                file.seek(SeekFrom::Start(*start)).map(|_| ())
            }
            Mode::Discard => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Sink;

    /// A run thrown away leaves nothing, also when it had gone past memory into the file.
    #[test]
    fn clear_forgets_what_went_to_the_file_too() {
        let mut s = Spill::default();
        s.write_all(&vec![b'a'; LIMIT + 10]).unwrap();
        assert!(matches!(&s.0, Mode::Held { file: Some(_), .. }));
        s.clear().unwrap();
        s.write_all(b"ny\n").unwrap();
        let mut out = Vec::new();
        s.copy_to(&mut out).unwrap();
        assert_eq!(out, b"ny\n");
    }

    /// Written straight to a file, a run thrown away is cut back to what the file held
    /// before: earlier content stays, none of the run's does.
    #[test]
    fn clear_cuts_a_direct_file_back_to_where_it_began() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, b"before\n").unwrap();
        let file = File::options().append(true).open(&path).unwrap();
        let start = file.metadata().unwrap().len();
        let mut s = Spill(Mode::Direct { file, start });
        s.write_all(&vec![b'a'; LIMIT + 10]).unwrap();
        s.clear().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"before\n");
        s.write_all(b"ny\n").unwrap();
        s.copy_to(&mut io::sink()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"before\nny\n");
    }
}
