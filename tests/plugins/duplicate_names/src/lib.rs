//! A 0.2 component that declares the same tool name twice: the host must
//! refuse to load it.

use toolhost_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

#[derive(Serialize, JsonSchema)]
struct Done {}

struct First;

impl Tool for First {
    type Input = Nothing;
    type Output = Done;

    fn describe() -> Describe {
        Describe::new("twice", "The first of two tools with one name.")
    }

    fn call(_ctx: &Context, _input: Nothing) -> Result<Done, ToolError> {
        Ok(Done {})
    }
}

struct Second;

impl Tool for Second {
    type Input = Nothing;
    type Output = Done;

    fn describe() -> Describe {
        Describe::new("twice", "The second of two tools with one name.")
    }

    fn call(_ctx: &Context, _input: Nothing) -> Result<Done, ToolError> {
        Ok(Done {})
    }
}

toolhost_sdk::export_tools!(First, Second);
