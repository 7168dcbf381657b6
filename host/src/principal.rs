//! The verified caller of a tool.

use serde::{Deserialize, Serialize};

/// Longest subject a token may name: storage is partitioned by it and the
/// audit trail records it.
pub const MAX_SUBJECT_BYTES: usize = 255;

/// Who is calling, as established by the host (from a verified token, or from
/// the operator's configuration for local transports). Tools receive it on
/// every call and cannot forge it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// Stable identifier of the user (the token's `sub`). Storage is
    /// partitioned by it.
    pub subject: String,
    /// Roles resolved by the host.
    #[serde(default)]
    pub roles: Vec<String>,
    /// OAuth scopes granted to the token.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The OAuth client the caller used.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The caller's active organization.
    #[serde(default)]
    pub org_id: Option<String>,
    /// The caller's e-mail address.
    #[serde(default)]
    pub email: Option<String>,
}

impl Principal {
    /// A principal with just a subject and roles.
    pub fn new<I, S>(subject: impl Into<String>, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Principal {
            subject: subject.into(),
            roles: roles.into_iter().map(Into::into).collect(),
            ..Principal::default()
        }
    }

    /// True if the principal holds at least one of `roles`, or `roles` is empty.
    pub fn has_any_role(&self, roles: &[String]) -> bool {
        roles.is_empty() || roles.iter().any(|r| self.roles.contains(r))
    }
}
