//! The admin page in a real browser: Debian's headless Chromium, driven through
//! `chromedriver`, against `jobs serve` on 127.0.0.1 over seeded demo data. It logs in with the
//! printed token, starts `InteractionAuditOneOffJob` from its form, watches it reach
//! `completed`, reads a known line of its output, sees a bad value refused under its field,
//! cancels a long run (started with `jobs run --detach`, and paused while the pages show it, so
//! the cancel cannot race its end) from the runs page, and sees a run that was going when the server was
//! killed recorded interrupted after a restart. It keeps a screenshot of each page under
//! `docs/screenshots/`.
//!
//! Whether it runs is decided when it is built (`jobs-examples/build.rs`): without Chromium and
//! chromedriver it is reported `ignored` with the reason, never `ok`, unless `CI` is set
//! (`.ci/run` installs `chromium` and `chromium-driver`), where it runs and their absence fails
//! it. Installed or removed after the test was built, they are seen at the next `cargo test`.

#[path = "../support/mod.rs"]
mod support;
mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jobs_core::runs::{RunId, RunLog, Status};
use jobs_core::store::RedbStore;
use webdriver::{Driver, Element, Session};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WIDTH: u32 = 1280;
/// Explorations in the store for the run watched to completion, and then for the long run.
const SMALL: &str = "300";
/// Large enough that the long runs are still mapping seconds after the page shows them, on an
/// idle machine too. The canceled one cannot end before its cancel anyway (see [`Paused`]);
/// the one going when the server is killed is killed as soon as the page shows it mapping.
const LARGE: &str = "150000";

type TestResult = Result<(), String>;

/// `jobs serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The process carrying out a run, stopped (SIGSTOP) right after it saved its progress, so the
/// run can neither go on nor end until [`resume`](Self::resume); killed when dropped before
/// that. It is only left stopped where it holds no lock on the store: a process stopped inside
/// a write transaction would block every other writer (the server recording the cancel) and,
/// inside a commit, every reader (the pages), so the browser would wait on them forever.
struct Paused {
    pid: libc::pid_t,
    resumed: bool,
}

impl Paused {
    /// Stops the process of run `id` in `store` at the moment its first progress save that
    /// shows reading is seen (at most 60 s), at a moment it holds no lock on the store.
    fn when_reading(store: &Path, id: &str) -> Result<Paused, String> {
        let log = RedbStore::open(store).map_err(|e| e.to_string())?;
        let id = RunId::parse(id).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        // The progress a stop was last tried at: each try waits for the next save, since the
        // moments just after a save are the longest without a write of the run's.
        let mut tried_at = 0;
        let mut tries = 0;
        loop {
            let record = log.get_run(&id).map_err(|e| e.to_string())?;
            if record.status() != Status::Started && record.status() != Status::Queued {
                return Err(format!("the long run ended before it could be paused: {record:?}"));
            }
            let read = record.progress.read();
            // The first save that shows reading: as early in the map as the pages can show
            // it, so the run is far from its end (a faster map once let a later save come
            // after the last entity, and the run completed before its cancel was relayed).
            if read > tried_at {
                tried_at = read;
                // A little later at each try: a save is visible before its commit has let go
                // of the store's locks.
                std::thread::sleep(Duration::from_millis(10 * tries.min(10)));
                let pid = record.pid.ok_or("a started run without a process")?;
                let pid = libc::pid_t::try_from(pid).map_err(|e| e.to_string())?;
                // SAFETY: kill(2) only sends a signal; the pid is the run's own process.
                if unsafe { libc::kill(pid, libc::SIGSTOP) } != 0 {
                    return Err(format!("SIGSTOP {pid}: {}", std::io::Error::last_os_error()));
                }
                let mut paused = Paused { pid, resumed: false };
                if support::store_takes_a_write(store, Duration::from_secs(5))? {
                    let record = log.get_run(&id).map_err(|e| e.to_string())?;
                    if record.status() != Status::Started {
                        return Err(format!("the long run ended before it could be paused: {record:?}"));
                    }
                    return Ok(paused);
                }
                // Stopped inside a transaction: let it finish, and try again after its next save.
                paused.resumed = true;
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGCONT) };
                tries += 1;
            }
            if Instant::now() > deadline {
                return Err(format!("the long run was not seen reading (and holding no lock) within 60 s: {record:?}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Lets the process go on (SIGCONT).
    fn resume(mut self) -> TestResult {
        self.resumed = true;
        // SAFETY: as in `when_reading`.
        if unsafe { libc::kill(self.pid, libc::SIGCONT) } != 0 {
            return Err(format!("SIGCONT {}: {}", self.pid, std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if !self.resumed {
            // SAFETY: as in `when_reading`; a stopped process dies of SIGKILL too.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

#[test]
#[ignore = "the body of the probe process support::store_takes_a_write starts"]
fn probe_process_entry() {
    support::probe_process_body();
}

fn jobs(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobs"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("JOBS_STORE")
        .env_remove("JOBS_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("the jobs binary runs")
}

fn jobs_ok(store: &Path, args: &[&str]) -> String {
    let output = jobs(store, args);
    assert!(output.status.success(), "jobs {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `jobs serve` on a free loopback port and reads the login URL it prints (at most
/// 60 s).
fn serve(store: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jobs"))
        .arg("--store")
        .arg(store)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("JOBS_STORE")
        .env_remove("JOBS_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jobs serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (lines, received) = mpsc::channel();
    // Keeps reading for as long as the server lives: a server whose stderr is closed fails to
    // log (and tracing-subscriber then panics the request that logged).
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[jobs serve] {line}");
            let _ = lines.send(line);
        }
    });
    let mut server = Server { child, url: String::new() };
    while let Ok(line) = received.recv_timeout(Duration::from_secs(60)) {
        if let Some(start) = line.find("http://") {
            server.url = line[start..].split_whitespace().next().unwrap_or_default().to_owned();
            break;
        }
    }
    assert!(server.url.contains("/login?token="), "jobs serve printed no login URL");
    server
}

fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
}

fn keep_screenshot(browser: &Session, name: &str) -> TestResult {
    save_screenshot(browser, &screenshots_dir(), name)
}

fn save_screenshot(browser: &Session, dir: &Path, name: &str) -> TestResult {
    let png = browser.screenshot(WIDTH)?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{name}.png")), png).map_err(|e| e.to_string())
}

fn status_is(want: &'static str) -> impl Fn(&Session, &Element) -> Result<bool, String> {
    move |browser, element| Ok(browser.attribute(element, "data-status")?.as_deref() == Some(want))
}

#[test]
#[cfg_attr(
    jobs_no_test_browser,
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver: apt-get install chromium chromium-driver"
)]
fn the_admin_page_works_in_a_real_browser() {
    let (chromium, chromedriver) = (Path::new(CHROMIUM), Path::new(CHROMEDRIVER));
    assert!(
        chromium.exists() && chromedriver.exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("jobs.redb");
    jobs_ok(&store, &["seed", "--explorations", SMALL, "--users", "50"]);
    let server = serve(&store);
    let driver = Driver::start(chromedriver).expect("chromedriver starts");
    let profile = dir.path().join("chromium-profile");
    let args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect();
    let browser = driver.session(chromium, &args).expect("chromium starts");
    if let Err(error) = drive(&browser, &server, &store).and_then(|()| restart(&browser, server, &store)) {
        // What the page showed when it went wrong, outside the repository.
        let dir = std::env::temp_dir();
        let _ = save_screenshot(&browser, &dir, "jobs-web-browser-failure");
        panic!("{error} (the page as it was: {})", dir.join("jobs-web-browser-failure.png").display());
    }
}

fn drive(browser: &Session, server: &Server, store: &Path) -> TestResult {
    let (base, token) = server.url.split_once("/login?token=").ok_or("the login URL has no token")?;
    let long = Duration::from_secs(90);

    // Not logged in: the login form, and a wrong token is refused.
    browser.goto(&format!("{base}/runs"))?;
    let field = browser.find("#token")?;
    browser.type_into(&field, "not-the-token")?;
    browser.click(&browser.find("#login")?)?;
    let error = browser.wait_for("#login-error", long, |_, _| Ok(true))?;
    if !browser.text(&error)?.contains("not the admin token") {
        return Err("a wrong token was not refused".into());
    }
    keep_screenshot(browser, "login")?;

    // Log in with the printed token.
    browser.type_into(&browser.find("#token")?, token)?;
    browser.click(&browser.find("#login")?)?;
    browser.wait_for("h1", long, |b, h1| Ok(b.text(h1)? == "Jobs"))?;
    keep_screenshot(browser, "jobs")?;

    // A bad value is refused under its field, and nothing starts.
    let audit = "#job-InteractionAuditOneOffJob";
    browser.type_into(&browser.find(&format!("{audit} input[name=shards]"))?, "0")?;
    browser.click(&browser.find(&format!("{audit} button[type=submit]"))?)?;
    let error = browser.wait_for(&format!("{audit} .field .error"), long, |_, _| Ok(true))?;
    if !browser.text(&error)?.contains("is not a shard count") {
        return Err("the bad shard count was not explained under its field".into());
    }
    keep_screenshot(browser, "jobs-bad-value")?;

    // Start the audit with its defaults and watch it complete.
    browser.goto(&format!("{base}/"))?;
    browser.click(&browser.find(&format!("{audit} button[type=submit]"))?)?;
    browser.wait_for("#status", long, status_is("completed"))?;
    let id = browser.url()?.rsplit('/').next().ok_or("no run id in the URL")?.to_owned();
    // Its output: a known line, as `jobs output` prints it.
    let stored = jobs_ok(store, &["output", &id]);
    let known = stored
        .lines()
        .find(|l| l.starts_with(r#"["EndExploration",["#))
        .ok_or("the audit's output has no EndExploration line")?;
    let prefix: String = known.chars().take(200).collect();
    browser.wait_for("#output li", long, |b, li| Ok(b.text(li)?.starts_with(&prefix)))?;
    keep_screenshot(browser, "run-completed")?;

    // A long run in a process of its own (`jobs run --detach`, as another user would start
    // it), watched live on its page and on the runs page, and canceled there. So that the
    // cancel cannot race the run's end, the run's process is paused while it reads, from
    // before the pages show it until its cancel is recorded: it can only end canceled.
    jobs_ok(store, &["seed", "--explorations", LARGE, "--users", "50"]);
    let detached = jobs_ok(store, &["run", "InteractionAuditOneOffJob", "--detach"]);
    let id = detached.trim().to_owned();
    let paused = Paused::when_reading(store, &id)?;
    browser.goto(&format!("{base}/runs/{id}"))?;
    browser.wait_for(".progress-line", long, |b, line| Ok(b.text(line)?.starts_with("mapping:")))?;
    keep_screenshot(browser, "run-live")?;
    browser.goto(&format!("{base}/runs"))?;
    browser.wait_for("#active-runs .progress-line", long, |b, line| Ok(b.text(line)?.starts_with("mapping:")))?;
    keep_screenshot(browser, "runs-live")?;
    // The list is redrawn as it refreshes: find the button again if it was replaced.
    let mut clicked = Err(String::new());
    for _ in 0..5 {
        let cancel = browser.wait_for("#active-runs button.danger", long, |_, _| Ok(true))?;
        clicked = browser.click(&cancel).map_err(|e| e.to_string());
        if clicked.is_ok() {
            break;
        }
    }
    clicked?;
    let log = RedbStore::open(store).map_err(|e| e.to_string())?;
    let run_id = RunId::parse(&id).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + long;
    while log.get_run(&run_id).map_err(|e| e.to_string())?.cancel_requested_ms.is_none() {
        if Instant::now() > deadline {
            return Err("the cancel clicked on the runs page was not recorded".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(log);
    paused.resume()?;
    browser.goto(&format!("{base}/runs/{id}"))?;
    browser.wait_for("#status", long, status_is("canceled"))?;
    keep_screenshot(browser, "run-canceled")?;

    // The runs page lists both, finished.
    browser.goto(&format!("{base}/runs"))?;
    browser.wait_for("#recent-runs", long, |b, table| {
        let text = b.text(table)?;
        Ok(text.contains("completed") && text.contains("canceled"))
    })?;
    keep_screenshot(browser, "runs")?;
    Ok(())
}

/// A run going when the server dies is recorded interrupted once a server is back.
fn restart(browser: &Session, server: Server, store: &Path) -> TestResult {
    let long = Duration::from_secs(90);
    let base = server.url.split("/login").next().unwrap_or_default().to_owned();
    browser.goto(&format!("{base}/"))?;
    let audit = "#job-InteractionAuditOneOffJob";
    browser.click(&browser.find(&format!("{audit} button[type=submit]"))?)?;
    browser.wait_for(".progress-line", long, |b, line| Ok(b.text(line)?.starts_with("mapping:")))?;
    let id = browser.url()?.rsplit('/').next().unwrap_or_default().to_owned();
    drop(server); // SIGKILL, mid-run

    let server = serve(store);
    // The login URL fills the token in; logging in is the form's POST, not the GET.
    browser.goto(&server.url)?;
    browser.wait_for("h1", long, |b, h1| Ok(b.text(h1)? == "Log in"))?;
    browser.click(&browser.find("#login")?)?;
    browser.wait_for("h1", long, |b, h1| Ok(b.text(h1)? == "Jobs"))?;
    browser.goto(&format!("{}/runs/{id}", server.url.split("/login").next().unwrap_or_default()))?;
    let status = browser.wait_for("#status", long, status_is("failed"))?;
    let line = browser.text(&browser.find("#live p")?)?;
    if !line.contains("stopped before it finished") {
        return Err(format!("the run is failed but not said to be interrupted: {line} ({status:?})"));
    }
    keep_screenshot(browser, "run-interrupted")
}
