//! How a tool introduces itself.

/// Name, description and default roles of a tool. The schemas come from the
/// tool's `Input` and `Output` types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Describe {
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: String,
    pub(crate) roles: Vec<String>,
    pub(crate) annotations: Hints,
    pub(crate) apis: Vec<String>,
}

/// Behaviour hints; `None` leaves the client's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Hints {
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
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
            annotations: Hints::default(),
            apis: Vec::new(),
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

    /// The tool changes nothing (MCP `readOnlyHint`); clients may run it
    /// without asking. A hint for clients: the host's policy ignores it.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.annotations.read_only = Some(yes);
        self
    }

    /// Whether a change it makes may destroy data (MCP `destructiveHint`;
    /// clients assume true unless told).
    pub fn destructive(mut self, yes: bool) -> Self {
        self.annotations.destructive = Some(yes);
        self
    }

    /// Whether calling it again with the same arguments changes nothing more
    /// (MCP `idempotentHint`).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.annotations.idempotent = Some(yes);
        self
    }

    /// Whether it reaches beyond the caller's own data, e.g. the web (MCP
    /// `openWorldHint`; clients assume true unless told).
    pub fn open_world(mut self, yes: bool) -> Self {
        self.annotations.open_world = Some(yes);
        self
    }

    /// The APIs (`[apis.<name>]` in the operator's configuration) the tool
    /// calls. Declaring one grants nothing: `toolhost inspect` lists them,
    /// and the host warns at load when the operator did not grant one.
    pub fn apis<I, S>(mut self, apis: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.apis = apis.into_iter().map(Into::into).collect();
        self
    }
}
