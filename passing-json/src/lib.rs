//! What the Passing JSON server and its clients agree on: the message, as a
//! Rust type that `serde` reads and writes, and where they meet.

use serde::{Deserialize, Serialize};

/// Where the server binds and the clients connect by default. The original
/// binds `ipc://*:5678`; since libzmq 4 an IPC endpoint that starts with `*`
/// means "make up a fresh path", so the original client, which connects to
/// that same text, never finds its server. Ours is a path both can name.
pub const ENDPOINT: &str = "ipc:///tmp/passing-json.ipc";

/// The server's message, `{"code": 200, "text": "hello world"}`. A client
/// takes any object with an integer `code` and a string `text` (and ignores
/// other fields; and, as serde reads any struct, the two as a list,
/// `[200, "hello world"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// An HTTP-like status: 200 from the server.
    pub code: i64,
    /// What the server says.
    pub text: String,
}

impl Hello {
    /// The message the server sends.
    pub fn world() -> Hello {
        Hello {
            code: 200,
            text: "hello world".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_written_and_read_as_the_original_writes_and_reads_it() {
        let text = zhelpers::json::dumps(&Hello::world());
        assert_eq!(text, r#"{"code": 200, "text": "hello world"}"#);
        let read: Hello = zhelpers::json::parse(&text.into(), 64).unwrap();
        assert_eq!(read, Hello::world());
        let extra = r#"{"text": "hi", "code": 404, "more": [1]}"#;
        let read: Hello = zhelpers::json::parse(&extra.into(), 64).unwrap();
        assert_eq!((read.code, read.text.as_str()), (404, "hi"));
        for wrong in [r#"{"code": "200", "text": "x"}"#, r#"{"code": 200}"#] {
            assert!(
                zhelpers::json::parse::<Hello>(&wrong.into(), 64).is_err(),
                "{wrong}"
            );
        }
    }
}
