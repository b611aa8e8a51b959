//! The `%%kaptain` cell: `%%kaptain <step> [--flags]` on the first line, then a YAML body
//! with `model:`, optional `config:`, and the step's own keywords. A flag wins over the body.

use saphyr::{LoadableYamlNode, MarkedYamlOwned};

use super::config::{self, Config};
use super::env::Env;
use super::error::{did_you_mean, Location, SpecError};
use super::model::Model;
use super::steps::{self, Kind};
use super::yaml::{self, Field, Node};
use super::{Cell, Step};

/// Cells larger than this are not something a person wrote; refuse them before parsing.
pub const MAX_CELL_BYTES: usize = 256 * 1024;
const MAGIC: &str = "%%kaptain";

/// What the front end knows besides the cell: environment switches, settings, namespace.
#[derive(Debug, Clone, Default)]
pub struct ParseContext {
    pub env: Env,
    /// `config:` keys from JupyterLab settings (YAML or JSON text), under the cell's own.
    pub settings: Option<String>,
    /// The namespace the front end works in (`--namespace`, the notebook's namespace).
    pub namespace: Option<String>,
}

struct Token {
    text: String,
    column: usize,
}

pub fn parse_cell(text: &str, context: &ParseContext) -> Result<Cell, SpecError> {
    if text.len() > MAX_CELL_BYTES {
        return Err(SpecError::new(
            "cell",
            format!("is {} KiB, more than the {} KiB a kaptain cell may hold", text.len() / 1024, MAX_CELL_BYTES / 1024),
            "keep code in files next to the notebook and name them in `model:`",
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (first_line, body) = text.split_once('\n').unwrap_or((text, ""));
    let tokens = tokenize(first_line.trim_end_matches('\r'))?;
    let step = read_magic(&tokens)?;

    let flag_values = read_flags(step, &tokens[2..])?;
    let flag_docs: Vec<MarkedYamlOwned> = flag_values
        .iter()
        .map(|f| load_flag_value(f.value).map_err(|e| SpecError { field: f.name.clone(), ..e }.at(Some(f.at))))
        .collect::<Result<_, _>>()?;

    let body_doc = yaml::load(body, 2)?;
    let empty = MarkedYamlOwned::value_from_str("~");
    let root = Node::root(body_doc.as_ref().unwrap_or(&empty), "", 2);
    let step_keywords = steps::keywords(step);
    let mut known: Vec<&str> = vec!["model", "config"];
    known.extend(step_keywords.iter().map(|(k, _)| *k));
    let top = root.mapping(&known).map_err(|e| explain_other_steps(e, step))?;

    let model_field = top.iter().find(|f| f.key == "model").ok_or_else(|| {
        SpecError::new("model", "is missing", "add a `model:` mapping with at least id and framework")
            .at(Some(Location { line: 2, column: 1 }))
    })?;
    let model = Model::read(model_field.node(), step)?;
    let config = read_config(context, top.iter().find(|f| f.key == "config"))?;

    let mut step_fields: Vec<Field<'_>> = top
        .into_iter()
        .filter(|f| f.key != "model" && f.key != "config")
        .filter(|f| !flag_values.iter().any(|flag| flag.key == f.key))
        .collect();
    for (flag, doc) in flag_values.iter().zip(&flag_docs) {
        step_fields.push(Field::flag(flag.key, flag.name.clone(), doc, flag.at));
    }
    let step_spec = steps::read(step, &step_fields, &model, &config, &context.env)?;
    Ok(Cell { model, config, step: step_spec })
}

fn explain_other_steps(error: SpecError, step: Step) -> SpecError {
    let elsewhere: Vec<&str> = Step::ALL
        .into_iter()
        .filter(|s| *s != step && steps::keywords(*s).iter().any(|(k, _)| *k == error.field))
        .map(Step::as_str)
        .collect();
    if elsewhere.is_empty() || error.problem != "is not a known key" {
        return error;
    }
    SpecError {
        problem: format!("is not a {step} keyword"),
        fix: format!("it belongs to {}; remove it or change the first line", elsewhere.join(" and ")),
        ..error
    }
}

fn read_config(context: &ParseContext, cell_config: Option<&Field<'_>>) -> Result<Config, SpecError> {
    let mut config = Config::default();
    if let Some(settings) = &context.settings {
        let doc = yaml::load(settings, 1).map_err(|e| SpecError { field: "settings".into(), ..e })?;
        if let Some(doc) = &doc {
            config = config.read_over(Node::root(doc, "settings", 1))?;
        }
    }
    if let Some(ns) = &context.namespace {
        let doc = MarkedYamlOwned::scalar_from_string(ns.clone());
        config.namespace = config::namespace(Node::root(&doc, "--namespace", 1))
            .map_err(|e| SpecError { location: None, ..e })?;
    }
    let Some(field) = cell_config else { return Ok(config) };
    let node = field.node();
    let cell_namespace = node
        .mapping(config::KEYS)?
        .iter()
        .find(|f| f.key == "namespace")
        .map(|f| (f.node().string(), f.node().location()));
    let config = config.read_over(node)?;
    if let (Some(wanted), Some((Ok(written), at))) = (&context.namespace, cell_namespace) {
        if *wanted != written {
            return Err(SpecError::new(
                "config.namespace",
                format!("is {written:?} but the namespace in use is {wanted:?}"),
                "remove config.namespace from the cell, or work in that namespace",
            )
            .at(Some(at)));
        }
    }
    Ok(config)
}

fn read_magic(tokens: &[Token]) -> Result<Step, SpecError> {
    let at = |column| Some(Location { line: 1, column });
    let names = || Step::ALL.map(Step::as_str).join(", ");
    match tokens.first() {
        Some(t) if t.text == MAGIC => {}
        _ => {
            return Err(SpecError::new("cell", "does not start with `%%kaptain`", format!("make the first line `%%kaptain <step>`, where step is one of {}", names()))
                .at(at(1)))
        }
    }
    let Some(token) = tokens.get(1) else {
        return Err(SpecError::new("step", "is missing", format!("write `%%kaptain train` (or {})", names())).at(at(MAGIC.len() + 2)));
    };
    Step::parse(&token.text).ok_or_else(|| {
        let fix = match did_you_mean(&token.text, Step::ALL.map(Step::as_str)) {
            Some(close) => format!("did you mean {close}?"),
            None => format!("use one of {}", names()),
        };
        SpecError::new("step", format!("{:?} is not a step", token.text), fix).at(at(token.column))
    })
}

struct FlagValue<'t> {
    key: &'static str,
    name: String,
    value: &'t str,
    at: Location,
}

fn read_flags<'t>(step: Step, tokens: &'t [Token]) -> Result<Vec<FlagValue<'t>>, SpecError> {
    let keywords = steps::keywords(step);
    let mut flags: Vec<FlagValue<'t>> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let at = Location { line: 1, column: token.column };
        let Some(flag) = token.text.strip_prefix("--").filter(|f| !f.is_empty()) else {
            return Err(SpecError::new(token.text.clone(), "is not a flag", "write flags as --name value, e.g. --workers 3").at(Some(at)));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        let key = name.replace('-', "_");
        let Some(&(key, kind)) = keywords.iter().find(|(k, _)| *k == key) else {
            let kebab: Vec<String> = keywords.iter().map(|(k, _)| k.replace('_', "-")).collect();
            let fix = match did_you_mean(name, kebab.iter().map(String::as_str)) {
                Some(close) => format!("did you mean --{close}?"),
                None if kebab.is_empty() => format!("`%%kaptain {step}` takes no flags"),
                None => format!("{step} takes --{}", kebab.join(", --")),
            };
            return Err(SpecError::new(format!("--{name}"), format!("is not a {step} flag"), fix).at(Some(at)));
        };
        let flag_name = format!("--{name}");
        if flags.iter().any(|f| f.key == key) {
            return Err(SpecError::new(flag_name, "is given twice", "keep one").at(Some(at)));
        }
        let value: &'t str = match (kind, inline) {
            (_, Some(value)) => value,
            (Kind::Bool, None) => "true",
            (Kind::Value, None) => {
                i += 1;
                match tokens.get(i) {
                    Some(next) if !next.text.starts_with("--") => &next.text,
                    _ => return Err(SpecError::new(flag_name, "needs a value", format!("write it as --{name} VALUE")).at(Some(at))),
                }
            }
        };
        flags.push(FlagValue { key, name: flag_name, value, at });
        i += 1;
    }
    Ok(flags)
}

fn load_flag_value(value: &str) -> Result<MarkedYamlOwned, SpecError> {
    let mut docs = MarkedYamlOwned::load_from_str(value)
        .map_err(|e| SpecError::new("flag", format!("value {value:?} is not valid: {}", e.info()), "quote the value"))?;
    Ok(if docs.is_empty() { MarkedYamlOwned::value_from_str("~") } else { docs.swap_remove(0) })
}

/// Splits the first line on whitespace; single or double quotes group words.
fn tokenize(line: &str) -> Result<Vec<Token>, SpecError> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let mut quote: Option<char> = None;
        while let Some(&(_, c)) = chars.peek() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => text.push(c),
                None if c == '\'' || c == '"' => quote = Some(c),
                None if c.is_whitespace() => break,
                None => text.push(c),
            }
            chars.next();
        }
        let column = line[..start].chars().count() + 1;
        if quote.is_some() {
            return Err(SpecError::new("first line", "has a quote that is not closed", "close the quote")
                .at(Some(Location { line: 1, column })));
        }
        tokens.push(Token { text, column });
    }
    Ok(tokens)
}
