//! How the server shows a request, and says a reply did not go: not the
//! lesson, so out of `main`.

use zsource::{Multipart, SendError};

/// How much of a long request is printed.
const SHOWN_BYTES: usize = 64;

/// Prints `Received <text>`, the text read as the guide's C reads it (up to
/// a NUL), a long one cut short; or a warning, for a request that is not
/// one frame of text.
pub fn print(request: &Multipart) {
    match request.single().map(zhelpers::c_text) {
        Some(Ok(text)) if text.len() > SHOWN_BYTES => {
            let end = (0..=SHOWN_BYTES)
                .rev()
                .find(|&at| text.is_char_boundary(at));
            let shown = &text[..end.unwrap_or(0)];
            println!("Received {shown}... ({} bytes)", text.len());
        }
        Some(Ok(text)) if !text.is_empty() => println!("Received {text}"),
        _ => eprintln!("warning: a malformed request, answered anyway: {request:?}"),
    }
}

/// Warns about a reply that did not go.
pub fn sent(outcome: Result<(), SendError>) {
    if let Err(e) = outcome {
        eprintln!("warning: reply not sent: {e}");
    }
}
