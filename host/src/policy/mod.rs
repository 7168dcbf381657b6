//! May this principal call this tool, and under which limits?
//!
//! One [`Policy`] per host holds every rule the operator set and every rule a
//! tool asked for, and answers each question a call raises, for every entry
//! point alike (Streamable HTTP, stdio, `toolhost call`):
//! - [`Policy::decide`]: roles (the tool's default, or the operator's
//!   `[tools.X] roles`) and scopes (`auth.required_scopes` and
//!   `[tools.X] scopes`) give one [`Decision`]: allowed with the call's
//!   [`Limits`], or denied with the reason;
//! - [`Policy::admit`]: the rate limit per caller and tool, then a bounded
//!   wait for a slot among the tool's calls and among all calls
//!   ([`admission`]);
//! - [`Policy::visible`]: whether `tools/list` shows the tool to the caller;
//! - [`Policy::missing_scopes`]: what the HTTP layer checks before a request
//!   reaches MCP, so a missing scope is a `403 insufficient_scope` the client
//!   can act on (step-up authorization).
//!
//! Nothing here knows of HTTP, MCP or WebAssembly: the rules are tested on
//! their own.

pub mod admission;
pub(crate) mod rate;

pub use admission::{Admitted, Rejection};
pub use rate::{RateLimit, RateLimitOverride};

use crate::Principal;
use crate::clock::SharedClock;
use crate::runtime::{Limits, LimitsOverride, ToolConfig, ToolInfo};
use admission::Admission;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `[tools.<name>]`: the operator's rules for one tool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolPolicy {
    /// Roles allowed to call the tool (any of them), replacing the tool's
    /// own default; an empty list lets any authenticated caller.
    pub roles: Option<Vec<String>>,
    /// OAuth scopes a token must carry (all of them) to call the tool;
    /// without them the request gets 403 `insufficient_scope`.
    pub scopes: Vec<String>,
    /// Per-call limits for this tool, replacing the `[limits]` defaults
    /// field by field.
    pub limits: LimitsOverride,
    /// Calls of this tool that may run at once (within the global limit).
    pub max_concurrent: Option<u32>,
    /// This tool's rate limit per caller, replacing `[rate_limit]` field by
    /// field.
    pub rate_limit: Option<RateLimitOverride>,
    /// The APIs (`[apis.<name>]`) the tool may call; nothing else is
    /// reachable over HTTP.
    pub apis: Vec<String>,
    /// Values the tool reads with `wasi:config/store`, by key: a string, or
    /// `{ value_env = "VAR" }` for a secret from the environment (never
    /// printed).
    pub config: BTreeMap<String, ConfigValue>,
}

/// One value of `[tools.<name>.config]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// The value itself.
    Text(String),
    /// A secret: the environment variable that holds it.
    Env(EnvValue),
}

/// `{ value_env = "VAR" }`: a secret read from the environment at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvValue {
    /// The variable's name.
    pub value_env: String,
}

/// `[resources."<uri or template>"]` and `[prompts.<name>]`: the
/// operator's rules for one resource (template) or prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServedPolicy {
    /// Roles allowed to read (get) it, replacing the component's default;
    /// an empty list lets any authenticated caller.
    pub roles: Option<Vec<String>>,
}

/// What a resource read or prompt get is for, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub enum Served<'a> {
    /// A resource at a fixed URI, or a template, by its URI or template.
    Resource {
        /// The URI or template.
        key: &'a str,
        /// The component's default roles.
        roles: &'a [String],
    },
    /// A prompt.
    Prompt {
        /// Its name.
        name: &'a str,
        /// The component's default roles.
        roles: &'a [String],
    },
}

impl Served<'_> {
    /// Its name in logs, metrics and the audit trail.
    pub fn label(&self) -> String {
        match self {
            Served::Resource { key, .. } => crate::runtime::resource_label(key),
            Served::Prompt { name, .. } => crate::runtime::prompt_label(name),
        }
    }
}

/// Every rule, resolved from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySettings {
    /// Per-call limits of every tool without its own.
    pub limits: Limits,
    /// The rate limit per caller and tool, unless a tool has its own.
    pub rate_limit: RateLimit,
    /// Calls that may run at once, all tools together.
    pub max_calls: u32,
    /// How long a call waits for a free slot before it fails busy.
    pub wait: Duration,
    /// Scopes every request must carry.
    pub required_scopes: Vec<String>,
    /// Show each caller only the tools its roles allow in `tools/list`.
    pub filter_tools_list: bool,
    /// The operator's rules per tool, by name.
    pub tools: BTreeMap<String, ToolPolicy>,
    /// The operator's rules per resource, by URI or template.
    pub resources: BTreeMap<String, ServedPolicy>,
    /// The operator's rules per prompt, by name.
    pub prompts: BTreeMap<String, ServedPolicy>,
    /// Each tool's configuration values, secrets read from the environment.
    pub tool_config: BTreeMap<String, Arc<ToolConfig>>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            limits: Limits::default(),
            rate_limit: RateLimit::default(),
            max_calls: 128,
            wait: Duration::from_secs(2),
            required_scopes: Vec::new(),
            filter_tools_list: true,
            tools: BTreeMap::new(),
            resources: BTreeMap::new(),
            prompts: BTreeMap::new(),
            tool_config: BTreeMap::new(),
        }
    }
}

impl PolicySettings {
    /// The per-call limits of `tool`: the defaults with the tool's overrides.
    pub fn limits_for(&self, tool: &str) -> Limits {
        match self.tools.get(tool) {
            Some(rules) => self.limits.with(&rules.limits),
            None => self.limits.clone(),
        }
    }

    /// The rate limit of `tool` per caller: the default with the tool's
    /// fields.
    pub fn rate_limit_for(&self, tool: &str) -> RateLimit {
        match self.tools.get(tool).and_then(|t| t.rate_limit) {
            Some(changes) => self.rate_limit.with(changes),
            None => self.rate_limit,
        }
    }

    /// The largest memory and table limits of any tool, which size the
    /// instance pool.
    pub fn limits_ceiling(&self) -> (usize, usize) {
        self.tools.keys().map(|t| self.limits_for(t)).fold(
            (self.limits.memory_bytes, self.limits.table_elements),
            |(m, t), l| (m.max(l.memory_bytes), t.max(l.table_elements)),
        )
    }

    /// The roles that may read or get `served`: the operator's, else the
    /// component's.
    pub fn roles_for_served<'a>(&'a self, served: &Served<'a>) -> &'a [String] {
        let (rules, key, default) = match served {
            Served::Resource { key, roles } => (&self.resources, *key, *roles),
            Served::Prompt { name, roles } => (&self.prompts, *name, *roles),
        };
        match rules.get(key).and_then(|p| p.roles.as_deref()) {
            Some(roles) => roles,
            None => default,
        }
    }

    /// The roles that may call `tool`: the operator's, else the tool's own.
    pub fn roles_for<'a>(&'a self, tool: &str, default: &'a [String]) -> &'a [String] {
        match self.tools.get(tool).and_then(|p| p.roles.as_deref()) {
            Some(roles) => roles,
            None => default,
        }
    }
}

/// A call the policy refuses, with the reason shown to the caller and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// The caller holds none of the roles the tool needs.
    #[error("{subject} may not call {tool}: it needs one of the roles [{}] and has [{}]", required.join(", "), held.join(", "))]
    Roles {
        /// The tool.
        tool: String,
        /// The caller.
        subject: String,
        /// Roles that would allow the call (any of them).
        required: Vec<String>,
        /// Roles the caller holds.
        held: Vec<String>,
    },
    /// The caller's token lacks scopes the tool (or every request) needs.
    #[error("{subject} may not call {tool}: the token lacks the scopes [{}]", missing.join(", "))]
    Scopes {
        /// The tool.
        tool: String,
        /// The caller.
        subject: String,
        /// The scopes missing.
        missing: Vec<String>,
    },
}

impl Denial {
    /// A short machine-readable reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::Roles { .. } => "missing_role",
            Denial::Scopes { .. } => "insufficient_scope",
        }
    }
}

/// What the policy says of one call.
pub type Decision = Result<Allowed, Denial>;

/// A call the policy allows, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed {
    /// The tool.
    pub tool: String,
    /// Its per-call limits.
    pub limits: Limits,
    /// The APIs it may call.
    pub apis: Vec<String>,
    /// Its configuration values, if the operator set any.
    pub config: Option<Arc<ToolConfig>>,
}

/// The policy of one host.
#[derive(Debug)]
pub struct Policy {
    settings: PolicySettings,
    admission: Admission,
}

impl Policy {
    /// The policy of `settings`, measuring rates with `clock`.
    pub fn new(settings: PolicySettings, clock: SharedClock) -> Self {
        Policy {
            admission: Admission::new(&settings, clock),
            settings,
        }
    }

    /// The rules in effect.
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// May `principal` call the tool `info` describes? Roles first, then
    /// scopes.
    pub fn decide(&self, principal: &Principal, info: &ToolInfo) -> Decision {
        let tool = info.name.as_str();
        let required = self.settings.roles_for(tool, &info.roles);
        if !principal.has_any_role(required) {
            return Err(Denial::Roles {
                tool: tool.to_owned(),
                subject: principal.subject.clone(),
                required: required.to_vec(),
                held: principal.roles.clone(),
            });
        }
        let missing = self.missing_scopes(principal, Some(tool));
        if !missing.is_empty() {
            return Err(Denial::Scopes {
                tool: tool.to_owned(),
                subject: principal.subject.clone(),
                missing,
            });
        }
        Ok(Allowed {
            tool: tool.to_owned(),
            limits: self.settings.limits_for(tool),
            apis: (self.settings.tools.get(tool))
                .map(|t| t.apis.clone())
                .unwrap_or_default(),
            config: self.settings.tool_config.get(tool).cloned(),
        })
    }

    /// May `principal` read the resource (or get the prompt) `served`?
    /// Roles first (the operator's, else the component's), then the scopes
    /// every request needs. Allowed reads run under the default `[limits]`
    /// and reach no API.
    pub fn decide_served(&self, principal: &Principal, served: &Served<'_>) -> Decision {
        let label = served.label();
        let required = self.settings.roles_for_served(served);
        if !principal.has_any_role(required) {
            return Err(Denial::Roles {
                tool: label,
                subject: principal.subject.clone(),
                required: required.to_vec(),
                held: principal.roles.clone(),
            });
        }
        let missing = self.missing_scopes(principal, None);
        if !missing.is_empty() {
            return Err(Denial::Scopes {
                tool: label,
                subject: principal.subject.clone(),
                missing,
            });
        }
        Ok(Allowed {
            tool: label,
            limits: self.settings.limits.clone(),
            apis: Vec::new(),
            config: None,
        })
    }

    /// Whether `resources/list` (`prompts/list`) shows `served` to
    /// `principal`: with filtering on, only what its roles allow.
    pub fn visible_served(&self, principal: &Principal, served: &Served<'_>) -> bool {
        !self.settings.filter_tools_list
            || principal.has_any_role(self.settings.roles_for_served(served))
    }

    /// The APIs the tool `info` describes says it calls that the operator
    /// did not grant it (`[tools.<name>] apis`), in its order.
    pub fn ungranted_apis(&self, info: &ToolInfo) -> Vec<String> {
        let granted = (self.settings.tools.get(&info.name))
            .map(|t| t.apis.as_slice())
            .unwrap_or_default();
        (info.apis.iter())
            .filter(|a| !granted.contains(a))
            .cloned()
            .collect()
    }

    /// The scopes `principal` lacks for any request (`tool` `None`) or for a
    /// call of `tool`: `auth.required_scopes`, then the tool's.
    pub fn missing_scopes(&self, principal: &Principal, tool: Option<&str>) -> Vec<String> {
        let per_tool = tool
            .and_then(|t| self.settings.tools.get(t))
            .map(|rules| rules.scopes.as_slice())
            .unwrap_or_default();
        let mut missing: Vec<String> = Vec::new();
        for scope in self.settings.required_scopes.iter().chain(per_tool) {
            if !principal.scopes.contains(scope) && !missing.contains(scope) {
                missing.push(scope.clone());
            }
        }
        missing
    }

    /// Whether any tool has scopes of its own (the HTTP layer then reads a
    /// `tools/call` body to learn the tool).
    pub fn has_tool_scopes(&self) -> bool {
        self.settings.tools.values().any(|t| !t.scopes.is_empty())
    }

    /// Whether `tools/list` shows `info` to `principal`: when filtering is
    /// on, only the tools its roles allow. A missing scope does not hide a
    /// tool: the call's 403 tells the client which scope to ask for.
    pub fn visible(&self, principal: &Principal, info: &ToolInfo) -> bool {
        !self.settings.filter_tools_list
            || principal.has_any_role(self.settings.roles_for(&info.name, &info.roles))
    }

    /// Admit an allowed call by `subject`: a token from its rate bucket, then
    /// a slot (waiting at most `wait`). Dropping the [`Admitted`] frees the
    /// slot.
    pub async fn admit(&self, subject: &str, allowed: &Allowed) -> Result<Admitted, Rejection> {
        self.admission.admit(subject, &allowed.tool).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ObjectSchema;

    fn info(name: &str, roles: &[&str]) -> ToolInfo {
        ToolInfo {
            name: name.into(),
            title: None,
            description: "d".into(),
            input_schema: ObjectSchema::compile(r#"{"type":"object"}"#).unwrap(),
            output_schema: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            annotations: Default::default(),
            apis: vec![],
        }
    }

    fn policy(adjust: impl FnOnce(&mut PolicySettings)) -> Policy {
        let mut settings = PolicySettings::default();
        adjust(&mut settings);
        Policy::new(settings, crate::clock::system())
    }

    fn with_scopes(mut p: Principal, scopes: &[&str]) -> Principal {
        p.scopes = scopes.iter().map(|s| s.to_string()).collect();
        p
    }

    #[test]
    fn expected_apis_without_a_grant_are_named() {
        let mut tool = info("projects_list", &[]);
        tool.apis = vec!["app".into(), "billing".into()];
        let p = policy(|s| {
            s.tools.insert(
                "projects_list".into(),
                ToolPolicy {
                    apis: vec!["app".into()],
                    ..Default::default()
                },
            );
        });
        assert_eq!(p.ungranted_apis(&tool), ["billing"]);
        assert_eq!(
            policy(|_| {}).ungranted_apis(&tool),
            ["app", "billing"],
            "no [tools.projects_list] section: nothing granted"
        );
    }

    #[test]
    fn any_of_the_tools_default_roles_is_enough() {
        let p = policy(|_| {});
        let tool = info("notes_create", &["member", "admin"]);
        assert!(
            p.decide(&Principal::new("alice", ["member"]), &tool)
                .is_ok()
        );
        assert!(
            p.decide(&Principal::new("root", ["admin", "x"]), &tool)
                .is_ok()
        );
        let denied = p
            .decide(&Principal::new("bob", Vec::<String>::new()), &tool)
            .unwrap_err();
        assert_eq!(
            denied.to_string(),
            "bob may not call notes_create: it needs one of the roles [member, admin] and has []"
        );
        assert_eq!(denied.reason(), "missing_role");
        let open = info("open", &[]);
        assert!(
            p.decide(&Principal::new("bob", Vec::<String>::new()), &open)
                .is_ok(),
            "no required roles: anyone"
        );
    }

    #[test]
    fn the_operators_roles_replace_the_tools_own() {
        let p = policy(|s| {
            s.tools.insert(
                "notes_create".into(),
                ToolPolicy {
                    roles: Some(vec!["writer".into()]),
                    ..Default::default()
                },
            );
            s.tools.insert(
                "notes_list".into(),
                ToolPolicy {
                    roles: Some(vec![]),
                    ..Default::default()
                },
            );
        });
        let member = Principal::new("alice", ["member"]);
        let writer = Principal::new("wendy", ["writer"]);
        assert!(
            p.decide(&member, &info("notes_create", &["member"]))
                .is_err()
        );
        assert!(
            p.decide(&writer, &info("notes_create", &["member"]))
                .is_ok()
        );
        let nobody = Principal::new("guest", Vec::<String>::new());
        assert!(
            p.decide(&nobody, &info("notes_list", &["member"])).is_ok(),
            "an empty list lets any caller"
        );
    }

    #[test]
    fn scopes_of_every_request_and_of_the_tool_are_all_needed() {
        let p = policy(|s| {
            s.required_scopes = vec!["mcp".into()];
            s.tools.insert(
                "notes_create".into(),
                ToolPolicy {
                    scopes: vec!["notes:write".into(), "mcp".into()],
                    ..Default::default()
                },
            );
        });
        let member = Principal::new("alice", ["member"]);
        let tool = info("notes_create", &["member"]);
        assert_eq!(p.missing_scopes(&member, None), ["mcp"]);
        assert_eq!(
            p.missing_scopes(&member, Some("notes_create")),
            ["mcp", "notes:write"],
            "each missing scope once"
        );
        let denied = p.decide(&member, &tool).unwrap_err();
        assert_eq!(denied.reason(), "insufficient_scope");
        assert!(denied.to_string().contains("notes:write"), "{denied}");
        let scoped = with_scopes(member, &["mcp", "notes:write"]);
        assert!(p.decide(&scoped, &tool).is_ok());
        assert!(p.has_tool_scopes());
        assert!(!policy(|_| {}).has_tool_scopes());
    }

    #[test]
    fn the_list_shows_what_roles_allow_unless_filtering_is_off() {
        let tool = info("notes_create", &["member"]);
        let guest = Principal::new("guest", Vec::<String>::new());
        assert!(!policy(|_| {}).visible(&guest, &tool));
        assert!(policy(|s| s.filter_tools_list = false).visible(&guest, &tool));
        let scoped = policy(|s| {
            s.tools.insert(
                "notes_create".into(),
                ToolPolicy {
                    scopes: vec!["notes:write".into()],
                    ..Default::default()
                },
            );
        });
        assert!(
            scoped.visible(&Principal::new("alice", ["member"]), &tool),
            "a missing scope does not hide it"
        );
    }

    #[test]
    fn limits_and_rates_override_field_by_field() {
        let p = policy(|s| {
            s.limits.timeout_ms = 2000;
            s.rate_limit = RateLimit {
                per_minute: 60,
                burst: 5,
            };
            s.tools.insert(
                "export".into(),
                ToolPolicy {
                    limits: LimitsOverride {
                        timeout_ms: Some(30_000),
                        memory_bytes: Some(512 << 20),
                        ..Default::default()
                    },
                    rate_limit: Some(RateLimitOverride {
                        per_minute: Some(600),
                        burst: None,
                    }),
                    ..Default::default()
                },
            );
        });
        let allowed = p
            .decide(&Principal::new("a", ["member"]), &info("export", &[]))
            .unwrap();
        assert_eq!(allowed.limits.timeout_ms, 30_000);
        assert_eq!(allowed.limits.output_bytes, Limits::default().output_bytes);
        let s = p.settings();
        assert_eq!(s.limits_for("other").timeout_ms, 2000);
        assert_eq!(s.limits_ceiling().0, 512 << 20);
        assert_eq!(
            s.rate_limit_for("export"),
            RateLimit {
                per_minute: 600,
                burst: 5
            },
            "the burst not set for the tool comes from [rate_limit], not the built-in default"
        );
        assert_eq!(s.rate_limit_for("other").burst, 5);
    }

    #[test]
    fn resources_and_prompts_follow_the_component_then_the_operator() {
        let admin_only = vec!["admin".to_owned()];
        let note = Served::Resource {
            key: "notes://{id}",
            roles: &admin_only,
        };
        let open = Served::Prompt {
            name: "summarise",
            roles: &[],
        };
        let member = Principal::new("alice", ["member"]);
        let p = policy(|_| {});
        let denied = p.decide_served(&member, &note).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "alice may not call resource notes://{id}: it needs one of the roles [admin] and has [member]"
        );
        assert!(!p.visible_served(&member, &note));
        let allowed = p.decide_served(&member, &open).unwrap();
        assert_eq!(allowed.tool, "prompt summarise");
        assert!(allowed.apis.is_empty(), "a read reaches no API");
        assert!(p.visible_served(&member, &open));

        // The operator's roles replace the component's, both ways.
        let p = policy(|s| {
            s.resources.insert(
                "notes://{id}".into(),
                ServedPolicy {
                    roles: Some(vec![]),
                },
            );
            s.prompts.insert(
                "summarise".into(),
                ServedPolicy {
                    roles: Some(vec!["admin".into()]),
                },
            );
        });
        assert!(p.decide_served(&member, &note).is_ok());
        assert!(p.decide_served(&member, &open).is_err());
        assert!(!p.visible_served(&member, &open));

        // Scopes every request needs hold here too.
        let p = policy(|s| s.required_scopes = vec!["mcp".into()]);
        let missing = p.decide_served(&member, &open).unwrap_err();
        assert_eq!(missing.reason(), "insufficient_scope");
        assert!(
            p.decide_served(&with_scopes(member, &["mcp"]), &open)
                .is_ok()
        );
    }
}
