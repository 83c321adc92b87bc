//! A task's workload as the guide's C worker reads it, with `atoi`, and the
//! mark the worker prints for it: not the lesson, so out of `main`.

use std::io::{self, Write};

use zsource::Multipart;

/// The longest workload worked on, in milliseconds. The guide's are at most
/// 100; one of more than a minute is taken for a mistake, not a task.
const MAX_WORKLOAD_MS: u64 = 60_000;

/// A task's workload in milliseconds; for a task that is not plainly a
/// number, a warning too. One with no number in it, a negative workload or
/// more than a minute of it gets no work at all (but still a result).
pub fn read(task: &Multipart) -> u64 {
    let (workload, odd) = parse(task);
    if let Some(why) = odd {
        eprintln!("warning: {why}; working {workload} ms and sending its result: {task:?}");
    }
    workload
}

/// Prints the workload of the task being started: `N.`, without a newline.
pub fn show(workload: u64) {
    print!("{workload}.");
    let _ = io::stdout().flush();
}

/// The workload, and what is odd about the task, if anything. C's `atoi`
/// reads the number at the start of a C string (up to a NUL: the guide's C++
/// ventilator sends NUL-padded buffers), after any spaces and a sign; where
/// it finds none it reads 0.
fn parse(task: &Multipart) -> (u64, Option<String>) {
    let mut odd = Vec::new();
    if task.frame_count() > 1 {
        odd.push(format!("{} frames, reading the first", task.frame_count()));
    }
    let c_string = zhelpers::c_string(task.first());
    let text = c_string.trim_ascii_start();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let digits = text.iter().take_while(|byte| byte.is_ascii_digit()).count();
    if digits == 0 {
        odd.push("not a number".to_string());
        return (0, Some(odd.join(", ")));
    }
    if c_string.len() != digits {
        odd.push("not only a number".to_string());
    }
    // Digits are ASCII; a number too large for u64 is over the limit too.
    let number = std::str::from_utf8(&text[..digits])
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok());
    let workload = match number {
        _ if negative => {
            odd.push("a negative workload".to_string());
            0
        }
        Some(ms) if ms <= MAX_WORKLOAD_MS => ms,
        _ => {
            odd.push(format!("more than {MAX_WORKLOAD_MS} ms of work"));
            0
        }
    };
    (workload, (!odd.is_empty()).then(|| odd.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(task: &[u8]) -> (u64, bool) {
        let (workload, odd) = parse(&Multipart::from(task));
        (workload, odd.is_some())
    }

    #[test]
    fn reads_a_workload_as_atoi_does() {
        assert_eq!(read(b"49"), (49, false));
        // The guide's C++ ventilator: a C string in a 10-byte buffer.
        assert_eq!(read(b"49\0\0\0\0\0\0\0\0"), (49, false));
        assert_eq!(read(b"007"), (7, false));
        assert_eq!(read(b" +3\n"), (3, true));
        assert_eq!(read(b"12 apples"), (12, true));
        assert_eq!(read(b"60000"), (60_000, false));
    }

    #[test]
    fn a_task_without_a_sane_workload_gets_no_work() {
        for task in [
            &b"seven"[..],
            b"",
            b"\xff\xfe",
            b"-3",
            b"60001",
            b"99999999999999999999999",
            b"\x0049",
        ] {
            assert_eq!(read(task), (0, true), "{task:?}");
        }
    }

    #[test]
    fn reads_the_first_frame_of_several() {
        let (workload, odd) = parse(&Multipart::new("5").with("6"));
        assert_eq!(workload, 5);
        assert!(odd.is_some_and(|why| why.contains("2 frames")));
    }
}
