//! [`Multipart`]: one ZeroMQ message, made of one or more [`Frame`]s.

use std::fmt;
use std::ops::Deref;

/// One ZeroMQ message: one or more frames that travel together.
///
/// ZeroMQ delivers a multipart message whole (all frames or none), so the
/// source hands every received message to your callback whole, and sends
/// every queued one whole. Most messages have a single frame; a ROUTER socket
/// adds an identity frame in front, which is why the general type has
/// several.
///
/// A `Multipart` always has at least one frame (possibly empty: ZeroMQ allows
/// zero-length frames). Receiving a message does not copy it: its frames stay
/// the `zmq::Message`s libzmq filled.
///
/// Build one from a string or bytes (one frame), from an array of frames, or
/// frame by frame; take it apart by index, by iterating, or frame by frame
/// from either end, as a ROUTER's envelope is handled:
///
/// ```
/// use zsource::Multipart;
///
/// // A request as a ROUTER receives it: the client's identity, an empty
/// // delimiter, then the body.
/// let mut request = Multipart::from(["client-7", "", "Hello"]);
/// assert_eq!(request.frame_count(), 3);
/// assert_eq!(request.last(), b"Hello");
/// assert_eq!(request.single(), None);
///
/// let identity = request.pop_front().expect("more than one frame");
/// assert_eq!(&identity[..], b"client-7");
/// assert_eq!(request.first(), b"");
///
/// // The reply goes back to the same client.
/// let mut reply = Multipart::new("").with(format!("World {}", 7));
/// reply.push_front(identity);
/// assert_eq!(reply, Multipart::from(["client-7", "", "World 7"]));
///
/// // By value, frame by frame.
/// let texts: Vec<String> = reply
///     .into_iter()
///     .map(|frame| String::from_utf8_lossy(&frame).into_owned())
///     .collect();
/// assert_eq!(texts, ["client-7", "", "World 7"]);
/// assert_eq!(Multipart::from("Hello").single(), Some(&b"Hello"[..]));
/// ```
pub struct Multipart {
    first: Frame,
    rest: Vec<Frame>,
}

/// One frame of a [`Multipart`]: bytes, however they came. It derefs to
/// `[u8]`.
///
/// A frame received from a socket is the `zmq::Message` libzmq filled, not a
/// copy. A frame you make is kept the cheapest way: small ones (up to 62
/// bytes) inside the frame itself, larger ones in the `Vec` or `Box` you gave,
/// or in the `zmq::Message`. Anything that is bytes converts: `&str`,
/// `String`, `&[u8]`, `Vec<u8>`, byte arrays, `zmq::Message`.
pub struct Frame(Repr);

/// How many bytes a frame keeps inside itself; it is then no bigger than a
/// `zmq::Message`.
const INLINE: usize = 62;

enum Repr {
    Message(zmq::Message),
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Frame {
    /// An empty frame, as a REQ socket's envelope delimiter is.
    pub const EMPTY: Frame = Frame(Repr::Inline {
        len: 0,
        bytes: [0; INLINE],
    });

    /// The frame as a `zmq::Message`: without copying if it is one.
    pub fn into_message(self) -> zmq::Message {
        match self.0 {
            Repr::Message(message) => message,
            Repr::Inline { len, bytes } => zmq::Message::from(&bytes[..usize::from(len)]),
            Repr::Heap(bytes) => zmq::Message::from(bytes),
        }
    }

    /// The frame's bytes, as a `Vec`: without copying if it is one.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Heap(bytes) => bytes.into_vec(),
            _ => self.to_vec(),
        }
    }
}

impl Deref for Frame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Message(message) => message,
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for Frame {
    fn from(bytes: &[u8]) -> Self {
        if let Ok(len) = u8::try_from(bytes.len()) {
            if usize::from(len) <= INLINE {
                let mut inline = [0; INLINE];
                inline[..bytes.len()].copy_from_slice(bytes);
                return Frame(Repr::Inline { len, bytes: inline });
            }
        }
        Frame(Repr::Heap(bytes.into()))
    }
}

impl<const N: usize> From<&[u8; N]> for Frame {
    fn from(bytes: &[u8; N]) -> Self {
        Frame::from(&bytes[..])
    }
}

impl<const N: usize> From<[u8; N]> for Frame {
    fn from(bytes: [u8; N]) -> Self {
        Frame::from(&bytes[..])
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        Frame::from(text.as_bytes())
    }
}

impl From<&String> for Frame {
    fn from(text: &String) -> Self {
        Frame::from(text.as_bytes())
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Frame::from(text.into_bytes())
    }
}

impl From<Vec<u8>> for Frame {
    fn from(bytes: Vec<u8>) -> Self {
        Frame(Repr::Heap(bytes.into_boxed_slice()))
    }
}

impl From<&Vec<u8>> for Frame {
    fn from(bytes: &Vec<u8>) -> Self {
        Frame::from(&bytes[..])
    }
}

impl From<Box<[u8]>> for Frame {
    fn from(bytes: Box<[u8]>) -> Self {
        Frame(Repr::Heap(bytes))
    }
}

impl From<zmq::Message> for Frame {
    fn from(message: zmq::Message) -> Self {
        Frame(Repr::Message(message))
    }
}

impl From<Frame> for zmq::Message {
    fn from(frame: Frame) -> Self {
        frame.into_message()
    }
}

impl From<Frame> for Vec<u8> {
    fn from(frame: Frame) -> Self {
        frame.into_vec()
    }
}

/// Copies the bytes, but for a frame held inline, which is copied as it is.
impl Clone for Frame {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Inline { len, bytes } => Frame(Repr::Inline {
                len: *len,
                bytes: *bytes,
            }),
            _ => Frame::from(&self[..]),
        }
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Frame {}

impl PartialEq<[u8]> for Frame {
    fn eq(&self, other: &[u8]) -> bool {
        &self[..] == other
    }
}

impl fmt::Debug for Frame {
    /// As text if it is UTF-8, else as bytes; a long frame shows its first
    /// bytes and its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frame = &self[..];
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

impl Multipart {
    /// A message of one frame.
    pub fn new(frame: impl Into<Frame>) -> Self {
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
        I::Item: Into<Frame>,
    {
        let mut frames = frames.into_iter();
        let mut message = Multipart::new(frames.next()?);
        message.rest.extend(frames.map(Into::into));
        Some(message)
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<Frame>) {
        self.rest.push(frame.into());
    }

    /// Appends a frame and returns the message, for building one in a single
    /// expression.
    #[must_use]
    pub fn with(mut self, frame: impl Into<Frame>) -> Self {
        self.push(frame);
        self
    }

    /// Puts a frame in front of the others, such as the identity a ROUTER
    /// routes by.
    pub fn push_front(&mut self, frame: impl Into<Frame>) {
        let first = std::mem::replace(&mut self.first, frame.into());
        self.rest.insert(0, first);
    }

    /// Takes the first frame off, if another is left behind it: a message
    /// always keeps at least one frame.
    pub fn pop_front(&mut self) -> Option<Frame> {
        if self.rest.is_empty() {
            return None;
        }
        let second = self.rest.remove(0);
        Some(std::mem::replace(&mut self.first, second))
    }

    /// Takes the last frame off, if another is left before it.
    pub fn pop(&mut self) -> Option<Frame> {
        self.rest.pop()
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

    /// The frames, first to last. (`for frame in message` does the same
    /// without collecting them.)
    pub fn into_frames(self) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(self.frame_count());
        frames.push(self.first);
        frames.extend(self.rest);
        frames
    }

    pub(crate) fn from_parts(first: zmq::Message, rest: Vec<Frame>) -> Self {
        Multipart {
            first: Frame(Repr::Message(first)),
            rest,
        }
    }
}

/// The frames of a [`Multipart`], from [`Multipart::frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    first: Option<&'a Frame>,
    rest: std::slice::Iter<'a, Frame>,
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

impl<'a> IntoIterator for &'a Multipart {
    type Item = &'a [u8];
    type IntoIter = Frames<'a>;

    fn into_iter(self) -> Frames<'a> {
        self.frames()
    }
}

impl IntoIterator for Multipart {
    type Item = Frame;
    type IntoIter = std::iter::Chain<std::iter::Once<Frame>, std::vec::IntoIter<Frame>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.rest)
    }
}

/// Appends the frames, after the ones the message has.
impl<T: Into<Frame>> Extend<T> for Multipart {
    fn extend<I: IntoIterator<Item = T>>(&mut self, frames: I) {
        self.rest.extend(frames.into_iter().map(Into::into));
    }
}

impl Clone for Multipart {
    fn clone(&self) -> Self {
        Multipart {
            first: self.first.clone(),
            rest: self.rest.clone(),
        }
    }
}

/// A message of the array's frames, in order. An empty array does not
/// compile: a message has at least one frame.
impl<T: Into<Frame>, const N: usize> From<[T; N]> for Multipart {
    fn from(frames: [T; N]) -> Self {
        const { assert!(N > 0, "a ZeroMQ message has at least one frame") };
        let mut frames = frames.into_iter().map(Into::into);
        let first = frames.next().unwrap_or(Frame::EMPTY);
        Multipart {
            first,
            rest: frames.collect(),
        }
    }
}

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
        f.debug_tuple("Multipart")
            .field(&self.frames_debug())
            .finish()
    }
}

impl Multipart {
    fn frames_debug(&self) -> Vec<&Frame> {
        std::iter::once(&self.first).chain(&self.rest).collect()
    }
}

/// One frame, empty: ZeroMQ allows them, and an empty message is one.
impl Default for Multipart {
    fn default() -> Self {
        Multipart::new(Frame::EMPTY)
    }
}

impl From<Frame> for Multipart {
    fn from(frame: Frame) -> Self {
        Multipart::new(frame)
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
        Multipart::new(text)
    }
}

impl From<&String> for Multipart {
    fn from(text: &String) -> Self {
        Multipart::new(text)
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
    fn envelopes_from_both_ends() {
        let mut message = Multipart::from(["a", "b", "c"]);
        message.push_front("id");
        assert_eq!(message, Multipart::from(["id", "a", "b", "c"]));
        assert_eq!(message.pop().as_deref(), Some(&b"c"[..]));
        assert_eq!(message.pop_front().as_deref(), Some(&b"id"[..]));
        assert_eq!(message.pop_front().as_deref(), Some(&b"a"[..]));
        // The last frame stays.
        assert_eq!(message.pop_front(), None);
        assert_eq!(message.pop(), None);
        assert_eq!(message.single(), Some(&b"b"[..]));
    }

    #[test]
    fn clones_copy_every_frame() {
        let message = Multipart::from(["x", "", "z"]);
        let copy = message.clone();
        assert_eq!(copy, message);
        let mut extended = copy.clone();
        extended.extend(["more", "frames"]);
        assert_eq!(extended.frame_count(), 5);
        assert_eq!(&message, &Multipart::from(["x", "", "z"]));
    }

    #[test]
    fn iterates_by_reference_and_by_value() {
        let message = Multipart::from(vec![1u8, 2]).with(vec![3u8]);
        let borrowed: Vec<&[u8]> = (&message).into_iter().collect();
        assert_eq!(borrowed, [&[1u8, 2][..], &[3][..]]);
        let owned: Vec<Vec<u8>> = message.into_iter().map(|frame| frame.to_vec()).collect();
        assert_eq!(owned, [vec![1, 2], vec![3]]);
        assert_eq!(Multipart::default().single(), Some(&b""[..]));
    }

    #[test]
    fn frames_keep_their_bytes_however_they_are_held() {
        let small = Frame::from(&[7u8; INLINE][..]);
        let large = Frame::from(vec![8u8; INLINE + 1]);
        let received = Frame::from(zmq::Message::from(&b"from libzmq"[..]));
        assert_eq!(&small[..], &[7u8; INLINE][..]);
        assert_eq!(large.len(), INLINE + 1);
        assert_eq!(received, Frame::from("from libzmq"));
        assert_eq!(small.clone(), small);
        assert_eq!(&large.clone().into_message()[..], &large[..]);
        assert_eq!(received.into_vec(), b"from libzmq");
        assert_eq!(&Frame::EMPTY[..], b"");
        assert_eq!(format!("{:?}", Frame::from("text")), r#""text""#);
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
