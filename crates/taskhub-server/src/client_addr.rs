//! The client's address, for rate limits: the socket's peer, unless that peer is a
//! proxy listed in `--trusted-proxies`, whose `X-Forwarded-For` is then believed.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` header may be believed. Shared, since every
/// rate-limited request takes a copy.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the right (the entry
    /// the nearest proxy added), the first address that is not a trusted proxy.
    pub(crate) fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = forwarded_for
            .iter()
            .flat_map(|header| header.split(','))
            .rev()
            .map(|hop| hop.trim().parse::<IpAddr>());
        for hop in hops {
            match hop {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // A garbled entry ends what can be believed.
                Err(_) => break,
            }
        }
        client
    }
}

/// The address a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(
            TrustedProxies::from_ref(state).client(peer, &forwarded),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn believes_forwarded_for_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("net")]);
        // Not a proxy: its header is ignored.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &["1.2.3.4"]),
            ip("203.0.113.9")
        );
        // One trusted proxy: the rightmost entry is the client.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["6.6.6.6, 1.2.3.4"]),
            ip("1.2.3.4")
        );
        // Chained trusted proxies are skipped.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["1.2.3.4, 10.0.0.2"]),
            ip("1.2.3.4")
        );
        // Several headers count as one list.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["6.6.6.6", "1.2.3.4"]),
            ip("1.2.3.4")
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
        assert_eq!(proxies.client(ip("10.0.0.1"), &["junk"]), ip("10.0.0.1"));
    }
}
