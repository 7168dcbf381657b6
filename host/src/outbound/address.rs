//! Which addresses a DNS name may lead to.
//!
//! A name in an API's URL is resolved by the host, and the addresses that are
//! not public ([`crate::net::is_public`]: loopback, private, link-local,
//! unspecified and the rest) are dropped unless the API allows private
//! addresses. The connection goes to one of the addresses that passed: the
//! resolver hands only those to the HTTP client, so a second resolution
//! (DNS rebinding) cannot slip another address in.

use crate::net::is_public;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Resolves names and lets through only the addresses an API may reach.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` (port 0).
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// The system's resolver (`getaddrinfo` on a blocking thread).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Why a name led nowhere the API may go.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to addresses that are not public ({addresses}); set allow_private = true on the API to reach them"
)]
pub struct PrivateAddress {
    host: String,
    addresses: String,
}

/// The HTTP client's resolver for one API.
pub(crate) struct CheckedResolver {
    pub(crate) inner: Arc<dyn Resolver>,
    pub(crate) allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (inner, allow_private) = (self.inner.clone(), self.allow_private);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = inner.lookup(&host).await?;
            let (good, bad): (Vec<IpAddr>, Vec<IpAddr>) = found
                .into_iter()
                .partition(|ip| allow_private || is_public(*ip));
            if good.is_empty() {
                let addresses = bad
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(PrivateAddress { host, addresses }) as _);
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(good.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve as _;

    /// A resolver the test controls: every name has the given addresses.
    struct Fixed(Vec<IpAddr>);

    impl Resolver for Fixed {
        fn lookup(
            &self,
            _: &str,
        ) -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
            let ips = self.0.clone();
            Box::pin(async move { Ok(ips) })
        }
    }

    fn resolve(ips: &[&str], allow_private: bool) -> Result<Vec<IpAddr>, String> {
        let resolver = CheckedResolver {
            inner: Arc::new(Fixed(ips.iter().map(|i| i.parse().unwrap()).collect())),
            allow_private,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(resolver.resolve("app.test".parse().unwrap()))
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn only_public_addresses_are_handed_to_the_client() {
        let err = resolve(&["127.0.0.1", "10.0.0.7"], false).unwrap_err();
        assert!(
            err.contains("app.test resolves only to addresses that are not public"),
            "{err}"
        );
        assert!(
            err.contains("127.0.0.1, 10.0.0.7") && err.contains("allow_private"),
            "{err}"
        );
        // A mix: the private one is dropped, so it can never be connected to.
        assert_eq!(
            resolve(&["10.0.0.7", "93.184.215.14"], false).unwrap(),
            vec!["93.184.215.14".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(resolve(&["127.0.0.1"], true).unwrap().len(), 1);
    }
}
