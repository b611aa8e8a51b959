//! The Kaptain SDK's Model: what is trained, tuned and deployed.

use std::collections::BTreeMap;

use super::error::SpecError;
use super::yaml::Node;
use super::Step;
use crate::identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    TensorFlow,
    PyTorch,
}

impl Framework {
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::TensorFlow => "tensorflow",
            Framework::PyTorch => "pytorch",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub framework: Option<Framework>,
    pub framework_version: Option<String>,
    pub main_file: Option<String>,
    pub image_name: Option<String>,
    pub base_image: Option<String>,
    pub extra_files: Vec<String>,
    pub requirements: Option<String>,
    pub labels: BTreeMap<String, String>,
}

const KEYS: &[&str] = &[
    "id", "name", "description", "version", "framework", "framework_version", "main_file",
    "image_name", "base_image", "extra_files", "requirements", "labels",
];

impl Model {
    pub fn framework(&self) -> Framework {
        self.framework.unwrap_or(Framework::TensorFlow)
    }

    pub(super) fn read(node: Node<'_>, step: Step) -> Result<Model, SpecError> {
        let mut model = Model::default();
        let mut id_seen = false;
        for field in node.mapping(KEYS)? {
            let value = field.node();
            match field.key {
                "id" => {
                    model.id = value.text()?;
                    id_seen = true;
                }
                "name" => model.name = Some(value.string()?),
                "description" => model.description = Some(value.string()?),
                "version" => model.version = Some(value.text()?),
                "framework" => {
                    model.framework = Some(match value.text()?.to_ascii_lowercase().as_str() {
                        "tensorflow" | "tf" => Framework::TensorFlow,
                        "pytorch" | "torch" => Framework::PyTorch,
                        other => {
                            return Err(value.error(
                                format!("{other:?} is not a supported framework"),
                                "use tensorflow or pytorch",
                            ))
                        }
                    })
                }
                "framework_version" => model.framework_version = Some(value.text()?),
                "main_file" => model.main_file = Some(relative_path(value)?),
                "image_name" => model.image_name = Some(image_name(value)?),
                "base_image" => model.base_image = Some(image_reference(value)?),
                "extra_files" => {
                    model.extra_files = value.items().iter().map(|f| relative_path(f.node())).collect::<Result<_, _>>()?
                }
                "requirements" => model.requirements = Some(relative_path(value)?),
                "labels" => model.labels = labels(value)?,
                _ => unreachable!("mapping() admits only known keys"),
            }
        }
        let missing = |key: &str, example: &str| {
            node.error(format!("is missing `{key}`"), format!("add `{key}: {example}` under `model:`"))
        };
        if !id_seen {
            return Err(missing("id", "dev/mnist"));
        }
        if model.framework.is_none() {
            return Err(missing("framework", "tensorflow"));
        }
        if step.needs_build() {
            if model.main_file.is_none() {
                return Err(missing("main_file", "trainer.py"));
            }
            if model.image_name.is_none() {
                return Err(missing("image_name", "registry.example.com/team/model"));
            }
            if model.base_image.is_none() {
                return Err(missing("base_image", "tensorflow/tensorflow:2.5.0"));
            }
        }
        Ok(model)
    }
}

/// Files of the build context: relative to the notebook's directory, and inside it.
fn relative_path(node: Node<'_>) -> Result<String, SpecError> {
    let path = node.text()?;
    let escapes = path.split(['/', '\\']).any(|part| part == "..");
    if path.starts_with('/') || path.starts_with('~') || escapes || path.contains('\0') {
        return Err(node.error(
            format!("{path:?} is outside the notebook's directory"),
            "give a path relative to the notebook, without `..`",
        ));
    }
    Ok(path)
}

/// An image repository without tag: the build tags it with the content checksum.
fn image_name(node: Node<'_>) -> Result<String, SpecError> {
    let name = image_reference(node)?;
    let last = name.rsplit('/').next().unwrap_or(&name);
    if last.contains(':') || name.contains('@') {
        return Err(node.error(
            format!("{name:?} has a tag or digest"),
            "leave the tag out: kaptain tags the image with the checksum of its contents",
        ));
    }
    Ok(name)
}

fn image_reference(node: Node<'_>) -> Result<String, SpecError> {
    let name = node.text()?;
    let valid = name.len() <= 255
        && !name.starts_with(['/', ':', '.', '-'])
        && !name.ends_with(['/', ':'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'));
    if !valid {
        return Err(node.error(
            format!("{name:?} is not an image reference"),
            "write it like registry.example.com/team/image:tag",
        ));
    }
    Ok(name)
}

fn labels(node: Node<'_>) -> Result<BTreeMap<String, String>, SpecError> {
    let mut labels = BTreeMap::new();
    for field in node.mapping(&[])? {
        let value = field.node();
        if !identity::is_label_key(field.key) {
            return Err(value.error("is not a valid label key", "use letters, digits, '-', '_' or '.', with an optional DNS prefix and '/'"));
        }
        if identity::RESERVED_LABEL_PREFIXES.iter().any(|p| field.key.starts_with(p)) {
            return Err(value.error("is a label kaptain sets itself", "choose another key"));
        }
        let text = value.plain_text()?;
        if !identity::is_label_value(&text) {
            return Err(value.error(
                format!("{text:?} is not a valid label value"),
                "use at most 63 letters, digits, '-', '_' or '.'",
            ));
        }
        labels.insert(field.key.to_string(), text);
    }
    Ok(labels)
}
