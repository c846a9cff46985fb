//! Cross-origin access for browser apps served from other origins
//! (`CORS_ORIGINS`). Without the setting no CORS header is sent, so browsers
//! keep other origins out, as before.
//!
//! Only the listed origins get an answer, each exactly as browsers send it.
//! Credentials (cookies) are never allowed: clients authenticate with a bearer
//! token in `Authorization`, which a preflight must allow explicitly. The
//! content-type check on POST /graphql stays as it is, so a page that is not
//! listed still cannot write through a simple (unpreflighted) request.

use std::{str::FromStr, time::Duration};

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::request_id::REQUEST_ID;

/// How long a browser may reuse a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The origins that browsers may call from, as `scheme://host[:port]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<HeaderValue>);

impl FromStr for CorsOrigins {
    type Err = String;

    /// Reads a comma-separated list of exact origins; an empty list means none.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut origins = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let origin = origin_of(item)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins))
    }
}

/// `item` as the `Origin` header a browser on it sends: lower case, without
/// the scheme's default port, or why it is not an origin.
fn origin_of(item: &str) -> Result<HeaderValue, String> {
    let refuse = |why: &str| {
        Err(format!(
            "{item:?} is not an origin: {why}; give exact origins such as \
             https://app.example.com or http://localhost:5173, separated by commas"
        ))
    };
    if item == "*" {
        return refuse("any origin (*) is not allowed");
    }
    let lower = item.to_ascii_lowercase();
    let Some((scheme, authority)) = lower.split_once("://") else {
        return refuse("it has no scheme");
    };
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return refuse("the scheme must be http or https"),
    };
    if authority.is_empty() {
        return refuse("it has no host");
    }
    if authority.contains(['/', '?', '#', '@', '*']) || authority.chars().any(char::is_whitespace) {
        return refuse("an origin has only a scheme, a host and a port (no path, not even /)");
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    HeaderValue::from_str(&format!("{scheme}://{authority}"))
        .or_else(|_| refuse("it has characters a header cannot carry"))
}

impl CorsOrigins {
    /// Whether a browser page at `origin` may open a WebSocket here: a page
    /// of this server itself (the origin's host is the request's `Host`), or
    /// one of the listed origins. Browsers apply no CORS to WebSockets, so
    /// without this any site a user visits could use their local server.
    pub fn allows_socket_from(&self, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
        let Ok(text) = origin.to_str() else {
            return false;
        };
        let authority = text.split_once("://").map(|(_, rest)| rest);
        let same_origin = host
            .and_then(|host| host.to_str().ok())
            .zip(authority)
            .is_some_and(|(host, authority)| host.eq_ignore_ascii_case(authority));
        same_origin || origin_of(text).is_ok_and(|normalized| self.0.contains(&normalized))
    }

    /// The layer answering preflights and adding CORS headers for these
    /// origins, or `None` when there are none.
    pub fn layer(&self) -> Option<CorsLayer> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.0.clone()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, REQUEST_ID])
                .expose_headers([REQUEST_ID])
                .max_age(PREFLIGHT_MAX_AGE),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<String> {
        let origins: CorsOrigins = text.parse().unwrap();
        origins
            .0
            .iter()
            .map(|o| o.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn origins_are_read_as_browsers_send_them() {
        assert_eq!(
            parsed(" https://App.example.com , http://localhost:5173,https://x.org:443,"),
            [
                "https://app.example.com",
                "http://localhost:5173",
                "https://x.org"
            ]
        );
        assert!(parsed("").is_empty());
    }

    #[test]
    fn anything_but_an_exact_origin_is_refused_with_the_reason() {
        for (text, why) in [
            ("*", "any origin"),
            ("app.example.com", "no scheme"),
            ("ftp://x.org", "http or https"),
            ("https://x.org/", "no path"),
            ("https://", "no host"),
            ("https://*.x.org", "no path"),
        ] {
            let err = text.parse::<CorsOrigins>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
