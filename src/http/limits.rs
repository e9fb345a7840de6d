//! The HTTP side of abuse protection: who the client is, which limit applies, and the 429
//! answer with `Retry-After` and the IETF `RateLimit` / `RateLimit-Policy` headers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use super::error::ApiError;
use super::extract::bearer;
use super::state::AppState;
use crate::ratelimit::{
    ip_key, staff_key, Allowed, ClientKey, LimitedAction, RateLimited, SecretSlot,
};

/// Put into a response's extensions by handlers when the request was a failed guess (wrong
/// receipt, unknown API key, unknown session code); the middleware then counts it.
#[derive(Clone, Copy, Debug)]
pub struct AuthFailed;

/// Parses `TRUSTDESK_TRUSTED_PROXIES`.
pub fn parse_trusted(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("not an IP or CIDR: {p:?}"))
        })
        .collect()
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address in the forwarding headers that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; compare them as IPv4.
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
        v4 => v4,
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Entries as written, left to right; X-Forwarded-For if present, else Forwarded `for=`.
    let mut entries: Vec<String> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        if let Ok(v) = v.to_str() {
            entries.extend(v.split(',').map(|p| p.trim().to_owned()));
        }
    }
    if entries.is_empty() {
        for v in headers.get_all(header::FORWARDED) {
            if let Ok(v) = v.to_str() {
                for part in v.split([',', ';']) {
                    if let Some(f) = part.trim().strip_prefix("for=") {
                        entries.push(f.trim_matches('"').to_owned());
                    }
                }
            }
        }
    }
    // Walk from the right (what our proxies appended). The first entry we cannot read ends the
    // walk: anything left of it was written by the client and proves nothing.
    for e in entries.iter().rev() {
        let Some(ip) = parse_forwarded_ip(e) else {
            return peer;
        };
        if !is_trusted(&ip) {
            return ip;
        }
    }
    peer
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:4711`; IPv4-mapped IPv6 as IPv4.
fn parse_forwarded_ip(e: &str) -> Option<IpAddr> {
    let ip = e
        .parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            e.strip_prefix('[')?
                .split(']')
                .next()?
                .parse::<IpAddr>()
                .ok()
        })?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    })
}

/// Which limit a request falls under, and whether failed guesses lock it out.
fn classify(method: &Method, route: &str, staff: bool) -> Option<(LimitedAction, bool)> {
    Some(match (method.as_str(), route) {
        (
            _,
            "/healthz" | "/readyz" | "/metrics" | "/assets/style.css" | "/assets/console.js"
            | "/assets/report.js",
        ) => return None,
        // A wrong API key at console sign-in counts towards the lockout like any other.
        ("POST", "/console/login") => (LimitedAction::Public, true),
        ("POST", "/v1/verify" | "/verify") | ("GET", "/v/{token}") => (LimitedAction::Verify, true),
        // Tokens only (session codes are refused in batches), so no secret is guessed here.
        ("POST", "/v1/verify/batch") => (LimitedAction::VerifyBatch, false),
        (_, "/v1/channels/check" | "/check") => (LimitedAction::ChannelCheck, false),
        ("POST", "/v1/reports" | "/report") => (LimitedAction::ReportSubmit, false),
        ("GET", "/v1/reports/{id}") if !staff => (LimitedAction::ReportRead, true),
        // Receipt checks: a wrong receipt counts towards the lockout.
        (
            _,
            "/v1/reports/{id}/contact"
            | "/v1/reports/{id}/rating"
            | "/v1/reports/{id}/contact/confirm",
        ) => (LimitedAction::ReportRead, true),
        (_, "/r/{id}" | "/r/{id}/forget" | "/r/{id}/rate" | "/r/{id}/confirm") => {
            (LimitedAction::ReportRead, true)
        }
        // Publishing a policy checks the key; reading the list is public.
        ("POST", "/v1/policies") if staff => (LimitedAction::Staff, true),
        // The per-key staff budget only on routes that check the key: anywhere else a made-up
        // `Bearer tdk_…` would buy a fresh budget per invented key.
        _ if staff && is_staff_route(route) => (LimitedAction::Staff, true),
        _ => (LimitedAction::Public, false),
    })
}

fn is_staff_route(route: &str) -> bool {
    route.starts_with("/v1/sessions")
        || (route.starts_with("/v1/channels") && route != "/v1/channels/check")
        || route.starts_with("/v1/keys")
        || route.starts_with("/v1/escalations")
        || route == "/v1/audit"
        || route.starts_with("/v1/reports")
        || route == "/v1/escalation-rules"
        || route == "/v1/ratings"
        || route == "/v1/policies/{id}"
}

/// The limits' decision about a request, taken before it runs ([`admit`]) and applied to its
/// answer afterwards ([`Admitted::finish`]). Two plain functions rather than one wrapping future,
/// so the edge can run the request without boxing it (see `edge.rs`).
pub struct Admitted(Option<Counted>);

/// A request the limits counted: how to account for its answer.
struct Counted {
    guess_key: ClientKey,
    allowed: Option<(LimitedAction, Allowed)>,
    /// Held until the answer is ready: a client may have only a few secret checks in flight.
    _slot: Option<SecretSlot>,
}

/// Applies the rate limits before a request runs: `Err` when the client is over a limit or locked
/// out ([`limited`] is then its answer). `route` is the matched route template.
pub fn admit(s: &AppState, route: &str, req: &Request) -> Result<Admitted, RateLimited> {
    if !s.limiter.enabled() {
        return Ok(Admitted(None));
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = client_ip(peer, req.headers(), &s.trusted_proxies);
    let key_bearer = bearer(req.headers()).filter(|b| b.starts_with("tdk_"));
    // HEAD runs the GET handler (and its Content-Length tells the verdict): same class.
    let method = if req.method() == Method::HEAD {
        &Method::GET
    } else {
        req.method()
    };
    let Some((action, guards_secrets)) = classify(method, route, key_bearer.is_some()) else {
        return Ok(Admitted(None));
    };
    let ip_key: ClientKey = ip_key(ip);
    let guess_key = crate::ratelimit::guess_key(ip);
    // A client locked out for guessing gets nothing that checks a secret; and it may have only a
    // few such requests in flight, so parallel guesses cannot outrun the lockout.
    let slot = if guards_secrets || key_bearer.is_some() {
        s.limiter.check_lockout(&guess_key)?;
        Some(s.limiter.secret_slot(&guess_key)?)
    } else {
        None
    };
    let key = match (action, key_bearer) {
        (LimitedAction::Staff, Some(b)) => staff_key(b),
        _ => ip_key,
    };
    let allowed = s.limiter.check(action, &key)?;
    metrics::counter!("trustdesk_ratelimit_decisions_total", "class" => action.name(), "decision" => "allowed")
        .increment(1);
    Ok(Admitted(Some(Counted {
        guess_key,
        allowed: allowed.map(|a| (action, a)),
        _slot: slot,
    })))
}

impl Admitted {
    /// After the request ran: counts a failed guess, adds the `RateLimit` headers and frees the
    /// client's secret-check slot.
    pub fn finish(self, s: &AppState, resp: &mut Response) {
        let Some(c) = self.0 else {
            return;
        };
        if resp.extensions().get::<AuthFailed>().is_some() {
            s.limiter.record_failure(&c.guess_key);
        }
        if let Some((action, a)) = c.allowed {
            set_headers(resp.headers_mut(), action, &a);
        }
    }
}

fn set_headers(h: &mut HeaderMap, action: LimitedAction, a: &Allowed) {
    let policy = format!(
        "\"{}\";q={};w={}",
        action.name(),
        a.spec.burst,
        a.spec.window_secs()
    );
    let state = format!(
        "\"{}\";r={};t={}",
        action.name(),
        a.remaining,
        a.spec.period.as_secs().max(1)
    );
    if let (Ok(p), Ok(r)) = (
        HeaderValue::from_str(&policy),
        HeaderValue::from_str(&state),
    ) {
        h.insert("ratelimit-policy", p);
        h.insert("ratelimit", r);
    }
}

/// The 429 answer to a refused request, with `Retry-After` and the `RateLimit` headers.
pub fn limited(l: RateLimited) -> Response {
    metrics::counter!("trustdesk_ratelimit_decisions_total", "class" => l.action.name(), "decision" => "limited")
        .increment(1);
    // Round up: a client that waits exactly Retry-After must then be allowed.
    let secs = l.retry_after.as_millis().div_ceil(1000).max(1) as u64;
    let mut resp = ApiError::RateLimited {
        retry_after_secs: secs,
    }
    .into_response();
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    let policy = format!(
        "\"{}\";q={};w={}",
        l.action.name(),
        l.spec.burst,
        l.spec.window_secs()
    );
    if let Ok(p) = HeaderValue::from_str(&policy) {
        h.insert("ratelimit-policy", p);
    }
    if let Ok(r) = HeaderValue::from_str(&format!("\"{}\";r=0;t={secs}", l.action.name())) {
        h.insert("ratelimit", r);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_up_staff_key_does_not_change_the_class_of_a_public_route() {
        let get = Method::GET;
        assert_eq!(
            classify(&get, "/openapi.json", true),
            Some((LimitedAction::Public, false))
        );
        assert_eq!(
            classify(&get, "/.well-known/trustdesk-keys", true),
            Some((LimitedAction::Public, false))
        );
        assert_eq!(
            classify(&get, "/v1/escalations", true),
            Some((LimitedAction::Staff, true))
        );
        assert_eq!(
            classify(&get, "/v1/reports/{id}", false),
            Some((LimitedAction::ReportRead, true))
        );
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted = parse_trusted("10.0.0.0/8, 192.0.2.1").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.1.2.3".parse().unwrap());
        let from_proxy = client_ip("10.0.0.5".parse().unwrap(), &h, &trusted);
        assert_eq!(from_proxy, "203.0.113.9".parse::<IpAddr>().unwrap());
        let direct = client_ip("198.51.100.7".parse().unwrap(), &h, &trusted);
        assert_eq!(
            direct,
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "untrusted peer: header ignored"
        );
        let mut f = HeaderMap::new();
        f.insert(
            header::FORWARDED,
            "for=\"[2001:db8::1]:4711\";proto=https".parse().unwrap(),
        );
        assert_eq!(
            client_ip("192.0.2.1".parse().unwrap(), &f, &trusted),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert!(parse_trusted("nonsense").is_err());
        // A client-written entry that no proxy vouches for ends the walk.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.1.1.1, unknown, 10.0.0.9".parse().unwrap(),
        );
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &trusted), peer);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9:5555".parse().unwrap());
        assert_eq!(
            client_ip(peer, &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }
}
