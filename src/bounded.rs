//! Bounded reads of files named by scripts, users and netscript's own records.
//!
//! Every file netscript reads whole (scripts, includes, eBPF objects, journals) goes
//! through [`read`]: it must be a regular file, it is opened with `O_NONBLOCK` (so that
//! opening a FIFO with no writer returns at once instead of blocking), and it may not be
//! larger than a limit. Without this, `netscript check /dev/zero` grew without bound and
//! an include that is a FIFO hung `check`, `run` and `recover`.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Scripts and included files.
pub const MAX_SCRIPT_BYTES: u64 = 8 << 20;
/// eBPF object files (debug info makes them large, but not this large).
pub const MAX_BPF_OBJECT_BYTES: u64 = 64 << 20;
/// Journals and state records: netscript writes them, a plan of a million operations
/// fits.
pub const MAX_RECORD_BYTES: u64 = 256 << 20;

/// What to tell a user whose file was refused for its type or size (`None` for other
/// errors, which speak for themselves).
pub fn refusal_help(error: &std::io::Error) -> Option<String> {
    match error.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::FileTooLarge => Some(format!(
            "netscript reads only regular files, scripts of at most {} and eBPF objects of at most {}",
            human(MAX_SCRIPT_BYTES),
            human(MAX_BPF_OBJECT_BYTES)
        )),
        _ => None,
    }
}

/// Why a file was not read. Converts into an `io::Error` whose message says it all, so
/// that callers keep their `io::Result` signatures.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("it is larger than the limit of {limit}{size}", limit = human(*limit), size = size.map(|s| format!(" ({})", human(s))).unwrap_or_default())]
    TooLarge { size: Option<u64>, limit: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<ReadError> for std::io::Error {
    fn from(e: ReadError) -> std::io::Error {
        match e {
            ReadError::Io(e) => e,
            ReadError::NotRegular { .. } => std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
            ReadError::TooLarge { .. } => std::io::Error::new(std::io::ErrorKind::FileTooLarge, e.to_string()),
        }
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{} MB", b >> 20),
        b if b >= 1 << 10 => format!("{} kB", b >> 10),
        b => format!("{b} bytes"),
    }
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the regular file `path`, at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK: a FIFO opens at once (and is then refused by the type check); for a
    // regular file it changes nothing. O_NOCTTY: a terminal never becomes ours.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular { kind: kind_of(meta.file_type()) });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { size: Some(meta.len()), limit });
    }
    // The file may grow between fstat and read (or lie, as /proc files do): never read
    // past the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: None, limit });
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| ReadError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")))
}

/// Reads a stream (standard input) up to `limit` bytes, as UTF-8 text.
pub fn read_stream_string(stream: impl Read, limit: u64) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    stream.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: None, limit });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_fifos_are_refused_without_blocking() {
        assert!(matches!(read(Path::new("/dev/zero"), 10), Err(ReadError::NotRegular { kind: "a character device" })));
        assert!(matches!(read(Path::new("/"), 10), Err(ReadError::NotRegular { kind: "a directory" })));
        let dir = std::env::temp_dir().join(format!("netscript-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(read(&fifo, 10), Err(ReadError::NotRegular { kind: "a FIFO (named pipe)" })));
        let big = dir.join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert!(matches!(read(&big, 10), Err(ReadError::TooLarge { size: Some(11), limit: 10 })));
        assert_eq!(read(&big, 11).unwrap().len(), 11);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
