//! Binding an IPC socket safely: every bind [`check`]s its path, and the
//! servers whose default endpoint is a path (Wayne's World, Passing JSON,
//! the Eventloop echo) also remove their socket file on exit. Not their
//! lesson, so out of their `main`.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Refuses to bind an IPC path that holds anything but a stale socket file.
///
/// libzmq deletes whatever is at the path before it binds, so that the socket
/// file a killed server left behind does not block the next one. But it would
/// as readily delete a regular file, or take the path from a server that is
/// still running, whose clients would then be cut off without a word.
///
/// # Errors
///
/// One line naming the endpoint, for a path that holds something else, or
/// a live server.
pub fn check(endpoint: &str) -> Result<(), String> {
    let Some(path) = socket_path(endpoint) else {
        return Ok(());
    };
    let Ok(found) = fs::symlink_metadata(path) else {
        return Ok(()); // Nothing there yet.
    };
    if !found.file_type().is_socket() {
        return Err(format!(
            "bind {endpoint}: {} is not a socket, and binding would delete it",
            path.display()
        ));
    }
    // Only a live server accepts a connection. One that starts between this
    // check and the bind still loses its path; this catches the common case,
    // the demo started twice.
    if UnixStream::connect(path).is_ok() {
        return Err(format!(
            "bind {endpoint}: another server is listening there"
        ));
    }
    Ok(())
}

/// As [`crate::bind`] (which [`check`]s the path), and returns the socket
/// file to remove when the server exits (keep it until then).
///
/// # Errors
///
/// As [`crate::bind`].
pub fn bind(socket: &zmq::Socket, endpoint: &str) -> Result<Option<SocketFile>, String> {
    let bound = crate::bind(socket, endpoint)?;
    Ok(SocketFile::of(&bound))
}

/// The file an IPC endpoint names: not a wildcard (`ipc://*`, a path libzmq
/// makes up), nor a Linux abstract address (`ipc://@name`, which has no file).
fn socket_path(endpoint: &str) -> Option<&Path> {
    let path = endpoint.strip_prefix("ipc://")?;
    (!path.is_empty() && !path.starts_with(['*', '@'])).then_some(Path::new(path))
}

/// Removes an IPC socket file on exit: libzmq 4.3 leaves it behind, even on
/// `zmq_unbind` (it cleans up only the directory a wildcard bind made, and
/// only if it made one). A file that is gone, or no longer the one we bound
/// (another program took the path since), is left alone.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    inode: u64,
}

impl SocketFile {
    /// The socket file a bound endpoint has, if it is an IPC one with a
    /// file: as it is now, so that it is removed only if it is still ours.
    pub fn of(endpoint: &str) -> Option<SocketFile> {
        let path = socket_path(endpoint)?;
        let inode = fs::symlink_metadata(path).ok()?.ino();
        Some(SocketFile {
            path: path.to_path_buf(),
            inode,
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path).is_ok_and(|found| found.ino() == self.inode);
        if !ours {
            return;
        }
        if let Err(e) = fs::remove_file(&self.path) {
            eprintln!("warning: cannot remove {}: {e}", self.path.display());
        }
    }
}
