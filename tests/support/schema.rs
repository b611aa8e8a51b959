//! A validator for Kubernetes *structural* OpenAPI v3 schemas, as CustomResourceDefinitions
//! carry them, and a loader for CRD YAML files.
//!
//! It stands in for the API server's checks on a custom resource: value validation (types,
//! enums, bounds, patterns, required fields, list uniqueness) and, above all, *pruning*: a field
//! the schema does not know is silently dropped by the API server, so here it is an error — a
//! manifest that says something the cluster throws away is wrong.
//!
//! Not covered: `x-kubernetes-validations` (CEL rules; the upstream CRDs used here only carry
//! transition rules, which need an old object), `format`s other than int32/int64 (the few
//! `date-time` fields are status fields kaptain never sets), and defaulting.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------------
// Errors and paths

/// One problem, at a JSON path such as `spec.tfReplicaSpecs.Chief.template.spec.containers[0].foo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Field(String),
    Index(usize),
}

fn render_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            // Keys such as label names hold dots and slashes: quote them so the path stays readable.
            Segment::Field(key) if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
                out.push_str(&format!("[{key:?}]"))
            }
            Segment::Field(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Validation entry points

/// Whether `metadata.name` must be present: top-level objects need one; a template embedded in
/// another object (Katib's trialSpec) gets its name from the controller that instantiates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Required,
    Optional,
}

/// Validates a whole resource (apiVersion, kind, metadata at its root) against a CRD version's
/// `openAPIV3Schema`.
pub fn validate_resource(schema: &Value, object: &Value, name: NameRule) -> Vec<SchemaError> {
    let mut walker = Walker::new(name);
    match object.as_object() {
        Some(_) => walker.node(schema, object, Mode::Structural, Position::ResourceRoot),
        None => walker.error("a resource must be a JSON object"),
    }
    walker.errors
}

/// Validates any value against a schema (no resource root: apiVersion/kind/metadata are
/// ordinary fields here).
pub fn validate(schema: &Value, value: &Value) -> Vec<SchemaError> {
    let mut walker = Walker::new(NameRule::Optional);
    walker.node(schema, value, Mode::Structural, Position::Nested);
    walker.errors
}

/// What can be checked of an object with no CRD (core kinds built from k8s-openapi types):
/// apiVersion, kind and a well-formed metadata with a name.
pub fn validate_core_object(object: &Value) -> Vec<SchemaError> {
    let mut walker = Walker::new(NameRule::Required);
    let Some(fields) = object.as_object() else {
        walker.error("a resource must be a JSON object");
        return walker.errors;
    };
    walker.resource_header(fields, NameRule::Required);
    walker.errors
}

// ---------------------------------------------------------------------------------------------
// The walker

/// Structural: the schema says what exists, anything else is pruned. ValueOnly: inside
/// anyOf/allOf/oneOf/not, which only restrict values and never decide what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Structural,
    ValueOnly,
}

/// The root of a resource (and an `x-kubernetes-embedded-resource`) implicitly holds
/// apiVersion, kind and an ObjectMeta, whatever its schema says about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    ResourceRoot,
    Nested,
}

struct Walker {
    path: Vec<Segment>,
    errors: Vec<SchemaError>,
    root_name: NameRule,
}

impl Walker {
    fn new(root_name: NameRule) -> Walker {
        Walker { path: Vec::new(), errors: Vec::new(), root_name }
    }

    /// A fresh walker at the same path, to try a branch of anyOf/oneOf/not without keeping its errors.
    fn branch(&self) -> Walker {
        Walker { path: self.path.clone(), errors: Vec::new(), root_name: self.root_name }
    }

    fn error(&mut self, message: impl Into<String>) {
        self.errors.push(SchemaError { path: render_path(&self.path), message: message.into() });
    }

    fn error_at(&mut self, key: &str, message: impl Into<String>) {
        self.path.push(Segment::Field(key.to_string()));
        self.error(message);
        self.path.pop();
    }

    fn node(&mut self, schema: &Value, value: &Value, mode: Mode, position: Position) {
        let Some(schema) = schema.as_object() else {
            self.error(format!("the schema here is not an object but {}", type_name(schema)));
            return;
        };
        if value.is_null() {
            // The API server prunes a null it may not keep, so the field the manifest sets is lost.
            if mode == Mode::Structural && !flag(schema, "nullable") {
                self.error("is null but the schema is not nullable: the API server drops it");
            }
            return;
        }
        if flag(schema, "x-kubernetes-int-or-string") && !(is_integer(value) || value.is_string()) {
            self.error(format!(
                "must be an integer or a string (x-kubernetes-int-or-string), found {}",
                type_name(value)
            ));
            return;
        }
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            if !type_matches(expected, value) {
                self.error(format!("must be of type {expected}, found {}", type_name(value)));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                self.error(format!("{value} is not one of the allowed values [{}]", list.join(", ")));
            }
        }
        match value {
            Value::String(text) => self.string(schema, text),
            Value::Number(number) => self.number(schema, number),
            Value::Array(items) => self.array(schema, items, mode),
            Value::Object(fields) => self.object(schema, fields, mode, position),
            Value::Bool(_) | Value::Null => {}
        }
        self.combinators(schema, value);
    }

    fn string(&mut self, schema: &Map<String, Value>, text: &str) {
        let length = text.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if length > max {
                self.error(format!("is {length} characters long, more than maxLength {max}"));
            }
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if length < min {
                self.error(format!("is {length} characters long, less than minLength {min}"));
            }
        }
        if let Some(source) = schema.get("pattern").and_then(Value::as_str) {
            match pattern::Pattern::compile(source) {
                Ok(compiled) if compiled.is_match(text) => {}
                Ok(_) => self.error(format!("{text:?} does not match the pattern {source}")),
                Err(why) => self.error(format!("pattern {source} cannot be checked by this test's matcher ({why})")),
            }
        }
    }

    fn number(&mut self, schema: &Map<String, Value>, number: &Number) {
        match schema.get("format").and_then(Value::as_str) {
            Some("int32") if number.as_i64().is_none_or(|n| i32::try_from(n).is_err()) => {
                self.error(format!("{number} does not fit format int32"))
            }
            Some("int64") if number.as_i64().is_none() => self.error(format!("{number} does not fit format int64")),
            _ => {}
        }
        let Some(value) = number.as_f64() else { return };
        let exclusive = |key| flag(schema, key);
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if value < min || (exclusive("exclusiveMinimum") && value == min) {
                self.error(format!("{number} is below the minimum {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if value > max || (exclusive("exclusiveMaximum") && value == max) {
                self.error(format!("{number} is above the maximum {max}"));
            }
        }
    }

    fn array(&mut self, schema: &Map<String, Value>, items: &[Value], mode: Mode) {
        let count = items.len() as u64;
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if count > max {
                self.error(format!("has {count} items, more than maxItems {max}"));
            }
        }
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if count < min {
                self.error(format!("has {count} items, fewer than minItems {min}"));
            }
        }
        let item_schema = schema.get("items");
        for (index, item) in items.iter().enumerate() {
            self.path.push(Segment::Index(index));
            match item_schema {
                Some(item_schema) => self.node(item_schema, item, mode, Position::Nested),
                // A structural schema always describes its items; without it the API server prunes them.
                None if mode == Mode::Structural && !flag(schema, "x-kubernetes-preserve-unknown-fields") => {
                    self.error("the schema does not describe the items of this array")
                }
                None => {}
            }
            self.path.pop();
        }
        self.list_uniqueness(schema, items);
    }

    /// `x-kubernetes-list-type: set|map`: the API server refuses duplicates (for a map, items
    /// with the same values of the map keys; a missing key counts as its default).
    fn list_uniqueness(&mut self, schema: &Map<String, Value>, items: &[Value]) {
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for (index, item) in items.iter().enumerate() {
                    if !seen.insert(item.to_string()) {
                        self.path.push(Segment::Index(index));
                        self.error(format!("duplicate entry {item} in a list of type set"));
                        self.path.pop();
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let item_properties = schema.get("items").and_then(|s| s.get("properties"));
                let mut seen = BTreeMap::new();
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Segment::Index(index));
                    let mut identity = Vec::new();
                    for key in &keys {
                        let default = item_properties.and_then(|p| p.get(*key)).and_then(|s| s.get("default"));
                        match item.get(*key).or(default) {
                            Some(value) => identity.push(value.to_string()),
                            None => self.error_at(key, "is a list-map key of this list, so every item needs it"),
                        }
                    }
                    if let Some(first) = seen.insert(identity.join(","), index) {
                        self.error(format!("duplicate entry: same {} as item [{first}]", keys.join("/")));
                    }
                    self.path.pop();
                }
            }
            _ => {}
        }
    }

    fn object(&mut self, schema: &Map<String, Value>, fields: &Map<String, Value>, mode: Mode, position: Position) {
        let embedded = flag(schema, "x-kubernetes-embedded-resource");
        let resource_like = position == Position::ResourceRoot || embedded;
        let preserve_unknown = flag(schema, "x-kubernetes-preserve-unknown-fields");
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");

        for (key, child) in fields {
            if resource_like && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue; // checked by resource_header, as the API server checks ObjectMeta itself
            }
            self.path.push(Segment::Field(key.clone()));
            if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                self.node(child_schema, child, mode, Position::Nested);
            } else {
                match additional {
                    Some(additional @ Value::Object(_)) => self.node(additional, child, mode, Position::Nested),
                    Some(Value::Bool(true)) => {}
                    Some(Value::Bool(false)) => self.error("field not allowed here (additionalProperties: false)"),
                    _ if preserve_unknown || mode == Mode::ValueOnly => {}
                    _ => self.error("unknown field: the schema does not declare it, so the API server prunes it"),
                }
            }
            self.path.pop();
        }

        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(key) {
                    self.error_at(key, "required field is missing");
                }
            }
        }
        let count = fields.len() as u64;
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
            if count > max {
                self.error(format!("has {count} fields, more than maxProperties {max}"));
            }
        }
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
            if count < min {
                self.error(format!("has {count} fields, fewer than minProperties {min}"));
            }
        }

        match position {
            Position::ResourceRoot => self.resource_header(fields, self.root_name),
            // An embedded resource needs apiVersion and kind (the API server says so); its name is optional.
            Position::Nested if embedded => self.resource_header(fields, NameRule::Optional),
            Position::Nested => {}
        }
    }

    /// apiVersion, kind and metadata of a resource (or an embedded one).
    fn resource_header(&mut self, fields: &Map<String, Value>, name: NameRule) {
        for key in ["apiVersion", "kind"] {
            match fields.get(key) {
                Some(Value::String(text)) if !text.is_empty() => {}
                Some(Value::String(_)) => self.error_at(key, "must not be empty"),
                Some(other) => self.error_at(key, format!("must be a string, found {}", type_name(other))),
                None => self.error_at(key, "required field is missing"),
            }
        }
        match fields.get("metadata") {
            Some(meta) => {
                self.path.push(Segment::Field("metadata".into()));
                self.object_meta(meta, name);
                self.path.pop();
            }
            None if name == NameRule::Required => self.error_at("metadata", "required field is missing"),
            None => {}
        }
    }

    /// ObjectMeta, as the API server validates it whatever the CRD says: known fields only
    /// (others are dropped), string name/namespace, label and annotation maps of strings.
    fn object_meta(&mut self, meta: &Value, name: NameRule) {
        const FIELDS: &[&str] = &[
            "name",
            "generateName",
            "namespace",
            "labels",
            "annotations",
            "ownerReferences",
            "finalizers",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ];
        let Some(fields) = meta.as_object() else {
            self.error(format!("must be an object, found {}", type_name(meta)));
            return;
        };
        for (key, value) in fields {
            self.path.push(Segment::Field(key.clone()));
            match key.as_str() {
                "name" | "generateName" => match value.as_str() {
                    Some(text) if key == "name" && !is_dns1123_subdomain(text) => self.error(format!(
                        "{text:?} is not a DNS-1123 subdomain (lowercase letters, digits, '-', '.'; at most 253)"
                    )),
                    Some(_) => {}
                    None => self.error(format!("must be a string, found {}", type_name(value))),
                },
                "namespace" => match value.as_str() {
                    Some(text) if !is_dns1123_label(text) => self.error(format!("{text:?} is not a DNS-1123 label")),
                    Some(_) => {}
                    None => self.error(format!("must be a string, found {}", type_name(value))),
                },
                "labels" => self.string_map(value, true),
                "annotations" => self.string_map(value, false),
                "finalizers" => match value.as_array() {
                    Some(items) if items.iter().all(Value::is_string) => {}
                    _ => self.error("must be an array of strings"),
                },
                known if FIELDS.contains(&known) => {}
                _ => self.error("unknown ObjectMeta field: the API server drops it"),
            }
            self.path.pop();
        }
        let named = fields.contains_key("name") || fields.contains_key("generateName");
        if name == NameRule::Required && !named {
            self.error_at("name", "required field is missing");
        }
    }

    fn string_map(&mut self, value: &Value, labels: bool) {
        let Some(entries) = value.as_object() else {
            self.error(format!("must be a map of strings, found {}", type_name(value)));
            return;
        };
        for (key, entry) in entries {
            self.path.push(Segment::Field(key.clone()));
            match entry.as_str() {
                None => self.error(format!("must be a string, found {}", type_name(entry))),
                Some(text) if labels && !is_label_value(text) => {
                    self.error(format!("{text:?} is not a valid label value"))
                }
                Some(_) => {}
            }
            if !is_qualified_name(key) {
                self.error(format!("{key:?} is not a valid {} key", if labels { "label" } else { "annotation" }));
            }
            self.path.pop();
        }
    }

    /// anyOf / allOf / oneOf / not only restrict values (in a structural schema they declare no
    /// fields of their own, except the integer-or-string idiom's types).
    fn combinators(&mut self, schema: &Map<String, Value>, value: &Value) {
        let branches = |key| schema.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for branch in branches("allOf") {
            self.node(branch, value, Mode::ValueOnly, Position::Nested);
        }
        let any_of = branches("anyOf");
        if !any_of.is_empty() {
            let failures: Vec<Vec<SchemaError>> = any_of.iter().map(|b| self.try_branch(b, value)).collect();
            if failures.iter().all(|errors| !errors.is_empty()) {
                let reasons: Vec<String> =
                    failures.iter().filter_map(|e| e.first()).map(|e| e.message.clone()).collect();
                self.error(format!("matches none of the anyOf alternatives ({})", reasons.join("; ")));
            }
        }
        let one_of = branches("oneOf");
        if !one_of.is_empty() {
            let matching = one_of.iter().filter(|b| self.try_branch(b, value).is_empty()).count();
            if matching != 1 {
                self.error(format!("must match exactly one of the oneOf alternatives, matches {matching}"));
            }
        }
        if let Some(negated) = schema.get("not") {
            if self.try_branch(negated, value).is_empty() {
                self.error("matches the schema under `not`");
            }
        }
    }

    fn try_branch(&self, schema: &Value, value: &Value) -> Vec<SchemaError> {
        let mut branch = self.branch();
        branch.node(schema, value, Mode::ValueOnly, Position::Nested);
        branch.errors
    }
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// JSON decoding in the API server keeps `1.0` a float, so only integral literals are integers.
fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64()
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => false,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes name syntax (apimachinery's validation package)

fn is_dns1123_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn is_dns1123_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns1123_label)
}

/// `[prefix/]name`: the syntax of label and annotation keys.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(is_dns1123_subdomain) && !name.is_empty() && is_label_value(name)
}

/// At most 63 characters, alphanumeric at both ends, `-_.` and alphanumerics between; may be empty.
fn is_label_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return true;
    }
    bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

// ---------------------------------------------------------------------------------------------
// CRDs

/// One version of a CustomResourceDefinition.
#[derive(Debug)]
pub struct CrdVersion {
    /// metadata.name of the CRD, e.g. `tfjobs.kubeflow.org`.
    pub crd: String,
    pub file: PathBuf,
    pub served: bool,
    pub schema: Option<Value>,
}

/// The CRDs of a directory, by (apiVersion, kind) of the resources they define.
#[derive(Debug)]
pub struct Crds {
    pub dir: PathBuf,
    versions: BTreeMap<(String, String), CrdVersion>,
}

impl Crds {
    /// Reads every `*.yaml` / `*.yml` file of `dir` (all documents); other kinds are ignored.
    pub fn load(dir: &Path) -> Result<Crds, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"))
            .collect();
        files.sort();
        // The large CRDs take a while to parse in a debug build; the machine has more than one core.
        let documents: Vec<Result<Vec<Value>, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files.iter().map(|file| scope.spawn(move || load_yaml_file(file))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("parser thread panicked".into()))).collect()
        });

        let mut versions = BTreeMap::new();
        for (file, documents) in files.iter().zip(documents) {
            for document in documents? {
                if document["kind"] != "CustomResourceDefinition" {
                    continue;
                }
                if document["apiVersion"] != "apiextensions.k8s.io/v1" {
                    return Err(format!(
                        "{}: CRD {} is {}, this test reads apiextensions.k8s.io/v1 only",
                        file.display(),
                        document["metadata"]["name"],
                        document["apiVersion"]
                    ));
                }
                let spec = &document["spec"];
                let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str()) else {
                    return Err(format!("{}: a CRD without spec.group or spec.names.kind", file.display()));
                };
                for version in spec["versions"].as_array().into_iter().flatten() {
                    let name = version["name"].as_str().unwrap_or_default();
                    let entry = CrdVersion {
                        crd: document["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                        file: file.clone(),
                        served: version["served"].as_bool().unwrap_or(false),
                        schema: version["schema"].get("openAPIV3Schema").cloned(),
                    };
                    versions.insert((format!("{group}/{name}"), kind.to_string()), entry);
                }
            }
        }
        Ok(Crds { dir: dir.to_path_buf(), versions })
    }

    pub fn version(&self, api_version: &str, kind: &str) -> Option<&CrdVersion> {
        self.versions.get(&(api_version.to_string(), kind.to_string()))
    }

    /// The schema to validate `api_version`/`kind` against, or why there is none.
    pub fn schema(&self, api_version: &str, kind: &str) -> Result<&Value, String> {
        let version = self
            .version(api_version, kind)
            .ok_or_else(|| format!("no CRD in {} defines {api_version} {kind}", self.dir.display()))?;
        if !version.served {
            return Err(format!(
                "CRD {} ({}) does not serve {api_version} (served: false)",
                version.crd,
                version.file.display()
            ));
        }
        version.schema.as_ref().ok_or_else(|| {
            format!("CRD {} ({}) has no openAPIV3Schema for {api_version}", version.crd, version.file.display())
        })
    }

    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Every schema, with the apiVersion and kind it is for.
    pub fn schemas(&self) -> impl Iterator<Item = (String, &Value)> {
        self.versions.iter().filter_map(|((api_version, kind), version)| {
            Some((format!("{api_version} {kind}"), version.schema.as_ref()?))
        })
    }
}

/// Every `pattern` a schema holds, anywhere below it.
pub fn patterns(schema: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![schema];
    while let Some(node) = pending.pop() {
        match node {
            Value::Object(fields) => {
                // A property *named* pattern holds a schema (an object), not a string.
                if let Some(pattern) = fields.get("pattern").and_then(Value::as_str) {
                    found.insert(pattern.to_string());
                }
                pending.extend(fields.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
}

fn load_yaml_file(file: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let documents = Yaml::load_from_str(&text).map_err(|e| format!("{}: invalid YAML: {e}", file.display()))?;
    documents.iter().map(|d| yaml_to_json(d).map_err(|e| format!("{}: {e}", file.display()))).collect()
}

/// saphyr's YAML tree as JSON, the form the API server stores a CRD's schema in.
pub fn yaml_to_json(yaml: &Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Value(scalar) => scalar_to_json(scalar)?,
        Yaml::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(entries) => {
            let mut out = Map::new();
            for (key, value) in entries {
                let key = match key {
                    Yaml::Value(Scalar::String(text)) => text.to_string(),
                    // JSON keys are strings: a number or boolean key is its text.
                    Yaml::Value(other) => scalar_to_json(other)?.to_string(),
                    _ => return Err(format!("a mapping key that is not a scalar: {key:?}")),
                };
                out.insert(key, yaml_to_json(value)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => yaml_to_json(inner)?,
        Yaml::Representation(text, _, _) => Value::String(text.to_string()),
        Yaml::Alias(_) => return Err("YAML aliases are not supported".into()),
        Yaml::BadValue => return Err("a YAML value that cannot be read".into()),
    })
}

fn scalar_to_json(scalar: &Scalar) -> Result<Value, String> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => {
            Value::Number(Number::from_f64(f.into_inner()).ok_or_else(|| format!("{f} has no JSON form"))?)
        }
        Scalar::String(text) => Value::String(text.to_string()),
    })
}

// ---------------------------------------------------------------------------------------------
// Patterns

/// Just enough of RE2 (what `pattern` means in a CRD) to check the patterns upstream CRDs use:
/// literals and escapes, `.`, classes `[...]` (ranges, negation, `\d\w\s`), groups (`(?:` too),
/// `|`, `? * + {m,n}`, and the `^ $` anchors. Anything else is refused, never guessed.
pub mod pattern {
    use std::collections::BTreeSet;

    #[derive(Debug)]
    enum Node {
        Literal(char),
        AnyButNewline,
        Class { ranges: Vec<(char, char)>, negated: bool },
        TextStart,
        TextEnd,
        Sequence(Vec<Node>),
        Alternation(Vec<Node>),
        Repeat { node: Box<Node>, min: usize, max: Option<usize> },
    }

    #[derive(Debug)]
    pub struct Pattern(Node);

    impl Pattern {
        pub fn compile(source: &str) -> Result<Pattern, String> {
            let mut parser = Parser { chars: source.chars().collect(), at: 0 };
            let node = parser.alternation()?;
            if parser.at < parser.chars.len() {
                return Err(format!("unexpected {:?} at offset {}", parser.chars[parser.at], parser.at));
            }
            Ok(Pattern(node))
        }

        /// RE2 semantics: the pattern may match anywhere unless anchored.
        pub fn is_match(&self, text: &str) -> bool {
            let chars: Vec<char> = text.chars().collect();
            (0..=chars.len()).any(|start| !ends(&self.0, &chars, start).is_empty())
        }
    }

    /// Every position where a match of `node` starting at `at` can end. Sets of positions keep
    /// the work polynomial whatever the pattern (no backtracking blow-up).
    fn ends(node: &Node, text: &[char], at: usize) -> BTreeSet<usize> {
        let when = |ok: bool, end: usize| if ok { BTreeSet::from([end]) } else { BTreeSet::new() };
        let single = |ok: bool| when(ok, at + 1);
        match node {
            Node::Literal(c) => single(text.get(at) == Some(c)),
            Node::AnyButNewline => single(text.get(at).is_some_and(|c| *c != '\n')),
            Node::Class { ranges, negated } => {
                single(text.get(at).is_some_and(|c| ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated))
            }
            // Anchors match the empty string, in place.
            Node::TextStart => when(at == 0, at),
            Node::TextEnd => when(at == text.len(), at),
            Node::Sequence(nodes) => nodes.iter().fold(BTreeSet::from([at]), |positions, node| {
                positions.iter().flat_map(|p| ends(node, text, *p)).collect()
            }),
            Node::Alternation(options) => options.iter().flat_map(|o| ends(o, text, at)).collect(),
            Node::Repeat { node, min, max } => {
                let mut reached = if *min == 0 { BTreeSet::from([at]) } else { BTreeSet::new() };
                let mut frontier = BTreeSet::from([at]);
                let mut count = 0;
                while max.is_none_or(|max| count < max) {
                    count += 1;
                    let next: BTreeSet<usize> = frontier.iter().flat_map(|p| ends(node, text, *p)).collect();
                    // Past the minimum, positions already reached were already expanded: a fixpoint.
                    if next.is_empty() || (count > *min && next.is_subset(&reached)) {
                        break;
                    }
                    if count >= *min {
                        reached.extend(next.iter().copied());
                    }
                    frontier = next;
                }
                reached
            }
        }
    }

    struct Parser {
        chars: Vec<char>,
        at: usize,
    }

    impl Parser {
        fn peek(&self) -> Option<char> {
            self.chars.get(self.at).copied()
        }

        fn next(&mut self) -> Option<char> {
            let c = self.peek();
            self.at += 1;
            c
        }

        fn eat(&mut self, expected: char) -> bool {
            let found = self.peek() == Some(expected);
            if found {
                self.at += 1;
            }
            found
        }

        fn alternation(&mut self) -> Result<Node, String> {
            let mut options = vec![self.sequence()?];
            while self.eat('|') {
                options.push(self.sequence()?);
            }
            Ok(if options.len() == 1 { options.remove(0) } else { Node::Alternation(options) })
        }

        fn sequence(&mut self) -> Result<Node, String> {
            let mut nodes = Vec::new();
            while let Some(c) = self.peek() {
                if c == '|' || c == ')' {
                    break;
                }
                let atom = self.atom()?;
                nodes.push(self.quantified(atom)?);
            }
            Ok(Node::Sequence(nodes))
        }

        fn atom(&mut self) -> Result<Node, String> {
            match self.next() {
                Some('(') => {
                    if self.eat('?') && !self.eat(':') {
                        return Err("group flags and named groups are not supported".into());
                    }
                    let inner = self.alternation()?;
                    if !self.eat(')') {
                        return Err("unclosed group".into());
                    }
                    Ok(inner)
                }
                Some('[') => self.class(),
                Some('.') => Ok(Node::AnyButNewline),
                Some('^') => Ok(Node::TextStart),
                Some('$') => Ok(Node::TextEnd),
                Some('\\') => self.escape(),
                Some(c @ ('*' | '+' | '?' | '{')) => Err(format!("{c:?} with nothing to repeat")),
                Some(c) => Ok(Node::Literal(c)),
                None => Err("unexpected end".into()),
            }
        }

        fn escape(&mut self) -> Result<Node, String> {
            match self.next() {
                Some(c @ ('d' | 'D' | 'w' | 'W' | 's' | 'S')) => {
                    Ok(Node::Class { ranges: perl_class(c.to_ascii_lowercase()), negated: c.is_ascii_uppercase() })
                }
                Some(c) => escaped_literal(c).map(Node::Literal),
                None => Err("trailing backslash".into()),
            }
        }

        fn class(&mut self) -> Result<Node, String> {
            let negated = self.eat('^');
            let mut ranges = Vec::new();
            let mut first = true;
            loop {
                let c = self.next().ok_or("unclosed character class")?;
                if c == ']' && !first {
                    break;
                }
                first = false;
                let low = match c {
                    '\\' => match self.next().ok_or("trailing backslash")? {
                        p @ ('d' | 'w' | 's') => {
                            ranges.extend(perl_class(p));
                            continue;
                        }
                        'D' | 'W' | 'S' => return Err("negated classes inside [...] are not supported".into()),
                        e => escaped_literal(e)?,
                    },
                    '[' if self.peek() == Some(':') => return Err("POSIX classes are not supported".into()),
                    c => c,
                };
                // `a-z` is a range; a `-` before `]` is a literal.
                if self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|c| *c != ']') {
                    self.at += 1;
                    let high = match self.next().ok_or("unclosed character class")? {
                        '\\' => escaped_literal(self.next().ok_or("trailing backslash")?)?,
                        c => c,
                    };
                    if high < low {
                        return Err(format!("bad range {low}-{high}"));
                    }
                    ranges.push((low, high));
                } else {
                    ranges.push((low, low));
                }
            }
            Ok(Node::Class { ranges, negated })
        }

        fn quantified(&mut self, atom: Node) -> Result<Node, String> {
            let (min, max) = match self.peek() {
                Some('?') => (0, Some(1)),
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('{') => {
                    self.at += 1;
                    let min = self.number()?;
                    let max = if self.eat(',') {
                        if self.peek() == Some('}') {
                            None
                        } else {
                            Some(self.number()?)
                        }
                    } else {
                        Some(min)
                    };
                    if self.peek() != Some('}') {
                        return Err("unclosed {m,n}".into());
                    }
                    (min, max)
                }
                _ => return Ok(atom),
            };
            self.at += 1;
            self.eat('?'); // a lazy quantifier matches the same strings
            Ok(Node::Repeat { node: Box::new(atom), min, max })
        }

        fn number(&mut self) -> Result<usize, String> {
            let start = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.at += 1;
            }
            self.chars[start..self.at].iter().collect::<String>().parse().map_err(|_| "bad repeat count".to_string())
        }
    }

    fn perl_class(name: char) -> Vec<(char, char)> {
        match name {
            'd' => vec![('0', '9')],
            'w' => vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')],
            _ => vec![(' ', ' '), ('\t', '\n'), ('\x0c', '\r')],
        }
    }

    fn escaped_literal(c: char) -> Result<char, String> {
        match c {
            'n' => Ok('\n'),
            't' => Ok('\t'),
            'r' => Ok('\r'),
            'f' => Ok('\x0c'),
            'v' => Ok('\x0b'),
            c if c.is_ascii_punctuation() => Ok(c),
            c => Err(format!("the escape \\{c} is not supported")),
        }
    }
}
