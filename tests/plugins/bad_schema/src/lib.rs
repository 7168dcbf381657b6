//! A tool whose input schema is not an object schema: loading must refuse it.
use toolhost_sdk::prelude::*;

#[derive(Serialize, JsonSchema)]
struct Output {}

struct BadSchema;

impl Tool for BadSchema {
    /// A bare string: MCP requires the arguments to be an object.
    type Input = String;
    type Output = Output;

    fn describe() -> Describe {
        Describe::new("bad_schema", "Declares a string as its arguments.")
    }

    fn call(_ctx: &Context, _input: String) -> Result<Output, ToolError> {
        Ok(Output {})
    }
}

toolhost_sdk::export_tool!(BadSchema);
