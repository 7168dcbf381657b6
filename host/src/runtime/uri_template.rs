//! Resource URIs and URI templates: what a component may declare, and how
//! a requested URI is matched against a template.
//!
//! A template is an absolute URI with RFC 6570 expressions of two kinds:
//! `{name}` (simple expansion) matches one or more characters other than
//! `/`, `?` and `#`; `{+name}` (reserved expansion) one or more other than
//! `?` and `#`. Two expressions must have literal text between them, so a
//! match is never ambiguous about where a value ends. The values handed to
//! the component are percent-decoded.

use percent_encoding::percent_decode_str;

/// Longest URI or template the host accepts (from a component or a client).
pub const MAX_URI_BYTES: usize = 2048;
/// Most expressions in one template.
const MAX_EXPRESSIONS: usize = 8;

/// Check that `uri` is an absolute URI a client can ask for.
pub fn check_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_BYTES {
        return Err(format!(
            "the URI is {} bytes, over {MAX_URI_BYTES}",
            uri.len()
        ));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the URI {uri:?} has white space or control characters"
        ));
    }
    url::Url::parse(uri)
        .map(|_| ())
        .map_err(|e| format!("{uri:?} is not an absolute URI: {e}"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A variable; `reserved` for `{+name}` (may hold `/`).
    Var {
        name: String,
        reserved: bool,
    },
}

/// A parsed, validated URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    text: String,
    parts: Vec<Part>,
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

impl UriTemplate {
    /// Parse `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_URI_BYTES {
            return Err(format!(
                "the URI template is {} bytes, over {MAX_URI_BYTES}",
                text.len()
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
                Some(at) if rest.as_bytes()[at] == b'}' => {
                    return Err(format!("{text:?}: a '}}' without its '{{'"));
                }
                Some(at) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    let after = &rest[at + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("{text:?}: a '{{' without its '}}'"))?;
                    let expr = &after[..end];
                    let (name, reserved) = match expr.strip_prefix('+') {
                        Some(name) => (name, true),
                        None => (expr, false),
                    };
                    if !is_var_name(name) {
                        return Err(format!(
                            "{text:?}: the expression {{{expr}}} is not supported: only {{name}} and {{+name}}, \
                             a name of 1 to 64 of a-z A-Z 0-9 _ ."
                        ));
                    }
                    if matches!(parts.last(), Some(Part::Var { .. })) {
                        return Err(format!("{text:?}: two expressions need text between them"));
                    }
                    if parts
                        .iter()
                        .any(|p| matches!(p, Part::Var { name: n, .. } if n == name))
                    {
                        return Err(format!("{text:?}: the variable {name:?} appears twice"));
                    }
                    parts.push(Part::Var {
                        name: name.to_owned(),
                        reserved,
                    });
                    rest = &after[end + 1..];
                }
            }
        }
        let vars = parts
            .iter()
            .filter(|p| matches!(p, Part::Var { .. }))
            .count();
        if vars == 0 {
            return Err(format!(
                "{text:?} has no expression: declare it as a resource, not a template"
            ));
        }
        if vars > MAX_EXPRESSIONS {
            return Err(format!(
                "{text:?} has {vars} expressions, over {MAX_EXPRESSIONS}"
            ));
        }
        // With every expression filled in, it must be an absolute URI.
        let example: String = parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.as_str(),
                Part::Var { .. } => "x",
            })
            .collect();
        check_uri(&example).map_err(|e| format!("{text:?}: filled in, {e}"))?;
        Ok(UriTemplate {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as declared.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How many literal characters it has: the more, the more specific.
    pub fn literal_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.len(),
                Part::Var { .. } => 0,
            })
            .sum()
    }

    /// The order in which templates are tried against a URI: the one with
    /// more literal text (the more specific) first, then by text.
    pub fn match_order(&self, other: &UriTemplate) -> std::cmp::Ordering {
        (other.literal_len().cmp(&self.literal_len())).then_with(|| self.text.cmp(&other.text))
    }

    /// The variables' values if `uri` matches, percent-decoded; `None` when
    /// it does not match or a value does not decode to UTF-8.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut values = Vec::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Var { name, reserved } => {
                    let stop = |c: char| c == '?' || c == '#' || (!reserved && c == '/');
                    // The value runs to the next literal (expressions are
                    // always separated by one), or to the end.
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => {
                            let limit = rest.find(stop).unwrap_or(rest.len());
                            let found = rest[..limit.min(rest.len())]
                                .match_indices(next.as_str())
                                .map(|(i, _)| i)
                                .find(|&i| i > 0);
                            // A literal starting with a stop character (e.g.
                            // `/`) lies exactly at the stop.
                            match found {
                                Some(i) => i,
                                None if limit > 0 && rest[limit..].starts_with(next.as_str()) => {
                                    limit
                                }
                                None => return None,
                            }
                        }
                        _ => {
                            if rest.contains(stop) {
                                return None;
                            }
                            rest.len()
                        }
                    };
                    if end == 0 {
                        return None;
                    }
                    let value = percent_decode_str(&rest[..end]).decode_utf8().ok()?;
                    values.push((name.clone(), value.into_owned()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(t: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(t).unwrap().matches(uri)
    }

    fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn simple_expressions_match_one_segment() {
        assert_eq!(
            vars("test://template/{id}/data", "test://template/123/data"),
            pairs(&[("id", "123")])
        );
        assert_eq!(
            vars("notes://{id}", "notes://01ABC"),
            pairs(&[("id", "01ABC")])
        );
        assert_eq!(vars("notes://{id}", "notes://a/b"), None);
        assert_eq!(vars("notes://{id}", "notes://"), None);
        assert_eq!(
            vars("test://template/{id}/data", "test://template//data"),
            None
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template/1/datax"),
            None
        );
        assert_eq!(vars("notes://{id}", "notes://a?b"), None);
        assert_eq!(
            vars("app://{org}/{repo}", "app://acme/tools"),
            pairs(&[("org", "acme"), ("repo", "tools")])
        );
        assert_eq!(
            vars("app://{a}-{b}", "app://1-2-3"),
            pairs(&[("a", "1"), ("b", "2-3")])
        );
    }

    #[test]
    fn reserved_expressions_span_segments_and_values_are_decoded() {
        assert_eq!(
            vars("file:///{+path}", "file:///a/b/c.txt"),
            pairs(&[("path", "a/b/c.txt")])
        );
        assert_eq!(
            vars("notes://{id}", "notes://a%20b"),
            pairs(&[("id", "a b")])
        );
        assert_eq!(vars("notes://{id}", "notes://%ff"), None, "not UTF-8");
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        for (t, why) in [
            ("notes://{id", "without its"),
            ("notes://id}", "without its"),
            ("notes://{?q}", "not supported"),
            ("notes://{#x}", "not supported"),
            ("notes://{}", "not supported"),
            ("notes://{a}{b}", "text between"),
            ("notes://{a}/{a}", "twice"),
            ("notes://fixed", "no expression"),
            ("{id}", "absolute URI"),
            ("not a uri {x}", "white space"),
            ("relative/{x}", "absolute URI"),
        ] {
            let e = UriTemplate::parse(t).unwrap_err();
            assert!(e.contains(why), "{t}: {e}");
        }
        assert!(UriTemplate::parse(&format!("a://{}{{x}}", "y".repeat(3000))).is_err());
    }

    #[test]
    fn uris_are_checked() {
        assert!(check_uri("test://static-text").is_ok());
        assert!(check_uri("https://example.com/a").is_ok());
        assert!(check_uri("relative/path").is_err());
        assert!(check_uri("test://a b").is_err());
        assert!(check_uri(&format!("a://{}", "b".repeat(3000))).is_err());
    }

    #[test]
    fn more_literal_text_is_more_specific() {
        let a = UriTemplate::parse("notes://{id}").unwrap();
        let b = UriTemplate::parse("notes://pinned/{id}").unwrap();
        assert!(b.literal_len() > a.literal_len());
    }
}
