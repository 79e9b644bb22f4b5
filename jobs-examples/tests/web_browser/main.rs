//! The admin page in a real browser: Debian's headless Chromium, driven through
//! `chromedriver`, against `jobs serve` on 127.0.0.1 over seeded demo data. It logs in with the
//! printed token, starts `InteractionAuditOneOffJob` from its form, watches it reach
//! `completed`, reads a known line of its output, sees a bad value refused under its field,
//! cancels a long run from the runs page, and sees a run that was going when the server was
//! killed recorded interrupted after a restart. It keeps a screenshot of each page under
//! `docs/screenshots/`.
//!
//! Without Chromium the test is skipped with a printed reason, unless `CI` is set (`.ci/run`
//! installs `chromium` and `chromium-driver`), where that is a failure.

mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use webdriver::{Driver, Element, Session};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WIDTH: u32 = 1280;
/// Explorations in the store for the run watched to completion, and then for the long run.
const SMALL: &str = "300";
/// Large enough that the long run is still mapping seconds after the page shows it, on an
/// idle machine too, so the cancel and the restart land mid-run.
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
fn the_admin_page_works_in_a_real_browser() {
    let (chromium, chromedriver) = (Path::new(CHROMIUM), Path::new(CHROMEDRIVER));
    if !chromium.exists() || !chromedriver.exists() {
        let reason = format!("{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        assert!(std::env::var_os("CI").is_none(), "CI must run the browser test, but {reason}");
        println!("skipped: {reason}");
        return;
    }
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

    // A long run: more data, started, watched live on the runs page, canceled there.
    jobs_ok(store, &["seed", "--explorations", LARGE, "--users", "50"]);
    browser.goto(&format!("{base}/"))?;
    browser.click(&browser.find(&format!("{audit} button[type=submit]"))?)?;
    browser.wait_for(".progress-line", long, |b, line| Ok(b.text(line)?.starts_with("mapping:")))?;
    keep_screenshot(browser, "run-live")?;
    browser.goto(&format!("{base}/runs"))?;
    browser.wait_for("#active-runs .progress-line", long, |b, line| Ok(b.text(line)?.starts_with("mapping:")))?;
    keep_screenshot(browser, "runs-live")?;
    let cancel = browser.wait_for("#active-runs button.danger", long, |_, _| Ok(true))?;
    browser.click(&cancel)?;
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
    browser.goto(&server.url)?;
    browser.wait_for("h1", long, |b, h1| Ok(b.text(h1)? == "Jobs"))?;
    browser.goto(&format!("{}/runs/{id}", server.url.split("/login").next().unwrap_or_default()))?;
    let status = browser.wait_for("#status", long, status_is("failed"))?;
    let line = browser.text(&browser.find("#live p")?)?;
    if !line.contains("stopped before it finished") {
        return Err(format!("the run is failed but not said to be interrupted: {line} ({status:?})"));
    }
    keep_screenshot(browser, "run-interrupted")
}
