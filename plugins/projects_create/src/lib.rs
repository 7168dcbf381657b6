//! `projects_create`: create a project owned by the caller, in the app's API.

use toolhost_sdk::prelude::*;

/// Arguments of `projects_create`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The project's name.
    #[schemars(length(min = 1, max = 100))]
    name: String,
}

/// A project as the app returns it, and the result of `projects_create`.
#[derive(Serialize, Deserialize, JsonSchema)]
struct Project {
    id: String,
    name: String,
    owner: String,
    /// RFC 3339 UTC.
    created_at: String,
}

#[derive(Deserialize)]
struct Created {
    project: Project,
}

struct ProjectsCreate;

impl Tool for ProjectsCreate {
    type Input = Input;
    type Output = Project;

    fn describe() -> Describe {
        Describe::new("projects_create", "Create a project owned by the caller.")
            .title("Create a project")
            .roles(["member"])
            .read_only(false)
            .destructive(false)
            .idempotent(false)
            .apis(["app"])
    }

    fn call(ctx: &Context, input: Input) -> Result<Project, ToolError> {
        let url = format!("{}projects", ctx.api_url("app")?);
        let response = ctx.http().post_json(&url, &input)?.error_for_status()?;
        Ok(response.json::<Created>()?.project)
    }

    fn render(p: &Project) -> String {
        let (name, id, at) = (&p.name, &p.id, &p.created_at);
        format!("Created project \"{name}\" ({id}) at {at}.")
    }
}

toolhost_sdk::export_tool!(ProjectsCreate);
