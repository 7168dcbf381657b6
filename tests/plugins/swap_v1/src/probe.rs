// Shared by swap_v1 and swap_v2: the same tool name, a version taken from the
// crate name, so replacing one file with the other is observable.
use toolhost_sdk::prelude::*;

const VERSION: u32 = if env!("CARGO_PKG_NAME").as_bytes()[6] == b'2' { 2 } else { 1 };

#[derive(Deserialize, JsonSchema)]
struct Input {}

#[derive(Serialize, JsonSchema)]
struct Output {
    version: u32,
}

struct Probe;

impl Tool for Probe {
    type Input = Input;
    type Output = Output;

    fn describe() -> Describe {
        Describe::new("swap_probe", format!("Reports its version: {VERSION}."))
    }

    fn call(_ctx: &Context, _input: Input) -> Result<Output, ToolError> {
        Ok(Output { version: VERSION })
    }
}

toolhost_sdk::export_tool!(Probe);
