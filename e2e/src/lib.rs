//! The harness for the end-to-end tests: it runs the workspace's programs as
//! real processes and watches what they print.
//!
//! - [`Process::start`] builds every program once per test binary (so the
//!   tests run what `cargo build` makes), starts one, and collects its stdout
//!   and stderr as they arrive.
//! - [`Process::wait_for`] and friends wait for text with a deadline. A wait
//!   that fails says in its first line what it waited for, and then shows
//!   what every process the test started printed.
//! - [`Process::endpoint`] reads the `listening on` line, so servers bind
//!   `tcp://127.0.0.1:*` and no test needs a fixed port.
//! - Dropping a [`Process`] kills it, so a failing test leaves no orphans.
//! - [`Process::peer`] starts a foreign peer: `zmqrs-peer`, this crate's own
//!   program, the guide's programs on zmq.rs (the `zeromq` crate), a ZeroMQ
//!   in pure Rust that shares no code with the libzmq ours are built on. So
//!   the interop tests need nothing but Cargo. zmq.rs is async; the peers
//!   run on a current-thread tokio runtime, the lightest that does (see
//!   `src/bin/zmqrs-peer/main.rs` for that, and for what zmq.rs lacks).
#![warn(missing_docs)]

use std::cell::RefCell;
use std::env;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for a line before it gives up. Generous, since
/// debug builds on a busy 2-core machine can be slow; a test that passes
/// never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How soon a program that runs until stopped must exit after SIGINT
/// (Ctrl-C) or SIGTERM (docs/DESIGN.md, "Behaviour every program shares").
pub const STOP: Duration = Duration::from_millis(250);

/// The endpoint every test server binds: any free port on loopback, read
/// back from its `listening on` line. Never a fixed port: this machine is
/// shared, and a test on a fixed port can pass by talking to a stranger.
pub const ANY_PORT: &str = "tcp://127.0.0.1:*";

/// A workload, a work time or a timeout no test waits out.
pub const A_MINUTE: &str = "60000";

/// What `taskvent` prints while it waits for Enter, as the guide's does.
pub const PROMPT: &str = "Press Enter when the workers are ready: ";

/// The first line a weather client prints, ours and the guide's.
pub const COLLECTING: &str = "Collecting updates from weather server...";

/// The directory cargo puts the workspace's programs in, for the profile
/// these tests were built with.
pub fn build_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // This test runs as target/<profile>/deps/<test>-<hash>.
        let exe = env::current_exe().expect("the test's own path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps")
            .to_path_buf();
        let release = dir.file_name().is_some_and(|name| name == "release");
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--workspace", "--bins", "--quiet"]);
        if release {
            build.arg("--release");
        }
        match build.status() {
            Ok(status) if status.success() => {}
            Ok(status) => fail(format!("cargo build --workspace --bins: {status}")),
            Err(e) => fail(format!("cannot run cargo build: {e}")),
        }
        dir
    })
}

/// Builds every program in release mode, once per test binary. The demo
/// scripts build in release mode themselves; doing it first, with no
/// deadline, keeps the first script's wait for its output short. (Not this
/// crate's foreign peers: no script runs them.)
pub fn release_build() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--workspace",
                "--exclude",
                "e2e",
                "--bins",
                "--release",
            ])
            .arg("--quiet")
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => fail(format!("cargo build --release: {status}")),
            Err(e) => fail(format!("cannot run cargo build --release: {e}")),
        }
    });
}

/// The path of one of the workspace's programs, built.
pub fn program(name: &str) -> PathBuf {
    build_dir().join(name)
}

/// The workspace's root directory.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e sits in the workspace root")
}

/// What the guide's hwclient prints for `requests` requests that all get
/// their reply, each once and in order.
pub fn hwclient_output(requests: u32) -> String {
    let mut expected = String::from("Connecting to hello world server...\n");
    for i in 0..requests {
        expected += &format!("Sending Hello {i}...\nReceived World {i}\n");
    }
    expected
}

/// A fresh `ipc://` endpoint in the temporary directory, unique to this test
/// process and call, for tests that need to know an endpoint before anything
/// binds it (a client started before its server). Dropping it removes the
/// socket file, which a killed server leaves behind: declare it before the
/// processes that use it, so that it is dropped after them.
#[derive(Debug)]
pub struct IpcEndpoint {
    endpoint: String,
    path: PathBuf,
}

impl IpcEndpoint {
    /// A new endpoint whose file name contains `name`.
    pub fn new(name: &str) -> IpcEndpoint {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = env::temp_dir().join(format!(
            "zguide-e2e-{}-{}-{name}.ipc",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        IpcEndpoint {
            endpoint: format!("ipc://{}", path.display()),
            path,
        }
    }

    /// The endpoint, `ipc://<path>`.
    pub fn as_str(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for IpcEndpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A directory of a test's own under the temporary directory, for IPC
/// socket files, removed with everything in it when dropped. Declare it
/// before the processes that use it, so that it outlives them.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates an empty directory whose name contains `test`, unique to this
    /// test process.
    pub fn new(test: &str) -> TempDir {
        let dir = env::temp_dir().join(format!("zguide-e2e-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// The path of a file in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// An `ipc://` endpoint for a file in the directory.
    pub fn ipc(&self, name: &str) -> String {
        format!("ipc://{}", self.path(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment variable that marks a script's processes.
const SCRIPT_MARKER: &str = "ZGUIDE_E2E_SCRIPT";

/// Everything a process has printed so far.
#[derive(Debug, Default)]
pub struct Output {
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
    /// How many of stdout and stderr have reached end of file.
    closed: u8,
    /// The exit status, once the process has exited.
    status: Option<ExitStatus>,
}

impl Output {
    /// The exit status, or `None` while the process runs.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.stdout, self.stderr
        )
    }
}

/// Which of a process's outputs to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

#[derive(Debug, Default)]
struct Shared {
    output: Mutex<Output>,
    changed: Condvar,
}

/// A process as a failed wait shows it.
struct Started {
    name: String,
    pid: u32,
    shared: Weak<Shared>,
}

thread_local! {
    /// The processes this thread has started and not yet dropped. Each test
    /// runs on a thread of its own, so these are the test's: a failed wait
    /// shows what each of them printed, not only the one it waited on.
    static STARTED: RefCell<Vec<Started>> = const { RefCell::new(Vec::new()) };
}

/// How much of each stream a failure report shows: the end, where the
/// news is.
const SHOWN_CHARS: usize = 6000;

/// What every process the current test has started printed, and whether it
/// still runs.
fn report() -> String {
    let started: Vec<(String, u32, Arc<Shared>)> = STARTED.with_borrow(|started| {
        started
            .iter()
            .filter_map(|process| {
                let shared = process.shared.upgrade()?;
                Some((process.name.clone(), process.pid, shared))
            })
            .collect()
    });
    let mut report = String::new();
    for (name, pid, shared) in started {
        let output = lock(&shared);
        let state = match output.status {
            Some(status) => status.to_string(),
            None => "running".to_string(),
        };
        report += &format!(
            "--- {name} (pid {pid}, {state}) ---\nstdout:\n{}\nstderr:\n{}\n",
            tail(&output.stdout),
            tail(&output.stderr)
        );
    }
    report
}

/// Fails the test with `message`, and only that: no backtrace, which
/// `RUST_BACKTRACE` would add to a panic and which says nothing here that
/// the message does not. (The test harness shows what the test printed.)
fn fail(message: String) -> ! {
    eprintln!("{message}");
    std::panic::resume_unwind(Box::new(message))
}

/// The end of `text`, at most [`SHOWN_CHARS`] of it.
fn tail(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= SHOWN_CHARS {
        return text.to_string();
    }
    let start: String = text.chars().skip(chars - SHOWN_CHARS).collect();
    format!("[{} characters before]...{start}", chars - SHOWN_CHARS)
}

/// A running program. Dropping it kills the process.
#[derive(Debug)]
pub struct Process {
    name: String,
    pid: u32,
    marker: Option<String>,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
}

impl Process {
    /// Starts one of the workspace's programs with `args`.
    pub fn start(name: &str, args: &[&str]) -> Process {
        let mut command = Command::new(program(name));
        command.args(args);
        Process::spawn(name, command)
    }

    /// Starts any command, for scripts and foreign peers.
    pub fn spawn(name: &str, mut command: Command) -> Process {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => fail(format!(
                "cannot start {name} ({command:?}): {e}\n{}",
                report()
            )),
        };
        let shared = Arc::new(Shared::default());
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        collect(stdout, Stream::Stdout, Arc::clone(&shared));
        collect(stderr, Stream::Stderr, Arc::clone(&shared));
        let stdin = child.stdin.take();
        let pid = child.id();
        reap(child, Arc::clone(&shared));
        STARTED.with_borrow_mut(|started| {
            started.retain(|process| process.shared.strong_count() > 0);
            started.push(Started {
                name: name.to_string(),
                pid,
                shared: Arc::downgrade(&shared),
            });
        });
        Process {
            name: name.to_string(),
            pid,
            marker: None,
            stdin,
            shared,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Starts a foreign peer: `zmqrs-peer` (this crate's own program, the
    /// guide's programs on zmq.rs rather than libzmq) with `args`, the first
    /// of which names the peer (`hwserver`, `bad-peer`, ...).
    pub fn peer(args: &[&str]) -> Process {
        let mut command = Command::new(program("zmqrs-peer"));
        command.args(args);
        let name = format!("zmqrs-peer {}", args.first().copied().unwrap_or_default());
        Process::spawn(&name, command)
    }

    /// Starts one of the demo scripts in `scripts/`, marked with an
    /// environment variable that every process it starts inherits, so that
    /// [`Process::leftovers`] can find any it leaves behind.
    pub fn script(script: &str, args: &[&str]) -> Process {
        Process::script_with(script, args, |_| {})
    }

    /// As [`Process::script`], with `configure` applied to the command
    /// before it starts: for example `process_group(0)`, so that the script
    /// leads a process group of its own, as a shell's foreground job does,
    /// and [`Process::ctrl_c`] can reach everything it runs.
    pub fn script_with(
        script: &str,
        args: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Process {
        release_build();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let marker = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut command = Command::new(workspace_root().join("scripts").join(script));
        command.args(args).env(SCRIPT_MARKER, &marker);
        configure(&mut command);
        let mut process = Process::spawn(script, command);
        process.marker = Some(marker);
        process
    }

    /// Sends SIGINT to the process's whole process group, as Ctrl-C in a
    /// terminal does to its foreground job: to a script started with
    /// `process_group(0)` (see [`Process::script_with`]) and to every
    /// program it runs. (Bash, by design, ignores a SIGINT sent to it alone
    /// while a command it waits for runs and survives it: it takes the
    /// command to have handled it.)
    pub fn ctrl_c(&self) {
        let status = Command::new("kill")
            .args(["-INT", "--", &format!("-{}", self.pid)])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT -- -{} failed", self.pid);
    }

    /// Sends `signal` (`"INT"` for Ctrl-C, or `"TERM"`) and checks that the
    /// process exits with status 0 within [`STOP`], as every program that
    /// runs until stopped must; `case` says what state it was stopped in.
    pub fn assert_stops(&mut self, signal: &str, case: &str) {
        // A deadline missed fails in wait_exit, which does not know the case.
        eprintln!("stopping: {case}, SIG{signal}");
        self.signal(signal);
        let sent = Instant::now();
        let status = self.wait_exit(STOP);
        assert!(
            status.success(),
            "{case}, SIG{signal}: {status} after {:?}\n{}",
            sent.elapsed(),
            self.output()
        );
    }

    /// The processes still running that a script started (by the marker
    /// [`Process::script`] gave it), the script itself excluded.
    pub fn leftovers(&self) -> Vec<String> {
        let marker = format!(
            "{SCRIPT_MARKER}={}\0",
            self.marker.as_deref().expect("a script")
        );
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == self.pid.to_string() {
                continue;
            }
            // A process may exit while we look: skip what cannot be read.
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if environ
                .windows(marker.len())
                .any(|w| w == marker.as_bytes())
            {
                let command = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let command = String::from_utf8_lossy(&command).replace('\0', " ");
                found.push(format!("{pid}: {command}"));
            }
        }
        found
    }

    /// A copy of everything printed so far.
    pub fn output(&self) -> Output {
        let output = self.lock();
        Output {
            stdout: output.stdout.clone(),
            stderr: output.stderr.clone(),
            closed: output.closed,
            status: output.status,
        }
    }

    /// Waits until `done` holds for the output, and returns what it returns.
    /// Fails the test if that takes longer than `timeout`, or if the process
    /// exits first: the message's first line says which, and what it waited
    /// for (`what`), and then comes what every process of the test printed.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Output) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut output = self.lock();
        loop {
            if let Some(found) = done(&output) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let why = if left.is_zero() {
                format!("waited {timeout:?} for {what}, in vain")
            } else if let Some(status) = output.status.filter(|_| output.closed == 2) {
                format!("exited ({status}) while the test waited for {what}")
            } else {
                String::new()
            };
            if !why.is_empty() {
                // Unlock before failing, so the lock is not poisoned for
                // the drop that kills the process (and the report can
                // take it).
                drop(output);
                fail(format!("{}: {why}\n{}", self.name, report()));
            }
            output = self
                .shared
                .changed
                .wait_timeout(output, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits for a line on `stream` that contains `text`, and returns it.
    pub fn wait_for(&self, stream: Stream, text: &str) -> String {
        let what = format!("a line with {text:?} on {stream:?}");
        self.wait_until(&what, DEADLINE, |output| {
            let lines = match stream {
                Stream::Stdout => &output.stdout,
                Stream::Stderr => &output.stderr,
            };
            complete_lines(lines)
                .find(|line| line.contains(text))
                .map(str::to_string)
        })
    }

    /// Waits for the `listening on` line and returns its endpoint.
    pub fn endpoint(&self) -> String {
        self.endpoints(1).remove(0)
    }

    /// Waits for `count` `listening on` lines and returns their endpoints.
    pub fn endpoints(&self, count: usize) -> Vec<String> {
        self.wait_until(
            &format!("{count} `listening on` lines"),
            DEADLINE,
            |output| {
                let endpoints: Vec<String> = complete_lines(&output.stderr)
                    .filter_map(|line| line.strip_prefix("listening on "))
                    .map(str::to_string)
                    .collect();
                (endpoints.len() >= count).then_some(endpoints)
            },
        )
    }

    /// Writes `text` to the process's standard input.
    pub fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(text.as_bytes()).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes the process's standard input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends a signal (`"INT"`, `"TERM"`, `"STOP"`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        signal_pid(self.id(), signal);
    }

    /// Waits for the process to exit and its output to close, failing the
    /// test if that takes longer than `timeout`. Afterwards
    /// [`Process::output`] holds everything it printed.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.wait_until("it to exit", timeout, |output| {
            output.status.filter(|_| output.closed == 2)
        })
    }

    /// Waits for the process to exit and checks that it succeeded.
    pub fn wait_success(&mut self, timeout: Duration) -> Output {
        let status = self.wait_exit(timeout);
        if !status.success() {
            fail(format!("{}: failed ({status})\n{}", self.name, report()));
        }
        self.output()
    }

    /// Checks that the process rejected its command line: clap's message,
    /// naming `named`, and exit status 2.
    pub fn assert_usage_error(mut self, named: &str) {
        let status = self.wait_exit(DEADLINE);
        let output = self.output();
        assert_eq!(status.code(), Some(2), "{}: {output}", self.name);
        assert!(
            output.stderr.contains(named),
            "{}: {named:?}\n{output}",
            self.name
        );
    }

    /// Checks that the process failed at once as a program given an
    /// endpoint it cannot use should: exit status 1 and one plain line on
    /// stderr, `error: ...` naming `named` (not Debug-quoted, as Rust prints
    /// an error returned from `main`), with no panic.
    pub fn assert_fails_naming(mut self, named: &str) {
        let status = self.wait_exit(DEADLINE);
        let output = self.output();
        assert_eq!(status.code(), Some(1), "{}: {output}", self.name);
        assert_eq!(output.stderr.lines().count(), 1, "{}: {output}", self.name);
        assert!(
            output.stderr.starts_with("error: ") && output.stderr.contains(named),
            "{}: expected `error: ...` naming {named:?}\n{output}",
            self.name
        );
        assert!(
            !output.stderr.contains("panicked"),
            "{}: {output}",
            self.name
        );
    }

    fn lock(&self) -> MutexGuard<'_, Output> {
        lock(&self.shared)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Gone from the test, gone from its failure reports. (`try_with`: a
        // Process kept in a thread-local would be dropped after STARTED.)
        let _ = STARTED.try_with(|started| {
            if let Ok(mut started) = started.try_borrow_mut() {
                started.retain(|process| process.pid != self.pid);
            }
        });
        let output = self.lock();
        if output.status.is_none() {
            // The reaper thread owns the child; it reaps it once killed.
            // It may exit meanwhile; kill's "No such process" is no news.
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .stderr(Stdio::null())
                .status();
            let _ = self
                .shared
                .changed
                .wait_timeout_while(output, DEADLINE, |output| output.status.is_none());
        }
    }
}

/// The lines of `text` that have their newline: a line still arriving may
/// be cut short.
pub fn complete_lines(text: &str) -> std::str::Lines<'_> {
    text[..text.rfind('\n').map_or(0, |end| end + 1)].lines()
}

/// Where a cell of a coverage matrix is tested: a test function in a file
/// of `e2e/tests/`. The matrices (which program is stopped in which state,
/// fed which bad input, restarted how) are tables of these, so a test can
/// check that no cell is missing and that each names a real test.
#[derive(Debug, Clone, Copy)]
pub struct Tested {
    /// The file in `e2e/tests/`, `"hello.rs"`.
    pub file: &'static str,
    /// The test function in it.
    pub test: &'static str,
}

impl Tested {
    /// Panics unless the file has a `#[test]` function of that name.
    pub fn assert_exists(&self) {
        let path = workspace_root().join("e2e/tests").join(self.file);
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        assert!(
            source.contains(&format!("#[test]\nfn {}() {{", self.test)),
            "{}: no test {}",
            self.file,
            self.test
        );
    }
}

/// Locks the output, even if a failed test poisoned the lock: what was
/// printed is still worth showing, and the process must still be killed.
fn lock(shared: &Shared) -> MutexGuard<'_, Output> {
    shared.output.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits for the child to exit in a thread of its own, so that waiting for
/// an exit can have a deadline without polling.
fn reap(mut child: Child, shared: Arc<Shared>) {
    thread::spawn(move || {
        let status = child.wait().expect("wait for the child");
        let mut output = lock(&shared);
        output.status = Some(status);
        shared.changed.notify_all();
    });
}

/// Sends a signal (`"INT"`, `"TERM"`, `"KILL"`, ...) to a process by id.
pub fn signal_pid(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Copies a child's output into the shared buffer as it arrives, so that
/// text without a newline (a worker's `N.`) is seen at once.
fn collect(mut from: impl Read + Send + 'static, stream: Stream, shared: Arc<Shared>) {
    thread::spawn(move || {
        let mut buffer = [0; 4096];
        // Bytes of a character split between two reads wait here.
        let mut pending = Vec::new();
        loop {
            let read = from.read(&mut buffer).unwrap_or(0);
            let mut output = lock(&shared);
            let text = match stream {
                Stream::Stdout => &mut output.stdout,
                Stream::Stderr => &mut output.stderr,
            };
            pending.extend_from_slice(&buffer[..read]);
            let complete = match std::str::from_utf8(&pending) {
                Ok(_) => pending.len(),
                Err(e) if e.error_len().is_none() && read > 0 => e.valid_up_to(),
                Err(_) => pending.len(),
            };
            text.push_str(&String::from_utf8_lossy(&pending[..complete]));
            pending.drain(..complete);
            if read == 0 {
                output.closed += 1;
            }
            shared.changed.notify_all();
            if read == 0 {
                return;
            }
        }
    });
}

/// The user id the tests run as, from `id -u` (the crate forbids the
/// `unsafe` of calling `geteuid` itself). 0 is root, which the tests of
/// network namespaces need.
pub fn euid() -> u32 {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .unwrap_or_else(|e| fail(format!("cannot run id -u: {e}")));
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| fail(format!("id -u: {e}: {output:?}")))
}

/// Runs a command to the end, fails the test if it does not succeed, and
/// returns its stdout, for the tools a test drives (`ip`, `kill`).
pub fn run_tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| fail(format!("cannot run {program}: {e}")));
    if !output.status.success() {
        fail(format!(
            "{program} {}: {}\n{}\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr),
            report()
        ));
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// How many of the complete lines of `text` are exactly `line`.
pub fn count_lines(text: &str, line: &str) -> usize {
    complete_lines(text).filter(|each| *each == line).count()
}

/// Starts our `taskvent` bound to `bind`, sending `tasks` workloads of
/// seed `seed` once `workers` workers are connected, and its `0` to `sink`.
pub fn taskvent(bind: &str, sink: &str, tasks: usize, seed: &str, workers: usize) -> Process {
    Process::start(
        "taskvent",
        &[
            "--bind",
            bind,
            "--sink",
            sink,
            "--tasks",
            &tasks.to_string(),
            "--seed",
            seed,
            "--workers",
            &workers.to_string(),
        ],
    )
}

/// [`taskvent`] on [`ANY_PORT`], with the endpoint it got.
pub fn start_taskvent(sink: &str, tasks: usize, seed: &str, workers: usize) -> (Process, String) {
    let ventilator = taskvent(ANY_PORT, sink, tasks, seed, workers);
    let endpoint = ventilator.endpoint();
    (ventilator, endpoint)
}
