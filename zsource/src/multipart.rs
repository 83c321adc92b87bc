//! [`Multipart`]: one ZeroMQ message, made of one or more frames.

use std::fmt;

/// One ZeroMQ message: one or more frames that travel together.
///
/// ZeroMQ delivers a multipart message atomically (all frames or none), so the
/// source hands every received message to your callback whole, and sends every
/// queued one whole. Most messages have a single frame; a ROUTER socket adds an
/// identity frame in front, which is why the general type has several.
///
/// A `Multipart` always has at least one frame (possibly empty: ZeroMQ allows
/// zero-length frames). Receiving a single-frame message does not allocate
/// beyond what libzmq does itself: the first frame is stored inline.
///
/// ```
/// use zsource::Multipart;
///
/// let reply = Multipart::new("identity").with("").with("World");
/// assert_eq!(reply.frame_count(), 3);
/// assert_eq!(reply.last(), b"World");
/// assert_eq!(Multipart::from("Hello").single(), Some(&b"Hello"[..]));
/// assert_eq!(reply.single(), None);
/// ```
pub struct Multipart {
    first: zmq::Message,
    rest: Vec<zmq::Message>,
}

impl Multipart {
    /// A message of one frame.
    pub fn new(frame: impl Into<zmq::Message>) -> Self {
        Multipart {
            first: frame.into(),
            rest: Vec::new(),
        }
    }

    /// A message of the given frames, or `None` if there are none: ZeroMQ
    /// cannot send a message without frames.
    pub fn from_frames<I>(frames: I) -> Option<Self>
    where
        I: IntoIterator,
        I::Item: Into<zmq::Message>,
    {
        let mut frames = frames.into_iter();
        let mut message = Multipart::new(frames.next()?);
        message.rest.extend(frames.map(Into::into));
        Some(message)
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<zmq::Message>) {
        self.rest.push(frame.into());
    }

    /// Appends a frame and returns the message, for building one in a single
    /// expression.
    #[must_use]
    pub fn with(mut self, frame: impl Into<zmq::Message>) -> Self {
        self.push(frame);
        self
    }

    /// How many frames the message has (at least one).
    pub fn frame_count(&self) -> usize {
        1 + self.rest.len()
    }

    /// The first frame.
    pub fn first(&self) -> &[u8] {
        &self.first
    }

    /// The last frame: the payload of a message that went through a ROUTER.
    pub fn last(&self) -> &[u8] {
        self.rest.last().unwrap_or(&self.first)
    }

    /// The frame at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match index {
            0 => Some(&self.first),
            _ => self.rest.get(index - 1).map(|frame| &frame[..]),
        }
    }

    /// The only frame, if the message has exactly one. Programs that expect
    /// single-frame messages use this to reject anything else.
    pub fn single(&self) -> Option<&[u8]> {
        self.rest.is_empty().then_some(&self.first[..])
    }

    /// The frames, first to last.
    pub fn frames(&self) -> Frames<'_> {
        Frames {
            first: Some(&self.first),
            rest: self.rest.iter(),
        }
    }

    /// The frames as libzmq messages, first to last.
    pub fn into_frames(self) -> Vec<zmq::Message> {
        let mut frames = Vec::with_capacity(self.frame_count());
        frames.push(self.first);
        frames.extend(self.rest);
        frames
    }

    pub(crate) fn from_parts(first: zmq::Message, rest: Vec<zmq::Message>) -> Self {
        Multipart { first, rest }
    }
}

/// The frames of a [`Multipart`], from [`Multipart::frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    first: Option<&'a zmq::Message>,
    rest: std::slice::Iter<'a, zmq::Message>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.first
            .take()
            .or_else(|| self.rest.next())
            .map(|frame| &frame[..])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = usize::from(self.first.is_some()) + self.rest.len();
        (len, Some(len))
    }
}

impl DoubleEndedIterator for Frames<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.rest
            .next_back()
            .or_else(|| self.first.take())
            .map(|frame| &frame[..])
    }
}

impl ExactSizeIterator for Frames<'_> {}

impl PartialEq for Multipart {
    fn eq(&self, other: &Self) -> bool {
        self.frames().eq(other.frames())
    }
}

impl Eq for Multipart {}

/// How many bytes of a frame `Debug` shows; the rest is counted, so that a
/// warning about a huge message stays one readable line.
const DEBUG_BYTES: usize = 48;

impl fmt::Debug for Multipart {
    /// Frames that are UTF-8 show as strings, others as bytes; a long frame
    /// shows its first bytes and its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Frame<'a>(&'a [u8]);
        impl fmt::Debug for Frame<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let frame = self.0;
                match std::str::from_utf8(frame) {
                    Ok(text) if text.len() <= DEBUG_BYTES => fmt::Debug::fmt(text, f),
                    Ok(text) => {
                        let mut end = DEBUG_BYTES;
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        fmt::Debug::fmt(&text[..end], f)?;
                        write!(f, "... ({} bytes)", frame.len())
                    }
                    Err(_) if frame.len() <= DEBUG_BYTES => fmt::Debug::fmt(frame, f),
                    Err(_) => {
                        fmt::Debug::fmt(&frame[..DEBUG_BYTES], f)?;
                        write!(f, "... ({} bytes)", frame.len())
                    }
                }
            }
        }
        f.debug_tuple("Multipart")
            .field(&self.frames().map(Frame).collect::<Vec<_>>())
            .finish()
    }
}

impl From<zmq::Message> for Multipart {
    fn from(frame: zmq::Message) -> Self {
        Multipart::new(frame)
    }
}

impl From<&str> for Multipart {
    fn from(text: &str) -> Self {
        Multipart::new(text)
    }
}

impl From<String> for Multipart {
    fn from(text: String) -> Self {
        Multipart::new(text.into_bytes())
    }
}

impl From<&String> for Multipart {
    fn from(text: &String) -> Self {
        Multipart::new(text.as_str())
    }
}

impl From<&[u8]> for Multipart {
    fn from(bytes: &[u8]) -> Self {
        Multipart::new(bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for Multipart {
    fn from(bytes: &[u8; N]) -> Self {
        Multipart::new(&bytes[..])
    }
}

impl From<Vec<u8>> for Multipart {
    fn from(bytes: Vec<u8>) -> Self {
        Multipart::new(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_in_order() {
        let message = Multipart::from_frames(["a", "", "c"]).expect("three frames");
        assert_eq!(message.frame_count(), 3);
        assert_eq!(message.frames().len(), 3);
        assert_eq!(message.frames().next_back(), Some(&b"c"[..]));
        assert_eq!(message.frames().collect::<Vec<_>>(), [&b"a"[..], b"", b"c"]);
        assert_eq!(message.first(), b"a");
        assert_eq!(message.last(), b"c");
        assert_eq!(message.get(1), Some(&b""[..]));
        assert_eq!(message.get(3), None);
        assert_eq!(message.single(), None);
        assert_eq!(message.into_frames().len(), 3);
    }

    #[test]
    fn no_frames_is_no_message() {
        assert!(Multipart::from_frames(Vec::<Vec<u8>>::new()).is_none());
    }

    #[test]
    fn single_frame() {
        let message = Multipart::from(String::from("Hello"));
        assert_eq!(message.single(), Some(&b"Hello"[..]));
        assert_eq!(message.first(), message.last());
        assert_eq!(message, Multipart::from("Hello"));
        assert_ne!(message, Multipart::new("Hello").with(""));
    }

    #[test]
    fn debug_shows_text_and_bytes() {
        let message = Multipart::new("id").with(vec![0xff, 0x00]);
        assert_eq!(format!("{message:?}"), r#"Multipart(["id", [255, 0]])"#);
    }

    #[test]
    fn debug_cuts_long_frames_short() {
        let text = Multipart::from("é".repeat(1000));
        assert_eq!(
            format!("{text:?}"),
            format!("Multipart([\"{}\"... (2000 bytes)])", "é".repeat(24))
        );
        let bytes = Multipart::from(vec![0xff; 1 << 20]);
        let shown = format!("{bytes:?}");
        assert!(shown.ends_with("255]... (1048576 bytes)])"), "{shown}");
        assert!(shown.len() < 300, "{shown}");
    }
}
