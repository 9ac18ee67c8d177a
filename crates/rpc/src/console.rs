//! The web console: plain files from `console/` (no build step), embedded in the binary by
//! `build.rs` and served at `/` and `/console/…`.
//!
//! Every answer carries a Content-Security-Policy that allows scripts, styles and connections
//! from the node itself only and no inline script at all, and forbids framing (so another site
//! can neither inject script into the console nor overlay it).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The console's files: (path under `console/`, media type, ETag, contents).
static ASSETS: &[(&str, &str, &str, &[u8])] =
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(path: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static [u8])> {
    ASSETS.iter().find(|(name, ..)| *name == path)
}

/// For working on the console: with `CAIRN_CONSOLE_DIR` set, files are read from that
/// directory at each request instead of from the binary.
fn from_directory(dir: &str, path: &str) -> Response {
    let safe = !path.is_empty()
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'));
    let bytes = safe
        .then(|| std::fs::read(std::path::Path::new(dir).join(path)).ok())
        .flatten();
    let Some(bytes) = bytes else {
        return ApiError::not_found("not_found", "no such console file").into_response();
    };
    let media_type = match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    };
    let mut response = ([(header::CONTENT_TYPE, media_type)], bytes).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    protect(response.headers_mut());
    response
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if let Some(dir) = std::env::var_os("CAIRN_CONSOLE_DIR") {
        return from_directory(&dir.to_string_lossy(), path);
    }
    let Some((_, media_type, etag, bytes)) = asset(path) else {
        return ApiError::not_found("not_found", "no such console file").into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == *etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))],
            *bytes,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(etag));
    // Revalidated each time (a 304 when unchanged): a node upgraded serves its new console.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    protect(headers);
    response
}

/// The headers of every console page and file.
pub(crate) fn protect(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Whether a request for `/` comes from a browser (which asks for HTML first).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The console's page.
pub(crate) fn index(headers: &HeaderMap) -> Response {
    serve("index.html", headers)
}

/// `GET /console/{*path}`: a file of the console.
pub(crate) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_is_embedded_and_every_file_is_protected() {
        let index = asset("index.html").expect("index.html is embedded");
        let html = std::str::from_utf8(index.3).unwrap();
        assert!(
            html.contains("<script type=\"module\" src=\"/console/"),
            "{html}"
        );
        // No inline script anywhere: every <script> has a src, no handler attributes.
        for (name, media_type, _, bytes) in ASSETS {
            if media_type.starts_with("text/html") {
                let text = std::str::from_utf8(bytes).unwrap();
                for script in text.split("<script").skip(1) {
                    let tag = &script[..script.find('>').unwrap()];
                    assert!(tag.contains("src="), "{name}: an inline script");
                }
                assert!(!text.contains(" onclick="), "{name}: an inline handler");
            }
        }
        let response = serve("index.html", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
        // A second fetch with the ETag is answered 304.
        let etag = response.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            serve("index.html", &again).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            serve("../Cargo.toml", &again).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_console_directory_serves_nothing_outside_it() {
        let dir = tempfile::tempdir().unwrap();
        let console = dir.path().join("console");
        std::fs::create_dir_all(&console).unwrap();
        std::fs::write(console.join("app.js"), "export {};").unwrap();
        std::fs::write(console.join(".secret"), "x").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "x").unwrap();
        let root = console.to_string_lossy().to_string();
        assert_eq!(from_directory(&root, "app.js").status(), StatusCode::OK);
        for path in [
            "../outside.txt",
            "a/../../outside.txt",
            ".secret",
            "..\\outside.txt",
            "",
            "/etc/passwd",
        ] {
            assert_eq!(
                from_directory(&root, path).status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
}
