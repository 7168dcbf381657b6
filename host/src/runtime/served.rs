//! What a 0.2 component serves besides tools: resources, resource
//! templates and prompts, as the host validated them, and what reading or
//! getting one returns.

use super::bindings::v2;
use super::output::{Content, EmbeddedResource};
use super::uri_template::{UriTemplate, check_uri};

/// A resource at one fixed URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// Its absolute URI.
    pub uri: String,
    /// Its name, for the client.
    pub name: String,
    /// Human-friendly title.
    pub title: Option<String>,
    /// What it holds.
    pub description: Option<String>,
    /// The MIME type of its contents.
    pub mime_type: Option<String>,
    /// Roles allowed to read it by default; empty means any caller.
    pub roles: Vec<String>,
}

/// Resources whose URIs follow a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    /// The template.
    pub template: UriTemplate,
    /// Its name, for the client.
    pub name: String,
    /// Human-friendly title.
    pub title: Option<String>,
    /// What the resources hold.
    pub description: Option<String>,
    /// The MIME type of their contents.
    pub mime_type: Option<String>,
    /// Roles allowed to read them by default; empty means any caller.
    pub roles: Vec<String>,
}

/// One argument of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// Human-friendly title.
    pub title: Option<String>,
    /// What to pass.
    pub description: Option<String>,
    /// A request without it is refused.
    pub required: bool,
}

/// A prompt template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptInfo {
    /// Unique name (the tool-name rule).
    pub name: String,
    /// Human-friendly title.
    pub title: Option<String>,
    /// What it is for.
    pub description: String,
    /// Its arguments.
    pub arguments: Vec<PromptArgument>,
    /// Roles allowed to get it by default; empty means any caller.
    pub roles: Vec<String>,
}

impl PromptInfo {
    /// Check `arguments` against the declared ones: every required one
    /// present, no unknown one. The error lists each problem.
    pub fn check_arguments(&self, arguments: &[(String, String)]) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for declared in self.arguments.iter().filter(|a| a.required) {
            if !arguments.iter().any(|(name, _)| *name == declared.name) {
                problems.push(format!("the argument {:?} is required", declared.name));
            }
        }
        for (name, _) in arguments {
            if !self.arguments.iter().any(|a| a.name == *name) {
                problems.push(format!("{name:?} is not an argument of this prompt"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

/// One message of a filled-in prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    /// Who speaks it.
    pub role: MessageRole,
    /// What it says.
    pub content: Content,
}

/// A filled-in prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptOutput {
    /// A description of this rendering.
    pub description: Option<String>,
    /// The messages.
    pub messages: Vec<PromptMessage>,
}

/// What a resource read returned: one or more contents.
pub type ResourceContents = Vec<EmbeddedResource>;

/// Which resource a read is for, as the host matched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The URI the client asked for.
    pub uri: String,
    /// The template it matched (`None` for a fixed resource).
    pub template: Option<String>,
    /// The template's values, percent-decoded.
    pub variables: Vec<(String, String)>,
}

/// Roles must be non-empty words.
pub(super) fn check_roles(owner: &str, roles: &[String]) -> Result<(), String> {
    match roles
        .iter()
        .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
    {
        Some(bad) => Err(format!("{owner}: role {bad:?} is empty or has white space")),
        None => Ok(()),
    }
}

fn non_empty(owner: &str, what: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{owner}: {what} is empty"))
    } else {
        Ok(())
    }
}

pub(super) fn resource(r: v2::types::ResourceInfo) -> Result<ResourceInfo, String> {
    let owner = format!("resource {:?}", r.uri);
    check_uri(&r.uri).map_err(|e| format!("{owner}: {e}"))?;
    non_empty(&owner, "name", &r.name)?;
    check_roles(&owner, &r.roles)?;
    Ok(ResourceInfo {
        uri: r.uri,
        name: r.name,
        title: r.title,
        description: r.description,
        mime_type: r.mime_type,
        roles: r.roles,
    })
}

pub(super) fn template(t: v2::types::ResourceTemplateInfo) -> Result<TemplateInfo, String> {
    let owner = format!("resource template {:?}", t.uri_template);
    let template = UriTemplate::parse(&t.uri_template).map_err(|e| format!("{owner}: {e}"))?;
    non_empty(&owner, "name", &t.name)?;
    check_roles(&owner, &t.roles)?;
    Ok(TemplateInfo {
        template,
        name: t.name,
        title: t.title,
        description: t.description,
        mime_type: t.mime_type,
        roles: t.roles,
    })
}

fn is_argument_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn prompt(p: v2::types::PromptInfo) -> Result<PromptInfo, String> {
    if !super::is_tool_name(&p.name) {
        return Err(format!(
            "prompt name {:?} must be snake_case: 1 to 64 of a-z, 0-9, '_', starting with a letter",
            p.name
        ));
    }
    let owner = format!("prompt {}", p.name);
    non_empty(&owner, "description", &p.description)?;
    check_roles(&owner, &p.roles)?;
    let mut arguments: Vec<PromptArgument> = Vec::with_capacity(p.arguments.len());
    for a in p.arguments {
        if !is_argument_name(&a.name) {
            return Err(format!(
                "{owner}: argument name {:?} must be 1 to 64 of a-z A-Z 0-9 _ -",
                a.name
            ));
        }
        if arguments.iter().any(|b| b.name == a.name) {
            return Err(format!("{owner}: argument {:?} is declared twice", a.name));
        }
        arguments.push(PromptArgument {
            name: a.name,
            title: a.title,
            description: a.description,
            required: a.required,
        });
    }
    Ok(PromptInfo {
        name: p.name,
        title: p.title,
        description: p.description,
        arguments,
        roles: p.roles,
    })
}
