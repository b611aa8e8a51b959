//! Reading the cell's YAML with positions: every value keeps the line and column it came from,
//! so every validation error can point at it.

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

use super::error::{did_you_mean, Location, SpecError};
use super::quantity::Quantity;

/// Nesting deeper than this is not a kaptain cell; refusing it keeps recursion bounded.
const MAX_DEPTH: usize = 32;

/// Parses one YAML document. `first_line` is the cell line the text starts on.
pub fn load(text: &str, first_line: usize) -> Result<Option<MarkedYamlOwned>, SpecError> {
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        SpecError::new("cell body", format!("is not valid YAML: {}", e.info()), "fix the YAML syntax")
            .at(Some(Location {
                line: e.marker().line() + first_line - 1,
                column: e.marker().col() + 1,
            }))
    })?;
    let mut docs = docs.into_iter();
    let doc = docs.next();
    if let Some(extra) = docs.next() {
        return Err(SpecError::new("cell body", "holds more than one YAML document", "remove the `---` separator")
            .at(Some(location(&extra, first_line))));
    }
    if let Some(doc) = &doc {
        check_depth(doc, first_line)?;
    }
    Ok(doc)
}

fn check_depth(root: &MarkedYamlOwned, first_line: usize) -> Result<(), SpecError> {
    let mut stack = vec![(root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(SpecError::new("cell body", format!("nests deeper than {MAX_DEPTH} levels"), "flatten the YAML")
                .at(Some(location(node, first_line))));
        }
        match &node.data {
            YamlDataOwned::Sequence(items) => stack.extend(items.iter().map(|n| (n, depth + 1))),
            YamlDataOwned::Mapping(map) => {
                stack.extend(map.iter().flat_map(|(k, v)| [(k, depth + 1), (v, depth + 1)]))
            }
            YamlDataOwned::Tagged(_, inner) => stack.push((inner, depth + 1)),
            _ => {}
        }
    }
    Ok(())
}

fn location(node: &MarkedYamlOwned, first_line: usize) -> Location {
    Location { line: node.span.start.line() + first_line - 1, column: node.span.start.col() + 1 }
}

/// A value in the cell with the name the user knows it by and where it is.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    yaml: &'a MarkedYamlOwned,
    path: &'a str,
    /// Flag values have no useful span of their own: they point at the flag.
    fixed_location: Option<Location>,
    first_line: usize,
}

/// A field name, owned, for child nodes (paths are built as the reader descends).
pub struct Field<'a> {
    pub key: &'a str,
    pub path: String,
    yaml: &'a MarkedYamlOwned,
    fixed_location: Option<Location>,
    first_line: usize,
}

impl<'a> Field<'a> {
    /// A value given on the `%%kaptain` line as a flag: errors point at the flag.
    pub fn flag(key: &'a str, path: String, yaml: &'a MarkedYamlOwned, at: Location) -> Self {
        Field { key, path, yaml, fixed_location: Some(at), first_line: 1 }
    }

    pub fn node(&self) -> Node<'_> {
        Node { yaml: self.yaml, path: &self.path, fixed_location: self.fixed_location, first_line: self.first_line }
    }
}

impl<'a> Node<'a> {
    pub fn root(yaml: &'a MarkedYamlOwned, path: &'a str, first_line: usize) -> Self {
        Node { yaml, path, fixed_location: None, first_line }
    }

    pub fn location(&self) -> Location {
        self.fixed_location.unwrap_or_else(|| location(self.yaml, self.first_line))
    }

    pub fn error(&self, problem: impl Into<String>, fix: impl Into<String>) -> SpecError {
        SpecError::new(self.path, problem, fix).at(Some(self.location()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.yaml.data, YamlDataOwned::Value(ScalarOwned::Null))
    }

    fn scalar(&self) -> Option<&'a ScalarOwned> {
        match &self.yaml.data {
            YamlDataOwned::Value(s) => Some(s),
            YamlDataOwned::Tagged(_, inner) => match &inner.data {
                YamlDataOwned::Value(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match &self.yaml.data {
            YamlDataOwned::Sequence(_) => "a list",
            YamlDataOwned::Mapping(_) => "a mapping",
            _ => match self.scalar() {
                Some(ScalarOwned::Null) => "empty",
                Some(ScalarOwned::Boolean(_)) => "a boolean",
                Some(ScalarOwned::Integer(_)) => "an integer",
                Some(ScalarOwned::FloatingPoint(_)) => "a number",
                Some(ScalarOwned::String(_)) => "a string",
                None => "not a plain value",
            },
        }
    }

    fn wrong_type(&self, expected: &str, example: &str) -> SpecError {
        self.error(format!("expected {expected}, found {}", self.kind()), format!("write it like `{example}`"))
    }

    /// The entries of a mapping, in the order written, with keys checked against `known`.
    pub fn mapping(&self, known: &[&str]) -> Result<Vec<Field<'a>>, SpecError> {
        let map = match &self.yaml.data {
            YamlDataOwned::Mapping(map) => map,
            _ if self.is_null() => return Ok(Vec::new()),
            _ => return Err(self.wrong_type("a mapping", "key: value")),
        };
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            let key_node = Node { yaml: key, ..*self };
            let Some(ScalarOwned::String(name)) = key_node.scalar() else {
                return Err(key_node.error("has a key that is not a name", "use plain names as keys"));
            };
            let path = if self.path.is_empty() { name.clone() } else { format!("{}.{name}", self.path) };
            if !known.is_empty() && !known.contains(&name.as_str()) {
                let fix = match did_you_mean(name, known.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("known keys: {}", known.join(", ")),
                };
                return Err(SpecError::new(path, "is not a known key", fix).at(Some(key_node.location())));
            }
            fields.push(Field {
                key: name,
                path,
                yaml: value,
                fixed_location: self.fixed_location,
                first_line: self.first_line,
            });
        }
        Ok(fields)
    }

    /// Items of a list (a single value counts as a list of one).
    pub fn items(&self) -> Vec<Field<'a>> {
        match &self.yaml.data {
            YamlDataOwned::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, yaml)| Field {
                    key: "",
                    path: format!("{}[{i}]", self.path),
                    yaml,
                    fixed_location: self.fixed_location,
                    first_line: self.first_line,
                })
                .collect(),
            _ => vec![Field {
                key: "",
                path: self.path.to_string(),
                yaml: self.yaml,
                fixed_location: self.fixed_location,
                first_line: self.first_line,
            }],
        }
    }

    pub fn is_list(&self) -> bool {
        matches!(self.yaml.data, YamlDataOwned::Sequence(_))
    }

    pub fn is_mapping(&self) -> bool {
        matches!(self.yaml.data, YamlDataOwned::Mapping(_))
    }

    /// A string. Integers are accepted as their digits; other numbers must be quoted, since YAML
    /// would turn `2.10` into `2.1`.
    pub fn string(&self) -> Result<String, SpecError> {
        match self.scalar() {
            Some(ScalarOwned::String(s)) => Ok(s.clone()),
            Some(ScalarOwned::Integer(i)) => Ok(i.to_string()),
            Some(ScalarOwned::FloatingPoint(_)) | Some(ScalarOwned::Boolean(_)) => Err(self.error(
                format!("expected a string, found {}", self.kind()),
                "put the value in quotes, e.g. \"2.5.0\"",
            )),
            _ => Err(self.wrong_type("a string", "name: value")),
        }
    }

    /// A non-empty string.
    pub fn text(&self) -> Result<String, SpecError> {
        let s = self.string()?;
        if s.trim().is_empty() {
            return Err(self.error("is empty", "give it a value"));
        }
        Ok(s)
    }

    pub fn boolean(&self) -> Result<bool, SpecError> {
        match self.scalar() {
            Some(ScalarOwned::Boolean(b)) => Ok(*b),
            _ => Err(self.wrong_type("true or false", "true")),
        }
    }

    pub fn integer(&self, min: i64, max: i64) -> Result<i64, SpecError> {
        match self.scalar() {
            Some(ScalarOwned::Integer(i)) if (min..=max).contains(i) => Ok(*i),
            Some(ScalarOwned::Integer(i)) => Err(self.error(
                format!("{i} is out of range"),
                format!("use a whole number from {min} to {max}"),
            )),
            _ => Err(self.wrong_type("a whole number", &min.max(1).to_string())),
        }
    }

    pub fn number(&self) -> Result<f64, SpecError> {
        match self.scalar() {
            Some(ScalarOwned::Integer(i)) => Ok(*i as f64),
            Some(ScalarOwned::FloatingPoint(f)) if f.is_finite() => Ok(f.into_inner()),
            _ => Err(self.wrong_type("a number", "0.01")),
        }
    }

    /// A number or string as its text, for values passed on to programs (hyperparameters).
    pub fn plain_text(&self) -> Result<String, SpecError> {
        match self.scalar() {
            Some(ScalarOwned::String(s)) => Ok(s.clone()),
            Some(ScalarOwned::Integer(i)) => Ok(i.to_string()),
            Some(ScalarOwned::FloatingPoint(f)) if f.is_finite() => Ok(f.into_inner().to_string()),
            Some(ScalarOwned::Boolean(b)) => Ok(b.to_string()),
            _ => Err(self.wrong_type("a number or a string", "0.01")),
        }
    }

    pub fn quantity(&self, example: &str) -> Result<Quantity, SpecError> {
        let text = match self.scalar() {
            Some(ScalarOwned::String(s)) => s.clone(),
            Some(ScalarOwned::Integer(i)) => i.to_string(),
            Some(ScalarOwned::FloatingPoint(f)) if f.is_finite() => f.into_inner().to_string(),
            _ => return Err(self.wrong_type("a quantity", example)),
        };
        Quantity::parse(&text).map_err(|problem| {
            self.error(problem, format!("use a number with an optional unit, e.g. {example}"))
        })
    }

    /// A duration in seconds: a whole number of seconds, or a number with s, m, h or d.
    pub fn duration_seconds(&self) -> Result<u32, SpecError> {
        let fix = "use seconds (3600) or a number with s, m, h or d (90m, 2h)";
        match self.scalar() {
            Some(ScalarOwned::Integer(i)) if (1..=i64::from(u32::MAX)).contains(i) => Ok(*i as u32),
            Some(ScalarOwned::String(s)) => {
                parse_duration(s).ok_or_else(|| self.error(format!("{:?} is not a duration", s.trim()), fix))
            }
            _ => Err(self.error(format!("expected a duration, found {}", self.kind()), fix)),
        }
    }

    /// A list of strings (a single string counts as a list of one).
    pub fn string_list(&self) -> Result<Vec<String>, SpecError> {
        self.items().iter().map(|item| item.node().text()).collect()
    }
}

/// Seconds in a duration written as a whole number of seconds or a number with s, m, h or d.
pub fn parse_duration(text: &str) -> Option<u32> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let scale: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| (1..=u64::from(u32::MAX)).contains(n))
        .map(|n| n as u32)
}
