//! From verified token claims to a [`Principal`].

use crate::Principal;
use serde_json::Value;

/// Claim paths roles are read from by default, in order: a plain `roles`
/// claim, Clerk's organization role (`org_role`, or `o.rol` in compact
/// session tokens), and roles put in a JWT template's `metadata`.
pub const DEFAULT_ROLE_CLAIMS: &[&str] = &["roles", "org_role", "o.rol", "metadata.roles"];

/// Clerk prefixes organization roles (`org:admin`); tools see `admin`.
fn normalize_role(role: &str) -> String {
    role.strip_prefix("org:").unwrap_or(role).to_owned()
}

/// The value at a dotted path (`o.rol`) of a claims object.
fn at_path<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

/// Roles found at `paths`: each a string or an array of strings, in order,
/// without duplicates.
pub fn roles_from_claims(claims: &Value, paths: &[String]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    let mut add = |r: &str| {
        let r = normalize_role(r);
        if !r.is_empty() && !roles.contains(&r) {
            roles.push(r);
        }
    };
    for path in paths {
        match at_path(claims, path) {
            Some(Value::String(s)) => add(s),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut add),
            _ => {}
        }
    }
    roles
}

/// Add `more` roles (e.g. from an identity provider's API) to `principal`.
pub fn merge_roles(principal: &mut Principal, more: impl IntoIterator<Item = String>) {
    for r in more {
        let r = normalize_role(&r);
        if !r.is_empty() && !principal.roles.contains(&r) {
            principal.roles.push(r);
        }
    }
}

fn string_claim(claims: &Value, paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find_map(|p| at_path(claims, p).and_then(Value::as_str))
        .map(str::to_owned)
}

/// The principal a verified claims object describes. Scopes come from a
/// `scope` string (OAuth) or an `scp` array; the client from `client_id` or
/// `azp`; the organization from `org_id` or `o.id`.
pub fn principal_from_claims(claims: &Value, role_paths: &[String]) -> Option<Principal> {
    let subject = claims.get("sub")?.as_str()?.to_owned();
    if subject.is_empty() {
        return None;
    }
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
        (_, Some(Value::Array(items))) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::String(s))) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Some(Principal {
        subject,
        roles: roles_from_claims(claims, role_paths),
        scopes,
        client_id: string_claim(claims, &["client_id", "azp"]),
        org_id: string_claim(claims, &["org_id", "o.id"]),
        email: string_claim(claims, &["email"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Vec<String> {
        DEFAULT_ROLE_CLAIMS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clerk_oauth_token_claims() {
        let claims = json!({
            "sub": "user_2abc", "client_id": "cl_1", "scope": "openid notes:read",
            "org_id": "org_9", "roles": ["member"], "iss": "x", "exp": 1
        });
        let p = principal_from_claims(&claims, &defaults()).unwrap();
        assert_eq!(p.subject, "user_2abc");
        assert_eq!(p.client_id.as_deref(), Some("cl_1"));
        assert_eq!(p.scopes, ["openid", "notes:read"]);
        assert_eq!(p.org_id.as_deref(), Some("org_9"));
        assert_eq!(p.roles, ["member"]);
        assert_eq!(p.email, None);
    }

    #[test]
    fn roles_from_every_default_path_without_org_prefix_or_duplicates() {
        let claims = json!({
            "sub": "u", "azp": "app", "scp": ["a", "b"],
            "roles": "member", "org_role": "org:admin",
            "o": {"id": "org_1", "rol": "admin"},
            "metadata": {"roles": ["editor", "member"]},
            "email": "u@example.com"
        });
        let p = principal_from_claims(&claims, &defaults()).unwrap();
        assert_eq!(p.roles, ["member", "admin", "editor"]);
        assert_eq!(p.scopes, ["a", "b"]);
        assert_eq!(p.client_id.as_deref(), Some("app"));
        assert_eq!(p.org_id.as_deref(), Some("org_1"));
        assert_eq!(p.email.as_deref(), Some("u@example.com"));
    }

    #[test]
    fn a_token_without_subject_is_no_principal() {
        assert!(principal_from_claims(&json!({"scope": "x"}), &defaults()).is_none());
        assert!(principal_from_claims(&json!({"sub": ""}), &defaults()).is_none());
    }

    #[test]
    fn merged_roles_are_normalized() {
        let mut p = Principal::new("u", ["member"]);
        merge_roles(&mut p, ["org:member".to_owned(), "org:billing".to_owned()]);
        assert_eq!(p.roles, ["member", "billing"]);
    }
}
