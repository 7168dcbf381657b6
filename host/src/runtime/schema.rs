//! JSON Schema checks of a tool's arguments and structured output.

use serde_json::Value;

/// Most violations reported for one document; the rest are counted.
const MAX_REPORTED: usize = 10;

/// A compiled JSON Schema of an object (a tool's input or output).
pub struct ObjectSchema {
    schema: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for ObjectSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectSchema")
            .field("schema", &self.schema)
            .finish()
    }
}

impl ObjectSchema {
    /// Parse and compile `text`, which must be a JSON Schema whose top-level
    /// `type` is `"object"` (MCP requires this of tool schemas).
    pub fn compile(text: &str) -> Result<Self, String> {
        let schema: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        if schema.get("type") != Some(&Value::String("object".into())) {
            return Err("the top-level \"type\" must be \"object\"".into());
        }
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("not a valid JSON Schema: {e}"))?;
        Ok(ObjectSchema { schema, validator })
    }

    /// The schema as JSON.
    pub fn as_json(&self) -> &Value {
        &self.schema
    }

    /// Every violation of the schema by `value`, each naming the location and
    /// the rule, e.g. `/title: "" is shorter than 1 character`. Empty when valid.
    pub fn violations(&self, value: &Value) -> Vec<String> {
        if self.validator.is_valid(value) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut extra = 0usize;
        for e in self.validator.iter_errors(value) {
            if out.len() == MAX_REPORTED {
                extra += 1;
                continue;
            }
            let path = e.instance_path().to_string();
            let at = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            out.push(format!("{at}: {e}"));
        }
        if extra > 0 {
            out.push(format!("and {extra} more"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notes_schema() -> ObjectSchema {
        ObjectSchema::compile(
            &json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 120},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100}
                },
                "required": ["title"],
                "additionalProperties": false
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn violations_name_the_field_and_the_rule() {
        let s = notes_schema();
        assert!(s.violations(&json!({"title": "ok"})).is_empty());
        let v = s.violations(&json!({"title": "x".repeat(121)}));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with("/title: ") && v[0].contains("longer than 120"),
            "{v:?}"
        );
        let v = s.violations(&json!({"limit": 0}));
        assert!(
            v.iter()
                .any(|m| m.contains("title") && m.contains("required")),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|m| m.starts_with("/limit: ") && m.contains("minimum")),
            "{v:?}"
        );
        let v = s.violations(&json!({"title": "a", "colour": "red"}));
        assert!(v[0].contains("colour"), "{v:?}");
    }

    #[test]
    fn schemas_must_describe_objects() {
        assert!(ObjectSchema::compile("{").unwrap_err().contains("JSON"));
        assert!(
            ObjectSchema::compile(r#"{"type":"string"}"#)
                .unwrap_err()
                .contains("object")
        );
        let bad = ObjectSchema::compile(r#"{"type":"object","minProperties":"two"}"#);
        assert!(bad.unwrap_err().contains("JSON Schema"));
    }
}
