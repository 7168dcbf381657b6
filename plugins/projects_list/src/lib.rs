//! `projects_list`: the caller's projects in the app, read through its API.

use toolhost_sdk::prelude::*;

/// `projects_list` takes no arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {}

/// A project as the app returns it.
#[derive(Serialize, Deserialize, JsonSchema)]
struct Project {
    id: String,
    name: String,
    owner: String,
    /// RFC 3339 UTC.
    created_at: String,
}

/// The app's answer, and the result of `projects_list`.
#[derive(Serialize, Deserialize, JsonSchema)]
struct ProjectList {
    projects: Vec<Project>,
}

struct ProjectsList;

impl Tool for ProjectsList {
    type Input = Input;
    type Output = ProjectList;

    fn describe() -> Describe {
        Describe::new("projects_list", "List the caller's projects in the app.")
            .title("List projects")
            .read_only(true)
            .apis(["app"])
    }

    fn call(ctx: &Context, _input: Input) -> Result<ProjectList, ToolError> {
        let url = format!("{}projects", ctx.api_url("app")?);
        let response = ctx.http().get(&url)?.error_for_status()?;
        Ok(response.json()?)
    }

    fn render(list: &ProjectList) -> String {
        let mut text = format!("{} project(s).\n", list.projects.len());
        for p in &list.projects {
            let line = format!("- {} [{}] (created {})\n", p.name, p.id, p.created_at);
            text.push_str(&line);
        }
        text
    }
}

toolhost_sdk::export_tool!(ProjectsList);
