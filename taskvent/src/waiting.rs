//! What the ventilator says about a batch that is sent and not yet
//! delivered: on stderr while it waits, and as its error if it gives up.
//! Not the lesson, so out of `main`.

use std::time::Duration;

/// What a sent batch still waits for.
pub struct Undelivered<'a> {
    /// The sink's endpoint, if the batch start still waits for the sink.
    pub sink: Option<&'a str>,
    /// The ventilator's endpoint, for the workers to connect to.
    pub endpoint: &'a str,
    /// Tasks that ZeroMQ has not taken yet.
    pub tasks: usize,
    /// Workers connected now: with none, the tasks wait for one to connect;
    /// with some, for them to take the tasks.
    pub workers: u32,
}

impl Undelivered<'_> {
    /// Whether everything has been handed to ZeroMQ for a peer that is
    /// there.
    pub fn is_nothing(&self) -> bool {
        self.sink.is_none() && self.tasks == 0
    }

    /// Says on stderr what the batch waits for to connect.
    pub fn say_waiting(&self) {
        if let Some(sink) = self.sink {
            eprintln!(
                "waiting for the sink at {sink} to connect: the batch start waits for it \
                 (Ctrl-C gives up)"
            );
        }
        if self.waits_for_a_worker() {
            eprintln!(
                "waiting for a worker to connect to {}: {} tasks wait for one (Ctrl-C gives up)",
                self.endpoint, self.tasks
            );
        }
    }

    /// Why the batch is lost, for a ventilator stopped before delivery.
    pub fn stopped(&self) -> String {
        let sink = self.sink.unwrap_or_default();
        let lost = self.lost(
            format!("before the sink at {sink} connected"),
            format!("before a worker connected to {}", self.endpoint),
            "while the batch was being delivered".to_string(),
        );
        format!("stopped {}", lost.join("; and "))
    }

    /// Why the batch is lost, for a ventilator that gave up after `timeout`.
    pub fn timed_out(&self, timeout: Duration) -> String {
        let (sink, ms) = (self.sink.unwrap_or_default(), timeout.as_millis());
        let lost = self.lost(
            format!("the sink at {sink} did not connect within {ms} ms"),
            format!("no worker connected to {} within {ms} ms", self.endpoint),
            format!("the workers did not take all the tasks within {ms} ms"),
        );
        lost.join("; ")
    }

    /// What was not delivered, each part after why: the sink was missing,
    /// no worker was there, or the workers there had not taken all the tasks.
    fn lost(&self, no_sink: String, no_worker: String, backlog: String) -> Vec<String> {
        let mut lost = Vec::new();
        if self.sink.is_some() {
            lost.push(format!("{no_sink}: the batch start was not delivered"));
        }
        if self.tasks > 0 {
            let why = match self.workers {
                0 => no_worker,
                _ => backlog,
            };
            lost.push(format!("{why}: {} tasks were not delivered", self.tasks));
        }
        lost
    }

    fn waits_for_a_worker(&self) -> bool {
        self.tasks > 0 && self.workers == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undelivered(sink: bool, tasks: usize, workers: u32) -> Undelivered<'static> {
        Undelivered {
            sink: sink.then_some("tcp://sink:1"),
            endpoint: "tcp://vent:2",
            tasks,
            workers,
        }
    }

    #[test]
    fn says_what_was_not_delivered() {
        assert!(undelivered(false, 0, 0).is_nothing());
        assert_eq!(
            undelivered(true, 0, 1).stopped(),
            "stopped before the sink at tcp://sink:1 connected: the batch start was not delivered"
        );
        assert_eq!(
            undelivered(true, 3, 0).stopped(),
            "stopped before the sink at tcp://sink:1 connected: the batch start was not \
             delivered; and before a worker connected to tcp://vent:2: 3 tasks were not delivered"
        );
        assert_eq!(
            undelivered(false, 3, 2).stopped(),
            "stopped while the batch was being delivered: 3 tasks were not delivered"
        );
    }

    #[test]
    fn says_what_did_not_come_in_time() {
        let timeout = Duration::from_millis(300);
        assert_eq!(
            undelivered(false, 3, 0).timed_out(timeout),
            "no worker connected to tcp://vent:2 within 300 ms: 3 tasks were not delivered"
        );
        assert_eq!(
            undelivered(false, 3, 1).timed_out(timeout),
            "the workers did not take all the tasks within 300 ms: 3 tasks were not delivered"
        );
        assert_eq!(
            undelivered(true, 0, 0).timed_out(timeout),
            "the sink at tcp://sink:1 did not connect within 300 ms: the batch start was not \
             delivered"
        );
    }
}
