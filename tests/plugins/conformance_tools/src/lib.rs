//! The tools the official MCP conformance suite calls, as one 0.2
//! component: each returns what its scenario checks for.

use toolhost_sdk::ClientLevel;
use toolhost_sdk::prelude::*;

/// No arguments, and nothing structured back: the scenarios read content.
#[derive(Deserialize, JsonSchema)]
struct Nothing {}

#[derive(Serialize, JsonSchema)]
struct Empty {}

/// A 1x1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// A WAV header with no samples.
const WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00\x88\x58\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00";

/// A tool that answers with fixed content blocks.
macro_rules! fixed {
    ($ty:ident, $name:literal, $description:literal, $content:expr) => {
        struct $ty;

        impl Tool for $ty {
            type Input = Nothing;
            type Output = Empty;

            fn describe() -> Describe {
                Describe::new($name, $description).read_only(true)
            }

            fn call(_ctx: &Context, _input: Nothing) -> Result<Empty, ToolError> {
                Ok(Empty {})
            }

            fn content(_output: &Empty) -> Vec<Content> {
                $content
            }
        }
    };
}

fixed!(
    SimpleText,
    "test_simple_text",
    "Returns simple text.",
    vec![Content::text("This is a simple text response for testing.")]
);
fixed!(
    Image,
    "test_image_content",
    "Returns an image.",
    vec![Content::image(PNG.to_vec(), "image/png")]
);
fixed!(
    Audio,
    "test_audio_content",
    "Returns audio.",
    vec![Content::audio(WAV.to_vec(), "audio/wav")]
);
fixed!(
    Embedded,
    "test_embedded_resource",
    "Returns an embedded resource.",
    vec![Content::embedded_text(
        "test://embedded-resource",
        "text/plain",
        "This is an embedded resource content."
    )]
);
fixed!(
    Mixed,
    "test_multiple_content_types",
    "Returns text, an image and an embedded resource.",
    vec![
        Content::text("Multiple content types test:"),
        Content::image(PNG.to_vec(), "image/png"),
        Content::embedded_text(
            "test://mixed-content-resource",
            "application/json",
            r#"{"test":"data","value":123}"#
        ),
    ]
);

struct Logging;

impl Tool for Logging {
    type Input = Nothing;
    type Output = Empty;

    fn describe() -> Describe {
        Describe::new(
            "test_tool_with_logging",
            "Sends three log messages while it runs.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, _input: Nothing) -> Result<Empty, ToolError> {
        for message in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ] {
            ctx.notify_client(ClientLevel::Info, &serde_json::json!(message));
        }
        Ok(Empty {})
    }

    fn content(_output: &Empty) -> Vec<Content> {
        vec![Content::text("Tool with logging executed successfully")]
    }
}

struct Failing;

impl Tool for Failing {
    type Input = Nothing;
    type Output = Empty;

    fn describe() -> Describe {
        Describe::new("test_error_handling", "Always fails, with a message.").read_only(true)
    }

    fn call(_ctx: &Context, _input: Nothing) -> Result<Empty, ToolError> {
        Err(ToolError::Failed(
            "This tool intentionally returns an error for testing".into(),
        ))
    }
}

struct Progress;

impl Tool for Progress {
    type Input = Nothing;
    type Output = Empty;

    fn describe() -> Describe {
        Describe::new("test_tool_with_progress", "Reports progress three times.").read_only(true)
    }

    fn call(ctx: &Context, _input: Nothing) -> Result<Empty, ToolError> {
        for done in [0.0, 50.0, 100.0] {
            ctx.report_progress(done, Some(100.0), Some(&format!("{done}% done")));
        }
        Ok(Empty {})
    }

    fn content(_output: &Empty) -> Vec<Content> {
        vec![Content::text("Progress test completed")]
    }
}

struct Schema2020;

impl Tool for Schema2020 {
    type Input = serde_json::Value;
    type Output = Empty;

    fn describe() -> Describe {
        Describe::new(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features",
        )
        .read_only(true)
    }

    fn input_schema() -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                }
            },
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"}
            },
            "additionalProperties": false
        }))
    }

    fn call(_ctx: &Context, _input: serde_json::Value) -> Result<Empty, ToolError> {
        Ok(Empty {})
    }
}

/// A text answer (also the structured result).
#[derive(Serialize, JsonSchema)]
struct Answer {
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct PromptInput {
    /// The prompt to send to the client's model.
    prompt: String,
}

struct Sampling;

impl Tool for Sampling {
    type Input = PromptInput;
    type Output = Answer;

    fn describe() -> Describe {
        Describe::new(
            "test_sampling",
            "Asks the client's model to complete a prompt.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, input: PromptInput) -> Result<Answer, ToolError> {
        let result = ctx.sample(&serde_json::json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": input.prompt}}],
            "maxTokens": 100,
        }))?;
        let text = result["content"]["text"].as_str().unwrap_or_default();
        Ok(Answer {
            text: format!("LLM response: {text}"),
        })
    }

    fn content(output: &Answer) -> Vec<Content> {
        vec![Content::text(output.text.clone())]
    }
}

#[derive(Deserialize, JsonSchema)]
struct MessageInput {
    /// The message to show the user.
    message: String,
}

/// The answer as the scenarios print it.
fn answered(prefix: &str, answer: Elicitation) -> Answer {
    let (action, content) = match answer {
        Elicitation::Accepted(content) => ("accept", content),
        Elicitation::Declined => ("decline", serde_json::json!({})),
        Elicitation::Cancelled => ("cancel", serde_json::json!({})),
    };
    Answer {
        text: format!("{prefix}: action={action}, content={content}"),
    }
}

struct Elicit;

impl Tool for Elicit {
    type Input = MessageInput;
    type Output = Answer;

    fn describe() -> Describe {
        Describe::new(
            "test_elicitation",
            "Asks the user for a username and an e-mail address.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, input: MessageInput) -> Result<Answer, ToolError> {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}
            },
            "required": ["username", "email"]
        });
        Ok(answered(
            "User response",
            ctx.elicit(&input.message, &schema)?,
        ))
    }

    fn content(output: &Answer) -> Vec<Content> {
        vec![Content::text(output.text.clone())]
    }
}

struct ElicitDefaults;

impl Tool for ElicitDefaults {
    type Input = Nothing;
    type Output = Answer;

    fn describe() -> Describe {
        Describe::new(
            "test_elicitation_sep1034_defaults",
            "Asks the user for input with a default for every primitive type.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, _input: Nothing) -> Result<Answer, ToolError> {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active"
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": true}
            },
            "required": []
        });
        let answer = ctx.elicit(
            "Test client default value handling - please accept with defaults",
            &schema,
        )?;
        Ok(answered("Elicitation completed", answer))
    }

    fn content(output: &Answer) -> Vec<Content> {
        vec![Content::text(output.text.clone())]
    }
}

struct ElicitEnums;

impl Tool for ElicitEnums {
    type Input = Nothing;
    type Output = Answer;

    fn describe() -> Describe {
        Describe::new(
            "test_elicitation_sep1330_enums",
            "Asks the user to choose, in every enum form.",
        )
        .read_only(true)
    }

    fn call(ctx: &Context, _input: Nothing) -> Result<Answer, ToolError> {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "untitledSingle": {
                    "type": "string",
                    "description": "Untitled single-select",
                    "enum": ["option1", "option2", "option3"]
                },
                "titledSingle": {
                    "type": "string",
                    "description": "Titled single-select",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"}
                    ]
                },
                "legacyEnum": {
                    "type": "string",
                    "description": "Legacy titled enum",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"]
                },
                "untitledMulti": {
                    "type": "array",
                    "description": "Untitled multi-select",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]}
                },
                "titledMulti": {
                    "type": "array",
                    "description": "Titled multi-select",
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}
                        ]
                    }
                }
            },
            "required": []
        });
        let answer = ctx.elicit("Test enum schema variants", &schema)?;
        Ok(answered("Elicitation completed", answer))
    }

    fn content(output: &Answer) -> Vec<Content> {
        vec![Content::text(output.text.clone())]
    }
}

toolhost_sdk::export_tools!(
    SimpleText,
    Image,
    Audio,
    Embedded,
    Mixed,
    Logging,
    Failing,
    Progress,
    Schema2020,
    Sampling,
    Elicit,
    ElicitDefaults,
    ElicitEnums
);
