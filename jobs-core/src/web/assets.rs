//! The page's stylesheet and script: small static strings served from `/assets/`, so the
//! Content-Security-Policy can forbid inline scripts and styles altogether. No build step.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The stylesheet, `/assets/app.css`.
pub(crate) const CSS: &str = r#"
:root {
  --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --bg: #f6f8fa; --accent: #0969da;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { background: #24292f; color: #fff; display: flex; align-items: center; gap: 28px; padding: 0 24px; height: 52px; }
header.top .brand { font-weight: 600; font-size: 16px; color: #fff; }
header.top nav { display: flex; gap: 18px; align-self: stretch; }
header.top nav a { color: #d0d7de; display: flex; align-items: center; border-bottom: 2px solid transparent; }
header.top nav a.active { color: #fff; border-bottom-color: #fd8c73; }
header.top nav a:hover { color: #fff; text-decoration: none; }
header.top .store { margin-left: auto; color: #8c959f; font-family: var(--mono); font-size: 12px; }
header.top form { margin: 0; }
header.top button { background: transparent; color: #d0d7de; border-color: #57606a; font-weight: 400; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; font-weight: 600; }
h2 { font-size: 16px; margin: 0 0 8px; font-weight: 600; }
h1 + .sub, .sub { color: var(--muted); margin: 0 0 20px; }
section { margin-bottom: 28px; }
.card { background: #fff; border: 1px solid var(--border); border-radius: 8px; padding: 16px 18px; }
.status-card { margin-bottom: 16px; }
.jobs { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 16px; }
.jobs > section { margin: 0; }
.job { display: flex; flex-direction: column; }
.job h2 { font-family: var(--mono); font-size: 15px; overflow-wrap: anywhere; }
.job .meta { color: var(--muted); font-size: 12px; margin-bottom: 8px; }
.job .description { margin: 0 0 8px; }
.job details.more { margin-bottom: 10px; }
.job details.more > summary { margin: 0 0 6px; }
.job form { margin-top: auto; border-top: 1px solid var(--border); padding-top: 12px; display: flex; flex-wrap: wrap; gap: 4px 20px; align-items: flex-end; }
.field { display: flex; flex-direction: column; gap: 2px; margin-bottom: 8px; min-width: 180px; }
.field label { font-weight: 600; font-size: 13px; }
.field label code { font-weight: 600; }
.field .hint { color: var(--muted); font-size: 12px; }
.field .error { color: var(--bad); font-size: 12px; font-weight: 600; }
.check { display: flex; gap: 6px; align-items: center; margin-bottom: 12px; }
.actions { margin-left: auto; margin-bottom: 8px; }
input[type=text], input[type=password], select { font: inherit; padding: 5px 8px; border: 1px solid var(--border); border-radius: 6px; background: #fff; width: 200px; }
input.invalid, select.invalid { border-color: var(--bad); box-shadow: 0 0 0 2px #ffebe9; }
button { font: inherit; padding: 5px 14px; border-radius: 6px; border: 1px solid rgba(31, 35, 40, .15); background: #1f883d; color: #fff; font-weight: 600; cursor: pointer; }
button:hover { filter: brightness(1.05); }
button.danger { background: #fff; color: var(--bad); border-color: var(--border); }
button.danger:hover { background: var(--bad); color: #fff; }
.button { display: inline-block; padding: 5px 14px; border-radius: 6px; border: 1px solid var(--border); background: #fff; font-weight: 600; }
.notice { padding: 8px 12px; border-radius: 6px; margin: 0 0 12px; border: 1px solid; }
.notice.warning { background: #fff8c5; border-color: #eed888; color: #4d2d00; }
.notice.error { background: #ffebe9; border-color: #ffcecb; color: #82071e; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--border); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #eaeef2; vertical-align: middle; }
tr:last-child td { border-bottom: none; }
th { font-weight: 600; color: var(--muted); font-size: 12px; background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td form { margin: 0; }
.mono, code { font-family: var(--mono); font-size: 12px; }
.id { font-family: var(--mono); font-size: 12px; white-space: nowrap; }
.muted { color: var(--muted); }
.bad { color: var(--bad); }
.empty { color: var(--muted); background: #fff; border: 1px dashed var(--border); border-radius: 8px; padding: 14px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid; line-height: 20px; }
.status-completed { color: var(--ok); background: #dafbe1; border-color: #aceebb; }
.status-failed { color: var(--bad); background: #ffebe9; border-color: #ffcecb; }
.status-canceled { color: var(--muted); background: #eaeef2; border-color: #d0d7de; }
.status-started { color: var(--accent); background: #ddf4ff; border-color: #b6e3ff; }
.status-queued, .status-new { color: var(--warn); background: #fff8c5; border-color: #eed888; }
progress { width: 100%; min-width: 160px; height: 10px; appearance: none; -webkit-appearance: none; border: none; border-radius: 5px; background: #eaeef2; overflow: hidden; display: block; }
progress::-webkit-progress-bar { background: #eaeef2; border-radius: 5px; }
progress::-webkit-progress-value { background: var(--accent); border-radius: 5px; }
progress::-moz-progress-bar { background: var(--accent); }
progress.done::-webkit-progress-value { background: var(--ok); }
progress.done::-moz-progress-bar { background: var(--ok); }
.progress-line { font-size: 12px; color: var(--muted); margin-top: 3px; white-space: nowrap; }
details > summary { cursor: pointer; color: var(--accent); font-size: 12px; margin-top: 4px; }
.shards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px 16px; margin-top: 8px; }
.shard { font-size: 11px; color: var(--muted); font-variant-numeric: tabular-nums; }
.shard progress { height: 6px; min-width: 0; margin-bottom: 2px; }
.shard-kind { font-size: 12px; font-weight: 600; margin-top: 8px; }
.grid2 { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(300px, 1fr); gap: 16px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.output { font-family: var(--mono); font-size: 12px; background: #fff; border: 1px solid var(--border); border-radius: 8px; max-height: 70vh; overflow: auto; margin: 0; padding: 4px 0; list-style: none; counter-reset: line; }
.output li { counter-increment: line; padding: 2px 12px 2px 60px; position: relative; white-space: pre-wrap; overflow-wrap: anywhere; border-bottom: 1px solid #f3f4f6; }
.output li::before { content: counter(line); position: absolute; left: 0; width: 46px; text-align: right; color: #8c959f; }
.output details > summary { color: inherit; font-size: inherit; margin: 0; list-style: none; }
.output details > summary::-webkit-details-marker { display: none; }
.output .more { color: var(--accent); white-space: nowrap; }
.output details[open] .more { display: none; }
.failures li { margin-bottom: 4px; }
.actions-row { display: flex; gap: 10px; margin: 12px 0 16px; }
.actions-row form { margin: 0; }
#live { margin-bottom: 16px; }
#live p { margin: 0 0 10px; }
.grid2 .card { margin-bottom: 16px; }
.card h2 { margin-bottom: 10px; }
.login { max-width: 420px; margin: 12vh auto 0; }
.login h1 { margin-bottom: 12px; }
.login form { display: flex; gap: 8px; }
.login input { flex: 1; width: auto; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 24px; }
@media (max-width: 720px) { .grid2 { grid-template-columns: 1fr; } .jobs { grid-template-columns: 1fr; } }
"#;

/// The script, `/assets/app.js`: live updates by polling HTML fragments.
pub(crate) const JS: &str = r#""use strict";
// Live updates for the admin page. Every element with data-live="URL" is re-rendered from the
// HTML fragment at URL every second while the page is visible (the server renders and escapes
// it, exactly as the full page). Open <details> keep their state across updates. An element
// that also has data-reload-when-finished reloads the whole page once its fragment says the
// run has finished, to show the output.
(function () {
  const PERIOD_MS = 1000;
  const last = new WeakMap();
  let busy = false;

  async function refresh(element) {
    const response = await fetch(element.dataset.live, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      window.location.reload();
      return;
    }
    if (!response.ok) {
      return;
    }
    const html = await response.text();
    if (last.get(element) === html) {
      return;
    }
    last.set(element, html);
    const open = Array.from(element.querySelectorAll("details[id][open]"), (d) => d.id);
    element.innerHTML = html;
    for (const id of open) {
      const details = document.getElementById(id);
      if (details) {
        details.open = true;
      }
    }
    if ("reloadWhenFinished" in element.dataset && element.querySelector("[data-finished]")) {
      window.location.reload();
    }
  }

  async function tick() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    try {
      await Promise.all(Array.from(document.querySelectorAll("[data-live]"), refresh));
    } catch (error) {
      // The server may be restarting: try again at the next tick.
    } finally {
      busy = false;
    }
  }

  window.setInterval(tick, PERIOD_MS);
})();
"#;

/// `GET /assets/app.css`.
pub(crate) async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

/// `GET /assets/app.js`.
pub(crate) async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
