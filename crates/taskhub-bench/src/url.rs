//! The few URLs the benchmark speaks to: `http://HOST:PORT/path?query`, on this machine.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::error::BenchError;

/// A parsed `http://` URL with an IPv4 host (or `localhost`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub addr: SocketAddr,
    /// What goes on the request line: path and query, at least `/`.
    pub target: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<Self, BenchError> {
        let bad = |reason| BenchError::Url {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// is supported"))?;
        let (authority, target) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| bad("bad port"))?),
            None => (authority, 80),
        };
        let ip = if host == "localhost" {
            Ipv4Addr::LOCALHOST
        } else {
            host.parse()
                .map_err(|_| bad("the host must be an IPv4 address or localhost"))?
        };
        Ok(Self {
            addr: SocketAddr::V4(SocketAddrV4::new(ip, port)),
            target: target.to_owned(),
        })
    }

    /// The same server, another path.
    pub fn with_target(&self, target: impl Into<String>) -> Self {
        Self {
            addr: self.addr,
            target: target.into(),
        }
    }

    /// The `Host` header's value.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.addr, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_peers_use() {
        let url = HttpUrl::parse("http://127.0.0.1:8002/pub?channel=bench").expect("valid");
        assert_eq!(url.addr, "127.0.0.1:8002".parse().expect("addr"));
        assert_eq!(url.target, "/pub?channel=bench");
        let url = HttpUrl::parse("http://localhost:5561").expect("valid");
        assert_eq!(url.target, "/");
        assert_eq!(url.to_string(), "http://127.0.0.1:5561/");
        assert!(HttpUrl::parse("https://127.0.0.1/").is_err());
        assert!(HttpUrl::parse("http://example.com/").is_err());
        assert!(HttpUrl::parse("http://127.0.0.1:x/").is_err());
    }
}
