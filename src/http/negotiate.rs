//! GraphQL over HTTP: the media type a response is sent as, chosen from the
//! request's `Accept`, and the status that goes with it.
//!
//! - `application/graphql-response+json`: a request that fails before
//!   execution (parse, validation, variable coercion, operation selection)
//!   gets 400 and no `data` entry; once execution starts, 200.
//! - `application/json` (also for `*/*`, and when `Accept` is missing): 200
//!   for every well-formed GraphQL request, as older clients expect.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

/// The media types a GraphQL response can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`.
    GraphqlResponse,
    /// `application/json`.
    Json,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

impl MediaType {
    /// The `Content-Type` header value of a response in this media type.
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }

    /// The media type the client prefers among those it accepts, or `None`
    /// when it accepts neither. Without `Accept`, JSON.
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(ranges) = accept_ranges(headers) else {
            return Some(MediaType::Json);
        };
        let weight = |media: &str| {
            ranges
                .iter()
                .filter(|range| range.matches(media))
                .max_by_key(|range| range.specificity)
                .map_or(0, |range| range.quality)
        };
        let (graphql, json) = (weight(GRAPHQL_RESPONSE), weight(JSON));
        // The newer type only when asked for at least as much by name:
        // `*/*` alone means JSON.
        let named = named_quality(&ranges, GRAPHQL_RESPONSE) > 0;
        match (graphql, json) {
            (0, 0) => None,
            (g, j) if g >= j && named => Some(MediaType::GraphqlResponse),
            (_, 0) => Some(MediaType::GraphqlResponse),
            _ => Some(MediaType::Json),
        }
    }

    /// The status of `response` in this media type, and whether its `data`
    /// entry is left out (a request error: nothing was executed).
    pub fn status_of(self, response: &async_graphql::Response) -> (StatusCode, bool) {
        match self {
            MediaType::GraphqlResponse if is_request_error(response) => {
                (StatusCode::BAD_REQUEST, true)
            }
            _ => (StatusCode::OK, false),
        }
    }
}

/// True when `Accept` names HTML at least as strongly as any JSON type: a
/// browser opening a link, not a client calling the API.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(ranges) = accept_ranges(headers) else {
        return false;
    };
    let html = named_quality(&ranges, "text/html");
    let json = named_quality(&ranges, GRAPHQL_RESPONSE).max(named_quality(&ranges, JSON));
    html > 0 && html >= json
}

/// The entries of `Accept`, or `None` when the header is missing.
fn accept_ranges(headers: &HeaderMap) -> Option<Vec<MediaRange>> {
    let mut accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .peekable();
    accept.peek()?;
    Some(
        accept
            .flat_map(|value| value.split(','))
            .filter_map(MediaRange::parse)
            .collect(),
    )
}

/// The quality `ranges` give `media` by its exact name (0 when not named).
fn named_quality(ranges: &[MediaRange], media: &str) -> u16 {
    ranges
        .iter()
        .filter(|range| range.specificity == 2 && range.matches(media))
        .map(|range| range.quality)
        .max()
        .unwrap_or(0)
}

/// True when the request failed before execution: no data, and no error
/// that belongs to a field.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|err| err.path.is_empty())
}

/// One entry of `Accept`: `type/subtype` with its quality, in thousandths.
#[derive(Debug)]
struct MediaRange {
    essence: String,
    quality: u16,
    /// 0 for `*/*`, 1 for `type/*`, 2 for `type/subtype`.
    specificity: u8,
}

impl MediaRange {
    /// Reads one entry; a charset other than UTF-8 makes it unusable (`None`).
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(';').map(str::trim);
        let essence = parts.next()?.to_ascii_lowercase();
        let (kind, subtype) = essence.split_once('/')?;
        let specificity = match (kind, subtype) {
            ("*", "*") => 0,
            (_, "*") => 1,
            _ => 2,
        };
        let mut quality = 1000;
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => quality = parse_quality(value)?,
                "charset" if !value.eq_ignore_ascii_case("utf-8") => return None,
                _ => {}
            }
        }
        Some(Self {
            essence,
            quality,
            specificity,
        })
    }

    fn matches(&self, media: &str) -> bool {
        match self.specificity {
            0 => true,
            1 => media.split('/').next() == self.essence.split('/').next(),
            _ => self.essence == media,
        }
    }
}

/// A `q` value (0 to 1, at most three decimals) in thousandths.
fn parse_quality(value: &str) -> Option<u16> {
    let quality: f32 = value.parse().ok()?;
    (0.0..=1.0)
        .contains(&quality)
        .then(|| (quality * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(accept: Option<&str>) -> Option<MediaType> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        MediaType::negotiate(&headers)
    }

    #[test]
    fn browsers_opening_a_link_prefer_html_and_api_clients_do_not() {
        let prefers = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            prefers_html(&headers)
        };
        assert!(prefers(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!prefers("*/*"));
        assert!(!prefers(
            "application/graphql-response+json, application/json"
        ));
        assert!(!prefers("application/json, text/html;q=0.5"));
        assert!(!prefers_html(&HeaderMap::new()));
    }

    #[test]
    fn the_client_s_preference_picks_the_media_type() {
        use MediaType::{GraphqlResponse as G, Json as J};
        for (accept, want) in [
            (None, Some(J)),
            (Some("*/*"), Some(J)),
            (Some("application/json"), Some(J)),
            (Some("application/graphql-response+json"), Some(G)),
            (
                Some("application/graphql-response+json, application/json"),
                Some(G),
            ),
            (
                Some("application/graphql-response+json,application/json;q=0.9"),
                Some(G),
            ),
            (
                Some("application/json, application/graphql-response+json;q=0.5"),
                Some(J),
            ),
            (Some("application/*"), Some(J)),
            (
                Some("application/graphql-response+json; charset=utf-8"),
                Some(G),
            ),
            (Some("application/json; charset=iso-8859-1"), None),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
        ] {
            assert_eq!(chosen(accept), want, "{accept:?}");
        }
    }
}
