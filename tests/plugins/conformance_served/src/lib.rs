//! The resources and resource templates the official MCP conformance suite
//! reads, as one 0.2 component that serves no tool and no prompt: each
//! returns what its scenario checks for. The suite's prompts are in
//! `tests/py_plugins/conformance_py`.

use toolhost_sdk::prelude::*;

/// A 1x1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

struct StaticText;

impl Resource for StaticText {
    fn describe() -> DescribeResource {
        DescribeResource::fixed("test://static-text", "static-text")
            .description("A static text resource.")
            .mime_type("text/plain")
    }

    fn read(_ctx: &Context, request: &ResourceRequest) -> Result<Vec<Contents>, ToolError> {
        Ok(vec![Contents::text(
            &request.uri,
            "text/plain",
            "This is the content of the static text resource.",
        )])
    }
}

struct StaticBinary;

impl Resource for StaticBinary {
    fn describe() -> DescribeResource {
        DescribeResource::fixed("test://static-binary", "static-binary")
            .description("A static binary resource (a PNG image).")
            .mime_type("image/png")
    }

    fn read(_ctx: &Context, request: &ResourceRequest) -> Result<Vec<Contents>, ToolError> {
        Ok(vec![Contents::blob(
            &request.uri,
            "image/png",
            PNG.to_vec(),
        )])
    }
}

struct Watched;

impl Resource for Watched {
    fn describe() -> DescribeResource {
        DescribeResource::fixed("test://watched-resource", "watched-resource")
            .description("A resource clients subscribe to.")
            .mime_type("text/plain")
    }

    fn read(_ctx: &Context, request: &ResourceRequest) -> Result<Vec<Contents>, ToolError> {
        Ok(vec![Contents::text(
            &request.uri,
            "text/plain",
            "Watched resource content.",
        )])
    }
}

struct Template;

impl Resource for Template {
    fn describe() -> DescribeResource {
        DescribeResource::template("test://template/{id}/data", "template-data")
            .description("Data for one id, from a template.")
            .mime_type("application/json")
    }

    fn read(_ctx: &Context, request: &ResourceRequest) -> Result<Vec<Contents>, ToolError> {
        let id = request
            .var("id")
            .ok_or_else(|| ToolError::InvalidInput("the template has no id".into()))?;
        let body = serde_json::json!({
            "id": id,
            "templateTest": true,
            "data": format!("Data for ID: {id}"),
        });
        Ok(vec![Contents::text(
            &request.uri,
            "application/json",
            body.to_string(),
        )])
    }
}

toolhost_sdk::export_component! {
    tools: [],
    resources: [StaticText, StaticBinary, Watched, Template],
    prompts: [],
}
