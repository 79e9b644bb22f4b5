//! A small WebDriver client: W3C WebDriver is HTTP with JSON bodies, so a few requests over a
//! plain socket (one connection per command) drive Chromium through `chromedriver` without an
//! async runtime or an HTTP client crate. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C WebDriver gives element references under.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error: the command, and what the driver said.
pub type Error = String;

/// `chromedriver`, started on a free port; killed when dropped.
pub struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    /// Starts `chromedriver` at `path` and waits (at most 20 s) until it answers.
    pub fn start(path: &Path) -> Result<Driver, Error> {
        let port = free_port()?;
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", path.display()))?;
        let driver = Driver { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, status)) = request(driver.addr, "GET", "/status", None)
                && status["value"]["ready"] == true
            {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready within 20 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new browser session with `browser` (the Chromium binary) and its arguments.
    pub fn session(&self, browser: &Path, args: &[String]) -> Result<Session, Error> {
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": browser.display().to_string(), "args": args },
            } }
        });
        let value = command(self.addr, "POST", "/session", Some(capabilities))?;
        let id = value["sessionId"].as_str().ok_or_else(|| format!("no session id in {value}"))?.to_owned();
        Ok(Session { addr: self.addr, id })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser, driven through the driver; closed when dropped.
pub struct Session {
    addr: SocketAddr,
    id: String,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        command(self.addr, method, &format!("/session/{}{path}", self.id), body)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) -> Result<(), Error> {
        self.call("POST", "/url", Some(json!({ "url": url }))).map(drop)
    }

    /// The current URL.
    pub fn url(&self) -> Result<String, Error> {
        Ok(self.call("GET", "/url", None)?.as_str().unwrap_or_default().to_owned())
    }

    /// The elements matching a CSS selector (none is not an error).
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, Error> {
        let value = self.call("POST", "/elements", Some(json!({ "using": "css selector", "value": css })))?;
        Ok(value
            .as_array()
            .map(|found| {
                found.iter().filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))).collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element, Error> {
        self.find_all(css)?.into_iter().next().ok_or_else(|| format!("no element matches `{css}`"))
    }

    /// Waits (at most `timeout`) until `css` matches an element for which `check` holds;
    /// retries on errors, such as an element replaced by a live update.
    pub fn wait_for(
        &self,
        css: &str,
        timeout: Duration,
        check: impl Fn(&Session, &Element) -> Result<bool, Error>,
    ) -> Result<Element, Error> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("nothing matched");
        loop {
            match self.find_all(css) {
                Ok(found) => {
                    for element in found {
                        match check(self, &element) {
                            Ok(true) => return Ok(element),
                            Ok(false) => last = format!("`{css}` matched, but not as expected"),
                            Err(error) => last = error,
                        }
                    }
                }
                Err(error) => last = error,
            }
            if Instant::now() > deadline {
                return Err(format!("waited {timeout:?} for `{css}`: {last}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks `element`.
    pub fn click(&self, element: &Element) -> Result<(), Error> {
        self.call("POST", &format!("/element/{}/click", element.0), Some(json!({}))).map(drop)
    }

    /// Clears `element` and types `text` into it.
    pub fn type_into(&self, element: &Element, text: &str) -> Result<(), Error> {
        self.call("POST", &format!("/element/{}/clear", element.0), Some(json!({})))?;
        self.call("POST", &format!("/element/{}/value", element.0), Some(json!({ "text": text }))).map(drop)
    }

    /// The element's rendered text.
    pub fn text(&self, element: &Element) -> Result<String, Error> {
        Ok(self.call("GET", &format!("/element/{}/text", element.0), None)?.as_str().unwrap_or_default().to_owned())
    }

    /// The element's attribute `name`, if set.
    pub fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, Error> {
        Ok(self.call("GET", &format!("/element/{}/attribute/{name}", element.0), None)?.as_str().map(str::to_owned))
    }

    /// Runs `script` in the page and returns its value.
    pub fn execute(&self, script: &str) -> Result<Value, Error> {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    /// A PNG of the whole page, `width` pixels wide, however tall it is (at most 6000 px), taken
    /// through chromedriver's DevTools bridge.
    pub fn screenshot(&self, width: u32) -> Result<Vec<u8>, Error> {
        let height =
            self.execute("return document.documentElement.scrollHeight;")?.as_u64().unwrap_or(900).clamp(200, 6000);
        let params = json!({
            "format": "png",
            "captureBeyondViewport": true,
            "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
        });
        let shot =
            self.call("POST", "/goog/cdp/execute", Some(json!({ "cmd": "Page.captureScreenshot", "params": params })))?;
        base64_decode(shot["data"].as_str().unwrap_or_default())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = request(self.addr, "DELETE", &format!("/session/{}", self.id), None);
    }
}

/// Sends a WebDriver command; returns its `value`, or the driver's error.
fn command(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
    let (status, mut reply) = request(addr, method, path, body)?;
    let value = reply["value"].take();
    if status == 200 {
        Ok(value)
    } else {
        Err(format!(
            "{method} {path}: {status} {}: {}",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default().lines().next().unwrap_or_default()
        ))
    }
}

/// One HTTP/1.1 request with a JSON body, on a connection of its own. The response is read
/// by its `Content-Length` (or chunks): chromedriver may keep the connection open.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value), Error> {
    let io = |e: std::io::Error| format!("{method} {path}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(io)?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(io)?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (head, body_start) = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break (String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase(), end + 4);
        }
        let n = stream.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return Err(format!("{method} {path}: the connection closed before the response's head"));
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: a bad status line"))?;
    let length =
        head.lines().find_map(|line| line.strip_prefix("content-length:")).and_then(|n| n.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked") || head.contains("transfer-encoding:chunked");
    loop {
        let received = &raw[body_start..];
        let complete = match length {
            Some(length) => received.len() >= length,
            None if chunked => received.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = stream.read(&mut chunk).map_err(io)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let received = String::from_utf8_lossy(&raw[body_start..]).into_owned();
    let payload = match length {
        Some(length) => received.get(..length).unwrap_or(&received).to_owned(),
        None if chunked => dechunk(&received),
        None => received,
    };
    let value = if payload.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&payload).map_err(|e| format!("{method} {path}: {e}: {payload}"))?
    };
    Ok((status, value))
}

/// The body of a chunked response.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Standard base64 (as WebDriver sends screenshots).
fn base64_decode(text: &str) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("`{}` is not base64", char::from(c))),
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(bytes)
}

#[test]
fn base64_decodes_what_it_should() {
    assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
    assert_eq!(base64_decode("YQ==").unwrap(), b"a");
    assert_eq!(base64_decode("").unwrap(), b"");
}
