//! The router: which path goes to which handler, and the middleware in front of them.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};

use super::state::AppState;
use super::{api, assets, auth, pages};

/// What the browser may load and do: only this server's own script, styles and requests; no
/// inline script or style, no framing, no forms to elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every route. Everything but `/login` and `/assets/*` needs the admin token (see
/// [`auth`](super::auth)), including the fallback, so an unknown path says 404 only to a
/// logged-in caller.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/", get(pages::jobs))
        .route("/jobs/{name}/start", post(pages::start))
        .route("/runs", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/cancel", post(pages::cancel))
        .route("/runs/{id}/output.txt", get(pages::download))
        .route("/live/runs", get(pages::runs_live))
        .route("/live/runs/{id}", get(pages::run_live))
        .route("/logout", post(pages::logout))
        .route("/api/jobs", get(api::jobs))
        .route("/api/jobs/{name}/runs", post(api::start))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{id}", get(api::run))
        .route("/api/runs/{id}/output", get(api::output))
        .route("/api/runs/{id}/cancel", post(api::cancel))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state.auth), auth::require_auth));
    Router::new()
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/assets/app.css", get(assets::css))
        .route("/assets/app.js", get(assets::js))
        .merge(protected)
        .with_state(state)
        .layer(middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
