//! The errors: [`Error`] when the source itself fails, [`SendError`] when a
//! message is handed back.

use std::fmt;

use crate::Multipart;

/// What went wrong with the source itself.
///
/// A source that cannot go on (its context was terminated, say) hands its
/// `Error` to its own callback as [`Event::Failed`](crate::Event::Failed) and
/// leaves the loop; `process_events` itself never fails, so the loop's
/// other sources go on. Everything a source can recover from (EAGAIN, EINTR,
/// a refused send) is handled inside or reported through
/// [`Event::SendFailed`](crate::Event::SendFailed). Flushing returns its own
/// kinds, and making a monitor one more.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A ZeroMQ call failed in a way that trying again will not fix.
    Zmq {
        /// What the source was doing, such as `"recv"` or `"read ZMQ_EVENTS"`.
        operation: &'static str,
        /// The error libzmq reported.
        source: zmq::Error,
    },
    /// The wake-up ping behind the source could not be created or used.
    Io {
        /// What the source was doing.
        operation: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// [`ZmqSource::flush`](crate::ZmqSource::flush) ran out of time.
    FlushTimeout {
        /// How many messages were still queued.
        unsent: usize,
    },
    /// [`ZmqSource::flush`](crate::ZmqSource::flush) met a message that ZeroMQ
    /// refused; it is handed back inside.
    Refused(SendError),
    /// [`ZmqSource::monitor`](crate::ZmqSource::monitor): the socket's monitor
    /// is still alive, and libzmq allows one per socket.
    MonitorInUse,
}

impl Error {
    pub(crate) fn zmq(operation: &'static str) -> impl FnOnce(zmq::Error) -> Error {
        move |source| Error::Zmq { operation, source }
    }

    pub(crate) fn io(operation: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io { operation, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Zmq { operation, source } => write!(f, "{operation}: {source}"),
            Error::Io { operation, source } => write!(f, "{operation}: {source}"),
            Error::FlushTimeout { unsent } => {
                write!(f, "flush timed out with {unsent} message(s) still queued")
            }
            Error::Refused(error) => write!(f, "flush: {error}"),
            Error::MonitorInUse => write!(f, "the socket already has a monitor"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Zmq { source, .. } => Some(source),
            Error::Io { source, .. } => Some(source),
            Error::FlushTimeout { .. } => None,
            Error::Refused(error) => Some(error),
            Error::MonitorInUse => None,
        }
    }
}

/// A message handed back to the caller, and why.
///
/// Every variant carries the message, so nothing is lost: take it back with
/// [`SendError::into_message`] and retry, reroute or drop it.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// The outgoing queue is at its capacity: back pressure. Try again after
    /// the loop has had a chance to send.
    Full(Multipart),
    /// The source has been dropped; nothing will send this message.
    Closed(Multipart),
    /// ZeroMQ refused the message and trying again would not help: `EFSM` for
    /// a REQ or REP socket used out of turn, `EHOSTUNREACH` for a ROUTER with
    /// `ZMQ_ROUTER_MANDATORY` and an unknown peer.
    Refused {
        /// The error libzmq reported.
        error: zmq::Error,
        /// The message that was not sent.
        message: Multipart,
    },
}

impl SendError {
    /// The message that was not sent.
    pub fn message(&self) -> &Multipart {
        match self {
            SendError::Full(message)
            | SendError::Closed(message)
            | SendError::Refused { message, .. } => message,
        }
    }

    /// Takes the message back.
    pub fn into_message(self) -> Multipart {
        match self {
            SendError::Full(message)
            | SendError::Closed(message)
            | SendError::Refused { message, .. } => message,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => write!(f, "the outgoing queue is full"),
            SendError::Closed(_) => write!(f, "the event source is gone"),
            SendError::Refused { error, .. } => write!(f, "ZeroMQ refused the message: {error}"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Refused { error, .. } => Some(error),
            SendError::Full(_) | SendError::Closed(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + std::error::Error + 'static>() {}

    #[test]
    fn errors_are_send_sync_and_chain() {
        assert_send_sync::<Error>();
        assert_send_sync::<SendError>();

        let refused = SendError::Refused {
            error: zmq::Error::EFSM,
            message: Multipart::from("two"),
        };
        assert!(refused.to_string().contains("refused"));
        let source = std::error::Error::source(&refused).expect("has a source");
        assert_eq!(source.to_string(), zmq::Error::EFSM.to_string());
        assert_eq!(refused.into_message(), Multipart::from("two"));

        let error = Error::Zmq {
            operation: "recv",
            source: zmq::Error::ETERM,
        };
        assert!(error.to_string().starts_with("recv: "));
        assert!(std::error::Error::source(&error).is_some());
    }
}
