//! The tool of the official MCP conformance suite that stays in Rust, as one
//! 0.2 component: `json_schema_2020_12_tool`, whose input schema is written
//! out with JSON Schema 2020-12 features (`$defs`, `$ref`). The suite's
//! other tools are in `tests/js_plugins/conformance_js` (content, errors,
//! logging, progress) and `tests/py_plugins/conformance_py` (sampling and
//! elicitation).

use toolhost_sdk::prelude::*;

#[derive(Serialize, JsonSchema)]
struct Empty {}

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

toolhost_sdk::export_tools!(Schema2020);
