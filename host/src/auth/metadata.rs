//! What the host publishes about its authentication: the Protected Resource
//! Metadata document and the `WWW-Authenticate` challenge; and what it reads
//! of an issuer's: its metadata.

use super::{AuthConfigError, AuthError, Authenticator, http_client};
use serde_json::Value;

impl Authenticator {
    /// The Protected Resource Metadata document (RFC 9728).
    pub fn resource_metadata(&self) -> Value {
        let s = &self.settings;
        let mut doc = serde_json::json!({
            "resource": s.resource,
            "bearer_methods_supported": ["header"],
            "resource_name": "toolhost",
        });
        if !s.authorization_servers.is_empty() {
            doc["authorization_servers"] = serde_json::json!(s.authorization_servers);
        }
        // An empty list would make clients ask for no scope at all, which
        // authorization servers refuse; absent, they use the server's list.
        if !s.scopes_supported.is_empty() {
            doc["scopes_supported"] = serde_json::json!(s.scopes_supported);
        }
        doc
    }

    /// The `WWW-Authenticate` value for a rejection (RFC 6750 / RFC 9728).
    pub fn challenge(&self, error: &AuthError) -> String {
        let s = &self.settings;
        let mut value = format!("Bearer resource_metadata=\"{}\"", s.resource_metadata_url);
        let scope = match error {
            AuthError::InsufficientScope(needed) => needed.join(" "),
            _ => s.scopes_supported.join(" "),
        };
        if !scope.is_empty() {
            value.push_str(&format!(", scope=\"{}\"", quoted(&scope)));
        }
        match error {
            AuthError::Missing => {}
            AuthError::InsufficientScope(_) => {
                value.push_str(", error=\"insufficient_scope\"");
            }
            other => {
                value.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&other.to_string())
                ));
            }
        }
        value
    }
}

/// A value safe inside a quoted-string: no quotes, backslashes or controls.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// What an issuer's metadata says about where things are.
#[derive(Debug, Clone, Default)]
pub struct IssuerMetadata {
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `authorization_endpoint`, if published.
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`, if published.
    pub token_endpoint: Option<String>,
    /// `authorization_response_iss_parameter_supported`: it names itself in
    /// every authorization response (RFC 9207).
    pub iss_parameter_supported: bool,
}

/// An OIDC issuer's metadata: OpenID discovery, then RFC 8414 authorization
/// server metadata. The document's `issuer` must be the configured issuer
/// exactly.
pub async fn discover(issuer: &str) -> Result<IssuerMetadata, AuthConfigError> {
    let base = issuer.trim_end_matches('/');
    let client = http_client()?;
    let mut failures = Vec::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let url = format!("{base}{path}");
        let doc: Value = match client
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
        {
            Ok(response) => match response.json().await {
                Ok(doc) => doc,
                Err(e) => {
                    failures.push(format!("{url}: {e}"));
                    continue;
                }
            },
            Err(e) => {
                failures.push(format!("{url}: {e}"));
                continue;
            }
        };
        if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
            failures.push(format!("{url}: its issuer is not {issuer:?}"));
            continue;
        }
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
        if let Some(jwks_uri) = text("jwks_uri") {
            return Ok(IssuerMetadata {
                jwks_uri,
                authorization_endpoint: text("authorization_endpoint"),
                token_endpoint: text("token_endpoint"),
                iss_parameter_supported: doc
                    .get("authorization_response_iss_parameter_supported")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
        failures.push(format!("{url}: no jwks_uri"));
    }
    Err(AuthConfigError {
        key: "auth.oidc.issuer (TOOLHOST_OIDC_ISSUER)".into(),
        reason: format!(
            "cannot discover the issuer's keys ({}); set auth.oidc.jwks_url",
            failures.join("; ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_quote_safely() {
        assert_eq!(quoted("a \"b\" \\c\n"), "a b c");
    }
}
