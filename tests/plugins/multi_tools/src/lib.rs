//! One 0.2 component serving four tools: `multi_echo` (annotated
//! read-only), `multi_media` (every content kind), `multi_bad_block` (a
//! JSON content block of a kind the host does not know) and
//! `multi_progress` (progress reports and log messages for the client),
//! `multi_config` (the operator's configuration value of a key).

use toolhost_sdk::ClientLevel;
use toolhost_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
struct EchoInput {
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct Echoed {
    text: String,
    subject: String,
}

struct Echo;

impl Tool for Echo {
    type Input = EchoInput;
    type Output = Echoed;

    fn describe() -> Describe {
        Describe::new(
            "multi_echo",
            "Say the text back, with the caller's subject.",
        )
        .title("Echo")
        .read_only(true)
        .open_world(false)
    }

    fn call(ctx: &Context, input: EchoInput) -> Result<Echoed, ToolError> {
        Ok(Echoed {
            text: input.text,
            subject: ctx.principal.subject.clone(),
        })
    }
}

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

#[derive(Serialize, JsonSchema)]
struct Blocks {
    count: usize,
}

struct Media;

impl Tool for Media {
    type Input = Nothing;
    type Output = Blocks;

    fn describe() -> Describe {
        Describe::new("multi_media", "Return one block of every content kind.")
            .roles(["member"])
            .destructive(false)
            .idempotent(true)
    }

    fn call(_ctx: &Context, _input: Nothing) -> Result<Blocks, ToolError> {
        Ok(Blocks { count: 7 })
    }

    fn content(_output: &Blocks) -> Vec<Content> {
        vec![
            Content::text("seven blocks"),
            Content::image(b"\x89PNG".to_vec(), "image/png"),
            Content::audio(b"RIFF".to_vec(), "audio/wav"),
            Content::resource_link("notes://1", "note-1").described(
                Some("Note 1"),
                None,
                Some("text/markdown"),
            ),
            Content::embedded_text("notes://2", "text/plain", "the second note"),
            Content::embedded_blob("notes://3", "application/octet-stream", vec![0, 1, 2]),
            Content::mcp(&serde_json::json!({"type": "text", "text": "from JSON"})),
        ]
    }
}

struct BadBlock;

impl Tool for BadBlock {
    type Input = Nothing;
    type Output = Blocks;

    fn describe() -> Describe {
        Describe::new(
            "multi_bad_block",
            "Return a content block of an unknown kind.",
        )
    }

    fn call(_ctx: &Context, _input: Nothing) -> Result<Blocks, ToolError> {
        Ok(Blocks { count: 1 })
    }

    fn content(_output: &Blocks) -> Vec<Content> {
        vec![Content::mcp(
            &serde_json::json!({"type": "hologram", "data": "x"}),
        )]
    }
}

#[derive(Deserialize, JsonSchema)]
struct Steps {
    /// How many progress reports to make.
    #[schemars(range(min = 0, max = 1000))]
    steps: u32,
    /// Report the same progress twice each step (all but the first dropped).
    #[serde(default)]
    repeat: bool,
}

#[derive(Serialize, JsonSchema)]
struct Done {
    steps: u32,
}

struct Progress;

impl Tool for Progress {
    type Input = Steps;
    type Output = Done;

    fn describe() -> Describe {
        Describe::new(
            "multi_progress",
            "Report progress `steps` times and write a log message for the client at each level.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, input: Steps) -> Result<Done, ToolError> {
        let total = f64::from(input.steps);
        for i in 1..=input.steps {
            let done = f64::from(i);
            ctx.report_progress(done, Some(total), Some(&format!("step {i}")));
            if input.repeat {
                ctx.report_progress(done, Some(total), None);
            }
        }
        ctx.notify_client(ClientLevel::Debug, &serde_json::json!("debug detail"));
        ctx.notify_client(
            ClientLevel::Info,
            &serde_json::json!({"steps": input.steps}),
        );
        ctx.notify_client(ClientLevel::Warning, &serde_json::json!("a warning"));
        Ok(Done { steps: input.steps })
    }
}

#[derive(Deserialize, JsonSchema)]
struct Key {
    key: String,
}

#[derive(Serialize, JsonSchema)]
struct Configured {
    /// The value, or null when unset.
    value: Option<String>,
}

struct Config;

impl Tool for Config {
    type Input = Key;
    type Output = Configured;

    fn describe() -> Describe {
        Describe::new(
            "multi_config",
            "Say the operator's configuration value of `key` for this tool.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, input: Key) -> Result<Configured, ToolError> {
        Ok(Configured {
            value: ctx.config(&input.key),
        })
    }
}

toolhost_sdk::export_tools!(Echo, Media, BadBlock, Progress, Config);
