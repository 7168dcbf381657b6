//! Where a request may go: an API's URL prefix, and the normalisation a
//! request's URL goes through before it is compared with it.
//!
//! The comparison is on the normalised form, and the normalised form is what
//! is sent: scheme and host lower-cased, the default port made explicit,
//! dot-segments resolved. A path that hides a separator or a dot behind a
//! percent-escape (`%2f`, `%5c`, `%2e`), or holds a backslash, is refused
//! rather than guessed at: servers disagree on what those mean. The prefix
//! matches whole segments: `/api` covers `/api` and `/api/x`, not `/apix`.

use http::Uri;

/// An API's URL as the operator wrote it, checked: `http` or `https`, a
/// host, no user name, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    scheme: String,
    host: String,
    port: u16,
    /// The path prefix without its trailing slash (empty for the root).
    path: String,
    /// Whether the host is an IP address literal.
    ip_literal: bool,
}

/// A request's URL after normalisation, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `scheme://host:port`.
    pub origin: String,
    /// The normalised path.
    pub path: String,
    /// The query, without its `?`.
    pub query: Option<String>,
}

impl Target {
    /// The whole URL.
    pub fn url(&self) -> String {
        match &self.query {
            Some(q) => format!("{}{}?{q}", self.origin, self.path),
            None => format!("{}{}", self.origin, self.path),
        }
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl ApiUrl {
    /// Check the operator's `url`.
    pub fn parse(url: &str) -> Result<ApiUrl, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let scheme = parsed.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{url:?}: only http and https URLs can be granted"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "{url:?} holds a user name or password: credentials belong in `auth`, not the URL"
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(format!("{url:?} may not have a query or fragment"));
        }
        let (host, ip_literal) = match parsed.host() {
            Some(::url::Host::Domain(d)) => (d.to_ascii_lowercase(), false),
            Some(::url::Host::Ipv4(ip)) => (ip.to_string(), true),
            Some(::url::Host::Ipv6(ip)) => (format!("[{ip}]"), true),
            None => return Err(format!("{url:?} has no host")),
        };
        let path = parsed.path().trim_end_matches('/').to_owned();
        if has_hidden_separator(&path) {
            return Err(format!(
                "{url:?}: the path may not hold %2f, %5c, %2e or a backslash"
            ));
        }
        Ok(ApiUrl {
            port: parsed.port().unwrap_or_else(|| default_port(&scheme)),
            scheme,
            host,
            path,
            ip_literal,
        })
    }

    /// `scheme://host:port`.
    pub fn origin(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }

    /// The URL tools are given: the origin and the prefix, with a trailing
    /// slash.
    pub fn base(&self) -> String {
        if self.port == default_port(&self.scheme) {
            format!("{}://{}{}/", self.scheme, self.host, self.path)
        } else {
            format!("{}{}/", self.origin(), self.path)
        }
    }

    /// Whether the host is an IP address literal (the operator named the
    /// address itself, so no resolution rule applies).
    pub fn is_ip_literal(&self) -> bool {
        self.ip_literal
    }

    /// The host, lower-case (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The length of the path prefix: of two APIs covering a URL (same
    /// origin), the longer prefix is the more specific.
    pub fn prefix_len(&self) -> usize {
        self.path.len()
    }

    /// Whether `target` falls under this prefix.
    pub fn covers(&self, target: &Target) -> bool {
        target.origin == self.origin()
            && (self.path.is_empty()
                || target.path == self.path
                || target
                    .path
                    .strip_prefix(&self.path)
                    .is_some_and(|rest| rest.starts_with('/')))
    }
}

/// Normalise a request's URL, or say which rule it breaks.
pub fn normalise(uri: &Uri) -> Result<Target, String> {
    let scheme = uri
        .scheme_str()
        .ok_or("the URL has no scheme")?
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("scheme {scheme:?} is not http or https"));
    }
    let authority = uri.authority().ok_or("the URL has no host")?;
    if authority.as_str().contains('@') {
        return Err("a user name or password in the URL is refused".into());
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let port = authority
        .port_u16()
        .unwrap_or_else(|| default_port(&scheme));
    let raw_path = uri.path();
    if has_hidden_separator(raw_path) {
        return Err(
            "the path holds an encoded separator or dot (%2f, %5c, %2e) or a backslash".into(),
        );
    }
    let path = remove_dot_segments(raw_path)?;
    Ok(Target {
        origin: format!("{scheme}://{host}:{port}"),
        path,
        query: uri.query().map(str::to_owned),
    })
}

fn has_hidden_separator(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e") || path.contains('\\')
}

/// RFC 3986 section 5.2.4, refusing a path that climbs above the root
/// (which a lenient server would clamp, and a strict one reject).
fn remove_dot_segments(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Ok("/".into());
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing_slash = i == last,
            ".." => {
                if out.pop().is_none() {
                    return Err("the path climbs above the root with '..'".into());
                }
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut normal = String::with_capacity(path.len());
    for segment in &out {
        normal.push('/');
        normal.push_str(segment);
    }
    if trailing_slash || normal.is_empty() {
        normal.push('/');
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Result<Target, String> {
        normalise(&url.parse::<Uri>().map_err(|e| e.to_string())?)
    }

    fn covered(api: &str, url: &str) -> bool {
        let api = ApiUrl::parse(api).unwrap();
        target(url).is_ok_and(|t| api.covers(&t))
    }

    #[test]
    fn the_prefix_matches_whole_segments_on_the_same_origin() {
        let api = "https://app.example.com/api/";
        assert!(covered(api, "https://app.example.com/api"));
        assert!(covered(api, "https://app.example.com/api/"));
        assert!(covered(api, "https://APP.example.com:443/api/projects?x=1"));
        assert!(covered(api, "https://app.example.com/api/a/../b"));
        assert!(!covered(api, "https://app.example.com/apix"));
        assert!(!covered(api, "https://app.example.com/"));
        assert!(
            !covered(api, "http://app.example.com/api/x"),
            "another scheme"
        );
        assert!(
            !covered(api, "https://app.example.com:8443/api/x"),
            "another port"
        );
        assert!(!covered(api, "https://app.example.com.evil.test/api/x"));
        assert!(!covered(api, "https://evil.test/api/x"));
        assert!(covered(
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9/anything"
        ));
    }

    #[test]
    fn escapes_are_refused_not_guessed() {
        for url in [
            "https://app.example.com/api/..",
            "https://app.example.com/api/../admin",
            "https://app.example.com/api/x/../../admin",
            "https://app.example.com/api/%2e%2e/admin",
            "https://app.example.com/api/%2E./admin",
            "https://app.example.com/api%2fadmin",
            "https://app.example.com/api/%5c..%5cadmin",
            "https://user:pw@app.example.com/api/x",
            "https://app.example.com@evil.test/api/x",
            "ftp://app.example.com/api/x",
        ] {
            assert!(!covered("https://app.example.com/api/", url), "{url}");
        }
        assert!(
            target("https://a.test/../x")
                .unwrap_err()
                .contains("above the root")
        );
        assert!(
            target("https://a.test/a/%2e%2e/x")
                .unwrap_err()
                .contains("%2f")
        );
    }

    #[test]
    fn the_normal_form_is_what_is_sent() {
        let t = target("HTTP://App.Test/a/./b/../c/?q=1").unwrap();
        assert_eq!(t.origin, "http://app.test:80");
        assert_eq!(t.path, "/a/c/");
        assert_eq!(t.url(), "http://app.test:80/a/c/?q=1");
        assert_eq!(target("http://a.test").unwrap().path, "/");
        assert_eq!(target("http://a.test/x/.").unwrap().path, "/x/");
    }

    #[test]
    fn an_operator_url_is_checked() {
        assert!(ApiUrl::parse("https://u:p@app.test/").is_err());
        assert!(ApiUrl::parse("https://app.test/?q").is_err());
        assert!(ApiUrl::parse("file:///etc").is_err());
        assert!(ApiUrl::parse("app.test/api").is_err());
        let api = ApiUrl::parse("https://App.Test/api").unwrap();
        assert_eq!(api.base(), "https://app.test/api/");
        assert_eq!(
            ApiUrl::parse("http://a.test:81").unwrap().base(),
            "http://a.test:81/"
        );
        assert!(!api.is_ip_literal());
        assert!(
            ApiUrl::parse("http://127.0.0.1:5/")
                .unwrap()
                .is_ip_literal()
        );
        assert!(ApiUrl::parse("http://[::1]:5/").unwrap().is_ip_literal());
    }
}
