//! The KAPTAIN_SDK_* environment switches, as the Kaptain SDK reads them.
//! A value in the cell (or a flag) wins over the environment.

use std::collections::BTreeMap;

use super::error::SpecError;

pub const ENV_FORCE_CLEANUP: &str = "KAPTAIN_SDK_FORCE_CLEANUP";
pub const ENV_DELETE_EXPERIMENT: &str = "KAPTAIN_SDK_DELETE_EXPERIMENT";
pub const ENV_TTL_SECONDS_AFTER_FINISHED: &str = "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED";
/// Ours, not the SDK's: keeps the serving credentials after a successful deploy so that a
/// predictor that scales from zero can still fetch its model.
pub const ENV_KEEP_SERVING_CREDENTIALS: &str = "KAPTAIN_SDK_KEEP_SERVING_CREDENTIALS";

/// Every variable the core reads; front ends pass these (and only these) through.
pub const ENV_KEYS: [&str; 4] =
    [ENV_FORCE_CLEANUP, ENV_DELETE_EXPERIMENT, ENV_TTL_SECONDS_AFTER_FINISHED, ENV_KEEP_SERVING_CREDENTIALS];

/// The environment as the front end sees it (process environment, JupyterLab settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    pub fn new() -> Self {
        Env::default()
    }

    /// Keeps the KAPTAIN_SDK_* variables of any environment and drops the rest.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Env(vars.into_iter().filter(|(k, _)| ENV_KEYS.contains(&k.as_str())).collect())
    }

    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SpecError> {
        if !ENV_KEYS.contains(&key) {
            let fix = match super::error::did_you_mean(key, ENV_KEYS) {
                Some(close) => format!("did you mean {close}?"),
                None => format!("known variables: {}", ENV_KEYS.join(", ")),
            };
            return Err(SpecError::new(key, "is not a variable kaptain reads", fix));
        }
        self.0.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// The SDK's truthy values: true, yes, y, 1 (any case). Anything else is false.
    pub fn flag(&self, key: &str) -> bool {
        self.0
            .get(key)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "y" | "1"))
    }

    pub fn seconds(&self, key: &str) -> Result<Option<u32>, SpecError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v.trim().parse::<u32>().map(Some).map_err(|_| {
                SpecError::new(key, format!("{v:?} is not a number of seconds"), "set it to a whole number, e.g. 3600, or unset it")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthy_values_are_the_sdks() {
        for (value, expected) in [
            ("true", true), ("TRUE", true), ("Yes", true), ("y", true), ("1", true),
            ("false", false), ("0", false), ("no", false), ("", false), ("on", false),
        ] {
            let mut env = Env::new();
            env.set(ENV_FORCE_CLEANUP, value).unwrap();
            assert_eq!(env.flag(ENV_FORCE_CLEANUP), expected, "{value:?}");
        }
        assert!(!Env::new().flag(ENV_FORCE_CLEANUP));
    }

    #[test]
    fn unknown_variables_are_named() {
        let err = Env::new().set("KAPTAIN_SDK_FORCE_CLEANUPP", "1").unwrap_err();
        assert!(err.to_string().contains("did you mean KAPTAIN_SDK_FORCE_CLEANUP?"), "{err}");
        let kept = Env::from_vars([("PATH".into(), "/bin".into()), (ENV_FORCE_CLEANUP.into(), "1".into())]);
        assert!(kept.flag(ENV_FORCE_CLEANUP));
    }

    #[test]
    fn ttl_must_be_seconds() {
        let mut env = Env::new();
        env.set(ENV_TTL_SECONDS_AFTER_FINISHED, "soon").unwrap();
        assert!(env.seconds(ENV_TTL_SECONDS_AFTER_FINISHED).unwrap_err().to_string().contains("soon"));
        env.set(ENV_TTL_SECONDS_AFTER_FINISHED, "600").unwrap();
        assert_eq!(env.seconds(ENV_TTL_SECONDS_AFTER_FINISHED).unwrap(), Some(600));
    }
}
