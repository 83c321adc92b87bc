//! The guide's `getchar()`, as an event: Enter is read from the loop, so
//! that Ctrl-C still stops the ventilator while it waits.

use std::error::Error;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;

use calloop::generic::Generic;
use calloop::{Interest, LoopHandle, Mode, PostAction};

/// Calls `enter` from the loop once a line comes on stdin, or stdin ends
/// (which counts as Enter, as `getchar()` returning EOF does in C).
///
/// Returns true, without calling `enter`, if stdin said "go" already: a
/// regular file or `/dev/null` cannot be polled, but neither can it keep a
/// read waiting, so it is read at once.
///
/// # Errors
///
/// If stdin cannot be read.
pub fn on_enter<'l, Data: 'l>(
    handle: &LoopHandle<'l, Data>,
    enter: fn(&mut Data),
) -> Result<bool, Box<dyn Error>> {
    // A copy of the descriptor, read without Rust's buffering, so that what
    // the poller sees and what a read finds agree.
    let stdin = io::stdin().as_fd().try_clone_to_owned();
    let stdin = File::from(stdin.map_err(|e| format!("stdin: {e}"))?);
    let source = Generic::new(stdin, Interest::READ, Mode::Level);
    let inserted = handle.insert_source(source, move |_, stdin, data| {
        let mut stdin: &File = stdin;
        if !pressed_enter(&mut stdin)? {
            return Ok(PostAction::Continue);
        }
        enter(data);
        Ok(PostAction::Remove)
    });
    let Err(refused) = inserted else {
        return Ok(false);
    };
    // (Generic::unwrap hands back the file it wrapped.)
    let mut stdin: &File = &refused.inserted.unwrap();
    while !pressed_enter(&mut stdin)? {}
    Ok(true)
}

/// Reads what stdin has, and says whether it held a newline or was at its
/// end.
fn pressed_enter(stdin: &mut impl Read) -> io::Result<bool> {
    let mut buffer = [0; 1024];
    let read = stdin.read(&mut buffer)?;
    if read == 0 {
        eprintln!("stdin closed: starting without waiting");
    }
    Ok(read == 0 || buffer[..read].contains(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_or_the_end_is_enter() {
        assert!(pressed_enter(&mut &b"\n"[..]).unwrap());
        assert!(pressed_enter(&mut &b"go\n"[..]).unwrap());
        assert!(pressed_enter(&mut &b""[..]).unwrap());
        assert!(!pressed_enter(&mut &b"not yet"[..]).unwrap());
    }
}
