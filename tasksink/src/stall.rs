//! The sink's `--timeout-ms`: it gives up on a batch that has stalled (a
//! worker died with some of its tasks). Not in the guide, so out of `main`.

use std::time::Duration;

use calloop::LoopHandle;
use calloop::timer::{TimeoutAction, Timer};

use crate::Sink;

/// Starts the one timer that stops the sink when no result has come for
/// `timeout`. Results do not touch it, they only move `last_heard`: when it
/// fires at a deadline that a later result has pushed back, it sets itself
/// for the new one. (One timer per batch, not one per result.)
pub fn watch(handle: &LoopHandle<'_, Sink>, timeout: Duration) {
    let timer = Timer::from_duration(timeout);
    let inserted = handle.insert_source(timer, move |deadline, _, sink: &mut Sink| {
        if sink.elapsed.is_some() {
            return TimeoutAction::Drop; // The batch is complete.
        }
        let due = sink.last_heard + timeout;
        if due > deadline {
            return TimeoutAction::ToInstant(due);
        }
        sink.stalled = true;
        sink.signal.stop();
        TimeoutAction::Drop
    });
    if let Err(e) = inserted {
        eprintln!("warning: cannot start the timeout's timer, so no timeout: {e}");
    }
}

/// What a sink that gave up says: how many results came. It ends the line
/// of marks first.
pub fn report(sink: &Sink) -> String {
    if sink.results > 0 {
        println!();
    }
    let silence = sink.timeout.unwrap_or_default().as_millis();
    let (results, tasks) = (sink.results, sink.tasks);
    format!("{results} of {tasks} results arrived; none for {silence} ms")
}
