//! JSON Schema checks of a tool's arguments and structured output.

use serde_json::Value;

/// Most violations reported for one document; the rest are counted.
const MAX_REPORTED: usize = 10;
/// Longest value quoted in a violation; a longer one is cut, with its size.
const MAX_QUOTED: usize = 64;

/// Why a schema is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(String);

/// `value` as a violation quotes it: whole when short, else its start and
/// its size, so a 100 000-character string does not come back whole.
fn quote(value: &Value) -> Option<String> {
    let shown = value.to_string();
    if shown.len() <= MAX_QUOTED {
        return None;
    }
    let cut: String = shown.chars().take(MAX_QUOTED).collect();
    Some(match value {
        Value::String(text) => format!("{cut}…\" ({} characters)", text.chars().count()),
        _ => format!("{cut}… ({} bytes of JSON)", shown.len()),
    })
}

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
    pub fn compile(text: &str) -> Result<Self, SchemaError> {
        let schema: Value =
            serde_json::from_str(text).map_err(|e| SchemaError(format!("not valid JSON: {e}")))?;
        if schema.get("type") != Some(&Value::String("object".into())) {
            return Err(SchemaError(
                "the top-level \"type\" must be \"object\"".into(),
            ));
        }
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| SchemaError(format!("not a valid JSON Schema: {e}")))?;
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
            let mut message = e.to_string();
            if let Some(short) = quote(e.instance()) {
                message = message.replacen(&e.instance().to_string(), &short, 1);
            }
            out.push(format!("{at}: {message}"));
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
        let long = s.violations(&json!({"title": "y".repeat(100_000)}));
        assert!(
            long[0].len() < 200 && long[0].contains("100000 characters"),
            "a long value is cut, with its size: {long:?}"
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
        let error = |text: &str| ObjectSchema::compile(text).unwrap_err().to_string();
        assert!(error("{").contains("JSON"));
        assert!(error(r#"{"type":"string"}"#).contains("object"));
        assert!(error(r#"{"type":"object","minProperties":"two"}"#).contains("JSON Schema"));
    }
}
