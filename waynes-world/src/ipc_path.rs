//! Binding Wayne's World's IPC socket safely: not the lesson, so out of
//! `main`.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Refuses to bind an IPC path that holds anything but a stale socket file.
///
/// libzmq deletes whatever is at the path before it binds, so that the socket
/// file a killed server left behind does not block the next one. But it would
/// as readily delete a regular file, or take the path from a server that is
/// still running, whose cameras would then be cut off without a word.
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
pub struct SocketFile {
    path: PathBuf,
    inode: u64,
}

impl SocketFile {
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
