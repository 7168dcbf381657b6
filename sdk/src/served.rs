//! Resources and prompts: what a component serves besides tools.
//!
//! A [`Resource`] is data the client may read by URI: one fixed URI
//! ([`DescribeResource::fixed`]) or every URI of a template
//! ([`DescribeResource::template`], e.g. `notes://{id}`). A [`Prompt`] is a
//! message template the client offers its user. Both get the verified
//! caller in their [`Context`], like a tool, and export with
//! [`export_component!`](crate::export_component).

use crate::bindings::toolhost::plugin::types;
use crate::{Content, Context, ToolError};

/// What a resource (or a template of resources) says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeResource {
    pub(crate) uri: String,
    pub(crate) template: bool,
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) roles: Vec<String>,
}

impl DescribeResource {
    /// The resource at the absolute URI `uri`, called `name` for the client.
    pub fn fixed(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(uri.into(), false, name.into())
    }

    /// Every resource whose URI matches `uri_template`: `{name}` stands for
    /// one or more characters other than `/ ? #`, `{+name}` for one or more
    /// other than `? #`; put text between two of them. The values reach
    /// [`Resource::read`] decoded, by name ([`ResourceRequest::var`]).
    pub fn template(uri_template: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new(uri_template.into(), true, name.into())
    }

    fn new(uri: String, template: bool, name: String) -> Self {
        DescribeResource {
            uri,
            template,
            name,
            title: None,
            description: None,
            mime_type: None,
            roles: Vec::new(),
        }
    }

    /// A human-friendly title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// What it holds, for the model.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The MIME type of its contents.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Roles allowed to read it by default (any of them); none means any
    /// authenticated caller. The operator may override this.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The URI, or the template.
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

/// Which resource a read is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The URI the client asked for.
    pub uri: String,
    /// The template it matched, if the resource is a template.
    pub template: Option<String>,
    variables: Vec<(String, String)>,
}

impl ResourceRequest {
    /// The value of the template's expression `name` (decoded).
    pub fn var(&self, name: &str) -> Option<&str> {
        (self.variables.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One part of a resource's contents.
#[derive(Debug, Clone)]
pub struct Contents(types::EmbeddedResource);

impl Contents {
    /// Text at `uri` of type `mime_type`.
    pub fn text(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Contents(types::EmbeddedResource {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: types::ResourceBody::Text(text.into()),
        })
    }

    /// Bytes at `uri` of type `mime_type` (sent base64-encoded).
    pub fn blob(uri: impl Into<String>, mime_type: impl Into<String>, data: Vec<u8>) -> Self {
        Contents(types::EmbeddedResource {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: types::ResourceBody::Blob(data),
        })
    }
}

/// Data a client reads by URI, for one verified caller.
pub trait Resource {
    /// Its URI (or template), name and default roles. Called once per
    /// loaded version.
    fn describe() -> DescribeResource;

    /// Read it for the caller in `ctx`: one or more contents; return
    /// [`ToolError::NotFound`] when the caller has no such resource.
    fn read(ctx: &Context, request: &ResourceRequest) -> Result<Vec<Contents>, ToolError>;
}

/// What a prompt says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribePrompt {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: String,
    /// (name, description, required)
    pub(crate) arguments: Vec<(String, String, bool)>,
    pub(crate) roles: Vec<String>,
}

impl DescribePrompt {
    /// A prompt called `name` (the tool-name rule: snake_case), for
    /// `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        DescribePrompt {
            name: name.into(),
            title: None,
            description: description.into(),
            arguments: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// A human-friendly title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// An argument the client must pass.
    pub fn required(self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.argument(name.into(), description.into(), true)
    }

    /// An argument the client may pass.
    pub fn optional(self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.argument(name.into(), description.into(), false)
    }

    fn argument(mut self, name: String, description: String, required: bool) -> Self {
        self.arguments.push((name, description, required));
        self
    }

    /// Roles allowed to get it by default; none means any caller.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The arguments of a prompt request: every required one is present (the
/// host checks) and no unknown one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptArguments(Vec<(String, String)>);

impl PromptArguments {
    /// The value of the argument `name`, when given.
    pub fn get(&self, name: &str) -> Option<&str> {
        (self.0.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One message of a filled-in prompt.
#[derive(Debug, Clone)]
pub struct PromptMessage {
    role: types::MessageRole,
    content: Content,
}

impl PromptMessage {
    /// A message from the user.
    pub fn user(content: Content) -> Self {
        PromptMessage {
            role: types::MessageRole::User,
            content,
        }
    }

    /// A message from the assistant.
    pub fn assistant(content: Content) -> Self {
        PromptMessage {
            role: types::MessageRole::Assistant,
            content,
        }
    }
}

/// A message template the client offers its user.
pub trait Prompt {
    /// Its name, description, arguments and default roles.
    fn describe() -> DescribePrompt;

    /// Fill it in for the caller in `ctx`.
    fn get(ctx: &Context, arguments: &PromptArguments) -> Result<Vec<PromptMessage>, ToolError>;
}

/// File `d` among the fixed resources or the templates.
pub(crate) fn describe_into(
    d: DescribeResource,
    resources: &mut Vec<types::ResourceInfo>,
    templates: &mut Vec<types::ResourceTemplateInfo>,
) {
    if d.template {
        templates.push(types::ResourceTemplateInfo {
            uri_template: d.uri,
            name: d.name,
            title: d.title,
            description: d.description,
            mime_type: d.mime_type,
            roles: d.roles,
            extensions: Vec::new(),
        });
    } else {
        resources.push(types::ResourceInfo {
            uri: d.uri,
            name: d.name,
            title: d.title,
            description: d.description,
            mime_type: d.mime_type,
            roles: d.roles,
            extensions: Vec::new(),
        });
    }
}

/// What `describe` says about a prompt.
pub(crate) fn prompt_info(d: DescribePrompt) -> types::PromptInfo {
    types::PromptInfo {
        name: d.name,
        title: d.title,
        description: d.description,
        arguments: (d.arguments.into_iter())
            .map(|(name, description, required)| types::PromptArgument {
                name,
                title: None,
                description: Some(description),
                required,
            })
            .collect(),
        roles: d.roles,
        extensions: Vec::new(),
    }
}

/// The glue between [`Resource`]s, [`Prompt`]s and the WIT exports.
#[doc(hidden)]
pub mod export {
    use super::*;

    /// One resource of a component: how to describe and read it.
    pub type ResourceEntry = (
        fn() -> DescribeResource,
        fn(&Context, &ResourceRequest) -> Result<Vec<Contents>, ToolError>,
    );

    /// One prompt of a component: how to describe and get it.
    pub type PromptEntry = (
        fn() -> DescribePrompt,
        fn(&Context, &PromptArguments) -> Result<Vec<PromptMessage>, ToolError>,
    );

    /// The component's `read-resource`: the resource the host matched.
    pub fn read(
        resources: &[ResourceEntry],
        ctx: types::CallContext,
        request: types::ResourceRequest,
    ) -> Result<Vec<types::EmbeddedResource>, types::ToolError> {
        let key = request.template.as_deref().unwrap_or(&request.uri);
        let Some((_, read)) = resources.iter().find(|(d, _)| d().uri == key) else {
            return Err(
                ToolError::NotFound(format!("this component has no resource {key:?}")).into_wit(),
            );
        };
        let request = ResourceRequest {
            uri: request.uri,
            template: request.template,
            variables: request.variables,
        };
        let contents = read(&Context::from_wit(ctx), &request).map_err(ToolError::into_wit)?;
        Ok(contents.into_iter().map(|c| c.0).collect())
    }

    /// The component's `get-prompt`.
    pub fn get(
        prompts: &[PromptEntry],
        ctx: types::CallContext,
        name: &str,
        arguments: Vec<(String, String)>,
    ) -> Result<types::PromptOutput, types::ToolError> {
        let Some((_, get)) = prompts.iter().find(|(d, _)| d().name == name) else {
            return Err(
                ToolError::NotFound(format!("this component has no prompt {name:?}")).into_wit(),
            );
        };
        let messages = get(&Context::from_wit(ctx), &PromptArguments(arguments))
            .map_err(ToolError::into_wit)?;
        Ok(types::PromptOutput {
            description: None,
            messages: (messages.into_iter())
                .map(|m| types::PromptMessage {
                    role: m.role,
                    content: m.content.into_wit(),
                })
                .collect(),
        })
    }
}
