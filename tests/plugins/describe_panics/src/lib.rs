//! A tool whose `describe` traps: loading it must fail cleanly.
use toolhost_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
struct Input {}

#[derive(Serialize, JsonSchema)]
struct Output {}

struct Broken;

impl Tool for Broken {
    type Input = Input;
    type Output = Output;

    fn describe() -> Describe {
        panic!("describe is broken on purpose")
    }

    fn call(_ctx: &Context, _input: Input) -> Result<Output, ToolError> {
        Ok(Output {})
    }
}

toolhost_sdk::export_tool!(Broken);
