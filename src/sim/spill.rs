//! Where `simulate` keeps its output until the whole scenario ran (SPEC: on an error, nothing
//! on stdout). Up to `LIMIT` bytes in memory; beyond, in an unlinked file in the temporary
//! folder, so a year of operations (~60 MB of JSON) does not stay resident.

use std::fs::File;
use std::io::{self, Seek, Write};

const LIMIT: usize = 4 << 20;

/// Output held in memory up to a bound, then in an unlinked temporary file.
#[derive(Default)]
pub struct Spill {
    mem: Vec<u8>,
    file: Option<File>,
}

impl Spill {
    fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let dir = std::env::temp_dir();
            let path = dir.join(format!("meldingsvakt-simulate-{}", std::process::id()));
            let f = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            // Unlinked at once: the space goes back when the process ends, however it ends.
            std::fs::remove_file(&path)?;
            self.file = Some(f);
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.mem)?;
        }
        self.mem.clear();
        Ok(())
    }

    /// Everything written, in order, to `out`.
    pub fn copy_to(mut self, out: &mut impl Write) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.rewind()?;
            io::copy(&mut f, out)?;
        }
        out.write_all(&self.mem)
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.mem.extend_from_slice(buf);
        if self.mem.len() >= LIMIT {
            self.spill()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl super::Sink for Spill {
    fn clear(&mut self) -> io::Result<()> {
        self.mem.clear();
        if let Some(f) = self.file.as_mut() {
            f.set_len(0)?;
            f.rewind()?;
        }
        Ok(())
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
        assert!(s.file.is_some());
        s.clear().unwrap();
        s.write_all(b"ny\n").unwrap();
        let mut out = Vec::new();
        s.copy_to(&mut out).unwrap();
        assert_eq!(out, b"ny\n");
    }
}
