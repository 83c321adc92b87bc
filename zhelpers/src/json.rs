//! JSON as the seed's Python examples write it and read it (Passing JSON,
//! the Eventloop echo): with `serde_json`, written in `json.dumps`'s
//! spacing, read from one frame of UTF-8 with a reason when it is not that.
//!
//! ```
//! use zsource::Multipart;
//!
//! let text = zhelpers::json::dumps(&serde_json::json!({"code": 200, "text": "hello world"}));
//! assert_eq!(text, r#"{"code": 200, "text": "hello world"}"#);
//! let back: serde_json::Value = zhelpers::json::parse(&Multipart::from(text), 1024).unwrap();
//! assert_eq!(back["code"], 200);
//! ```

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::ser::Formatter;
use zsource::Multipart;

/// `value` as Python's `json.dumps` writes it by default: one line, a space
/// after each `,` and `:` (`{"code": 200, "text": "hello world"}`), so that
/// our programs print what the originals print. (Unlike `json.dumps`, it
/// leaves non-ASCII characters as they are, in UTF-8, rather than `\u`
/// escapes: both read back the same.)
pub fn dumps(value: &impl Serialize) -> String {
    let mut text = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut text, PythonSpacing);
    // Writing to a Vec cannot fail, nor can a value that is already JSON
    // (a struct of plain fields, a `serde_json::Value`): only a map with
    // keys that are not strings could, and none is written here.
    if let Err(e) = value.serialize(&mut serializer) {
        unreachable!("a JSON value that cannot be written: {e}");
    }
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

/// Reads a message that should be one frame of JSON text, of at most
/// `max_bytes`, as a `T`.
///
/// # Errors
///
/// Why the message is not that, in a few words for a warning: several
/// frames, empty, too long, not UTF-8, or not JSON of `T`'s shape
/// (`serde_json`'s own words, with the line and column).
pub fn parse<T: DeserializeOwned>(message: &Multipart, max_bytes: usize) -> Result<T, String> {
    let Some(frame) = message.single() else {
        return Err(format!("{} frames, not one", message.frame_count()));
    };
    if frame.is_empty() {
        return Err("an empty message".to_string());
    }
    if frame.len() > max_bytes {
        return Err(format!("{} bytes, more than {max_bytes}", frame.len()));
    }
    let text = std::str::from_utf8(frame).map_err(|e| format!("not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| format!("not the JSON expected: {e}"))
}

/// Python's default separators, `", "` and `": "`, on one line.
struct PythonSpacing;

impl Formatter for PythonSpacing {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { out.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { out.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn writes_as_python_does() {
        let request = json!({"j2": "was here", "word": "up"});
        assert_eq!(dumps(&request), r#"{"j2": "was here", "word": "up"}"#);
        assert_eq!(dumps(&json!([1, [2, 3], {}])), "[1, [2, 3], {}]");
        assert_eq!(dumps(&json!("a, b: c")), r#""a, b: c""#);
    }

    #[test]
    fn says_why_a_message_is_not_json() {
        let why = |message: Multipart| parse::<Value>(&message, 16).unwrap_err();
        assert!(why(Multipart::from(["{}", "{}"])).contains("2 frames"));
        assert!(why(Multipart::from("")).contains("empty"));
        assert!(why(Multipart::from("x".repeat(17))).contains("17 bytes"));
        assert!(why(Multipart::from(&b"\"\xff\""[..])).contains("UTF-8"));
        assert!(why(Multipart::from("{nope")).contains("not the JSON"));
        assert_eq!(parse::<Value>(&Multipart::from("[1]"), 16), Ok(json!([1])));
    }
}
