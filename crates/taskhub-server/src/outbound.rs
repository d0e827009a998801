//! TaskHub's own outgoing HTTP requests: fetching a key set (`auth::keyset`), asking the
//! application's auth hook (`auth::hook`) and delivering webhooks (`webhook`). One
//! request per connection over HTTP/1.1, with a deadline over the whole exchange, a cap
//! on the answer's size, and no redirects followed (a 3xx is an answer like any other,
//! which the caller refuses).
//!
//! For key sets and the hook only `https://` URLs are accepted, or `http://` to a loopback
//! address ([`OutboundUrl::parse`]): an answer read over plain HTTP across a network could
//! be forged by anyone on the path, and both decide who gets in. Webhooks are signed and
//! their answers decide nothing, so they may use plain HTTP anywhere
//! ([`OutboundUrl::parse_any`]); instead, unless allowed, they may not reach a private,
//! loopback or link-local address ([`Reach::Public`]), checked on the addresses the name
//! resolves to when connecting, so a name that resolves inwards is refused too.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// An `https://` URL, or an `http://` one whose host is a loopback address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct OutboundUrl {
    uri: Uri,
    host: String,
    port: u16,
    tls: bool,
}

/// Why a URL cannot be used for an outgoing request.
#[derive(Debug, thiserror::Error)]
pub enum OutboundUrlError {
    #[error("{0:?} is not an absolute http(s) URL")]
    Malformed(String),
    #[error(
        "{0:?} is plain HTTP to a host that is not a loopback address: use https:// (plain \
         HTTP is accepted only on 127.0.0.1, ::1 or localhost)"
    )]
    PlainHttpOffLoopback(String),
    #[error("{0:?} carries credentials (user:password@); put them nowhere in the URL")]
    Credentials(String),
}

impl OutboundUrl {
    /// An `https://` URL, or an `http://` one to a loopback host.
    pub(crate) fn parse(text: &str) -> Result<Self, OutboundUrlError> {
        Self::parse_with(text, false)
    }

    /// An `https://` or `http://` URL to any host (webhooks: their bodies are signed).
    pub(crate) fn parse_any(text: &str) -> Result<Self, OutboundUrlError> {
        Self::parse_with(text, true)
    }

    fn parse_with(text: &str, plain_anywhere: bool) -> Result<Self, OutboundUrlError> {
        let malformed = || OutboundUrlError::Malformed(text.to_owned());
        let uri: Uri = text.parse().map_err(|_| malformed())?;
        let authority = uri.authority().ok_or_else(malformed)?;
        if authority.as_str().contains('@') {
            return Err(OutboundUrlError::Credentials(text.to_owned()));
        }
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(malformed()),
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(malformed());
        }
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !tls && !loopback && !plain_anywhere {
            return Err(OutboundUrlError::PlainHttpOffLoopback(text.to_owned()));
        }
        Ok(Self {
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            host: host.to_owned(),
            uri,
            tls,
        })
    }

    /// The origin (scheme, host, port): what a log line or an error may name, never
    /// the path or query, which can hold a secret.
    pub(crate) fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for OutboundUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.origin())
    }
}

/// One outgoing request.
#[derive(Debug)]
pub(crate) struct OutboundRequest<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a OutboundUrl,
    /// A JSON body (sent as `application/json`), if any.
    pub(crate) json: Option<Vec<u8>>,
    /// The whole exchange (connect, TLS, request, answer) must fit in this.
    pub(crate) timeout: Duration,
    /// Largest answer body read; a longer one is an error.
    pub(crate) max_body_bytes: usize,
    /// Headers sent besides `host`, `user-agent`, `connection` and the body's.
    pub(crate) headers: HeaderMap,
    /// Which addresses the request may connect to.
    pub(crate) reach: Reach,
}

/// Which addresses an outgoing request may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Any address the URL's host resolves to.
    Any,
    /// Only public ones: not loopback, private, link-local, shared (CGNAT), unspecified,
    /// multicast or broadcast, in IPv4 or IPv6 (IPv4-mapped ones judged as IPv4).
    Public,
}

impl Reach {
    fn allows(self, ip: IpAddr) -> bool {
        self == Self::Any || is_public(ip)
    }
}

/// Whether an address is on the public internet (see [`Reach::Public`]).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub(crate) struct OutboundResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why an outgoing request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutboundError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the answer is over {0} bytes")]
    TooLarge(usize),
    #[error("cannot read the answer: {0}")]
    Body(String),
    #[error("the host name is not valid for TLS")]
    ServerName,
    #[error(
        "{0} is a private, loopback or link-local address, which webhooks may not reach \
         without --webhook-allow-private"
    )]
    PrivateAddress(IpAddr),
}

/// Sends `request` and reads its answer, within its deadline.
pub(crate) async fn send(request: OutboundRequest<'_>) -> Result<OutboundResponse, OutboundError> {
    let timeout = request.timeout;
    tokio::time::timeout(timeout, exchange(request))
        .await
        .map_err(|_| OutboundError::Timeout(timeout))?
}

async fn exchange(request: OutboundRequest<'_>) -> Result<OutboundResponse, OutboundError> {
    let url = request.url;
    let tcp = connect(url, request.reach).await?;
    // Small requests and answers: send each as soon as it is written.
    let _ = tcp.set_nodelay(true);
    if url.tls {
        let name = ServerName::try_from(url.host.clone()).map_err(|_| OutboundError::ServerName)?;
        let stream = TlsConnector::from(client_config())
            .connect(name, tcp)
            .await
            .map_err(OutboundError::Tls)?;
        over(stream, request).await
    } else {
        over(tcp, request).await
    }
}

/// Connects to the first address the host resolves to that `reach` allows, trying the
/// next on failure; refuses when every address is out of reach.
async fn connect(url: &OutboundUrl, reach: Reach) -> Result<TcpStream, OutboundError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(OutboundError::Connect)?
        .collect();
    let mut last = None;
    for address in &addresses {
        if !reach.allows(address.ip()) {
            last = Some(OutboundError::PrivateAddress(address.ip()));
            continue;
        }
        match TcpStream::connect(address).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(OutboundError::Connect(e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        OutboundError::Connect(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} resolves to no address", url.host),
        ))
    }))
}

async fn over<IO>(io: IO, request: OutboundRequest<'_>) -> Result<OutboundResponse, OutboundError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    // The connection's driver ends with the exchange (the request says `close`), or
    // with this task's future when the deadline drops it.
    let driver = tokio::spawn(connection);
    let url = request.url;
    let path = url
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let host = match url.uri.port_u16() {
        Some(port) => format!("{}:{port}", url.uri.host().unwrap_or(&url.host)),
        None => url.uri.host().unwrap_or(&url.host).to_owned(),
    };
    let mut builder = Request::builder()
        .method(request.method)
        .uri(path)
        .header(HOST, host)
        .header(USER_AGENT, concat!("taskhub/", env!("CARGO_PKG_VERSION")))
        .header("connection", "close");
    if let Some(headers) = builder.headers_mut() {
        headers.extend(request.headers);
    }
    let body = match request.json {
        Some(json) => {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(CONTENT_LENGTH, json.len());
            Full::new(Bytes::from(json))
        }
        None => Full::new(Bytes::new()),
    };
    let outgoing = builder
        .body(body)
        .map_err(|e| OutboundError::Body(e.to_string()))?;
    let answer = sender.send_request(outgoing).await;
    let result = match answer {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let limit = request.max_body_bytes;
            match Limited::new(body, limit).collect().await {
                Ok(collected) => Ok(OutboundResponse {
                    status: parts.status,
                    headers: parts.headers,
                    body: collected.to_bytes(),
                }),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    Err(OutboundError::TooLarge(limit))
                }
                Err(e) => Err(OutboundError::Body(e.to_string())),
            }
        }
        Err(e) => Err(OutboundError::Http(e)),
    };
    driver.abort();
    result
}

/// The TLS settings of every outgoing request: the system's trust anchors (and
/// `SSL_CERT_FILE`'s), read once.
fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "cannot read a system trust anchor");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::warn!(ignored, "system trust anchors that rustls cannot use");
        }
        if added == 0 {
            tracing::warn!("no system trust anchors: no HTTPS key set or hook will verify");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
        // The ring provider supports the default versions; there is no other outcome.
        Arc::new(config.unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3")))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_plain_http_only_on_loopback() {
        assert!(OutboundUrl::parse("https://idp.example.com/certs").is_ok());
        assert!(OutboundUrl::parse("http://127.0.0.1:8080/jwks").is_ok());
        assert!(OutboundUrl::parse("http://[::1]:8080/jwks").is_ok());
        assert!(OutboundUrl::parse("http://localhost/jwks").is_ok());
        assert!(matches!(
            OutboundUrl::parse("http://idp.example.com/certs"),
            Err(OutboundUrlError::PlainHttpOffLoopback(_))
        ));
        assert!(matches!(
            OutboundUrl::parse("http://10.0.0.1/certs"),
            Err(OutboundUrlError::PlainHttpOffLoopback(_))
        ));
        assert!(matches!(
            OutboundUrl::parse("https://user:pw@idp.example.com/certs"),
            Err(OutboundUrlError::Credentials(_))
        ));
        assert!(matches!(
            OutboundUrl::parse("ftp://idp.example.com/certs"),
            Err(OutboundUrlError::Malformed(_))
        ));
        assert!(matches!(
            OutboundUrl::parse("/certs"),
            Err(OutboundUrlError::Malformed(_))
        ));
    }

    #[test]
    fn plain_http_anywhere_only_when_asked() {
        assert!(OutboundUrl::parse_any("http://hooks.example.com/in").is_ok());
        assert!(OutboundUrl::parse_any("https://hooks.example.com/in").is_ok());
        assert!(matches!(
            OutboundUrl::parse_any("https://user:pw@hooks.example.com/in"),
            Err(OutboundUrlError::Credentials(_))
        ));
        assert!(matches!(
            OutboundUrl::parse_any("ftp://hooks.example.com/in"),
            Err(OutboundUrlError::Malformed(_))
        ));
    }

    #[test]
    fn only_public_addresses_are_public() {
        let public = |text: &str| is_public(text.parse().expect("an address"));
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!public(inside), "{inside} is not public");
        }
        for outside in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(outside), "{outside} is public");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
        let url = OutboundUrl::parse_any("http://localhost:9/").expect("url");
        let refused = connect(&url, Reach::Public).await.expect_err("refused");
        assert!(
            matches!(refused, OutboundError::PrivateAddress(_)),
            "{refused}"
        );
    }

    #[test]
    fn the_origin_leaves_out_path_and_query() {
        let url = OutboundUrl::parse("https://idp.example.com/hook?secret=1").expect("url");
        assert_eq!(url.origin(), "https://idp.example.com:443");
    }
}
