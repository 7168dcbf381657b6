//! May this principal call this tool?
//!
//! Kept free of transport and wasm so it can be tested on its own and used by
//! every entry point (the server, `toolhost call`) the same way.

use crate::Principal;

/// A refused call, with the reason shown to the caller and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject} may not call {tool}: it needs one of the roles [{}] and has [{}]", required.join(", "), held.join(", "))]
pub struct Denied {
    /// The tool.
    pub tool: String,
    /// The caller.
    pub subject: String,
    /// Roles that would allow the call (any of them).
    pub required: Vec<String>,
    /// Roles the caller holds.
    pub held: Vec<String>,
}

/// Allow the call if `required` is empty or the principal holds any of them.
pub fn authorize(principal: &Principal, tool: &str, required: &[String]) -> Result<(), Denied> {
    if principal.has_any_role(required) {
        return Ok(());
    }
    Err(Denied {
        tool: tool.to_owned(),
        subject: principal.subject.clone(),
        required: required.to_vec(),
        held: principal.roles.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_of_the_required_roles_is_enough() {
        let member = Principal::new("alice", ["member"]);
        let admin = Principal::new("root", ["admin", "other"]);
        let nobody = Principal::new("bob", Vec::<String>::new());
        let roles = vec!["member".to_owned(), "admin".to_owned()];
        assert!(authorize(&member, "t", &roles).is_ok());
        assert!(authorize(&admin, "t", &roles).is_ok());
        let denied = authorize(&nobody, "notes_create", &roles).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "bob may not call notes_create: it needs one of the roles [member, admin] and has []"
        );
        assert!(
            authorize(&nobody, "t", &[]).is_ok(),
            "no required roles: anyone"
        );
    }
}
