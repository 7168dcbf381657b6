//! How a tool introduces itself.

/// Name, description and default roles of a tool. The schemas come from the
/// tool's `Input` and `Output` types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Describe {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: String,
    pub(crate) roles: Vec<String>,
}

impl Describe {
    /// A tool called `name` (snake_case, unique in the host) that does
    /// `description` (written for the model that decides to call it).
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Describe {
            name: name.into(),
            title: None,
            description: description.into(),
            roles: Vec::new(),
        }
    }

    /// A human-friendly title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Roles allowed to call the tool by default, any of them. Without this,
    /// any authenticated caller may. Operators can override it.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}
