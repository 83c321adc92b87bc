//! How the sink tells the batch start from a result, warns about odd
//! results, and shows its progress: not the lesson, so out of `main`.

use std::io::{self, Write};

use zsource::Multipart;

/// Whether a message is the ventilator's "0": as a C string (up to a NUL),
/// or as the guide's C++ ventilator sends it, 2 bytes of which only the
/// first is set.
pub fn is_batch_start(message: &Multipart) -> bool {
    match message.single() {
        Some([b'0', _]) => true,
        Some(frame) => zhelpers::c_string(frame) == b"0",
        None => false,
    }
}

/// Warns about a result that is odd but counts all the same: the guide's
/// sink counts any message, and so one odd result never stalls the batch.
pub fn warn_if_odd(result: &Multipart) {
    if result.frame_count() > 1 {
        let frames = result.frame_count();
        eprintln!("warning: a result of {frames} frames, counted once: {result:?}");
    } else if is_batch_start(result) {
        eprintln!("warning: a second batch start in the middle of the batch, counted as a result");
    }
}

/// Prints the mark for the result numbered `index` from 0: `:` for every
/// tenth, `.` for the others.
pub fn mark(index: u32) {
    print!("{}", if index % 10 == 0 { ':' } else { '.' });
    let _ = io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_start_is_0_as_c_reads_it() {
        // The C++ start's second byte is anything at all, so any 2-byte
        // message that starts with "0" is one.
        for start in [&b"0"[..], b"0\0", b"0\xaa", b"01", b"0\0\0\0"] {
            assert!(is_batch_start(&Multipart::from(start)), "{start:?}");
        }
        for other in [&b""[..], b"000", b"10", b"done", b"\x000", b"0 \0"] {
            assert!(!is_batch_start(&Multipart::from(other)), "{other:?}");
        }
        assert!(!is_batch_start(&Multipart::new("0").with("0")));
    }
}
