//! Paths of context files: relative to the notebook's directory, '/'-separated, normalized.

use super::ContextError;

/// Characters a Dockerfile `COPY` would read as a pattern, a variable or an escape, and
/// quotes that would end its JSON form.
const UNSAFE: &[char] = &['"', '\\', '$', '*', '?', '[', ']', '`'];

/// `./src//a.py` -> `src/a.py`; refuses what leaves the directory or cannot go into a
/// Dockerfile. `field` names the cell field in errors.
pub(crate) fn normalize(field: &str, raw: &str) -> Result<String, ContextError> {
    let outside = |why: &str| ContextError::OutsideDirectory { field: field.into(), path: raw.into(), why: why.into() };
    let bad = |problem: String, fix: &str| ContextError::BadPath { field: field.into(), path: raw.into(), problem, fix: fix.into() };

    if raw.starts_with('/') || raw.starts_with('\\') || has_drive(raw) {
        return Err(outside("an absolute path"));
    }
    if raw.starts_with('~') {
        return Err(outside("a path from a home directory"));
    }
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(bad(format!("contains the control character {c:?}"), "rename the file"));
    }
    if let Some(c) = raw.chars().find(|c| UNSAFE.contains(c)) {
        return Err(bad(
            format!("contains {c:?}, which a Dockerfile COPY reads as a pattern, a variable or a quote"),
            "rename the file (or use '/' between directories)",
        ));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(outside("it goes up with `..`")),
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(bad("names the notebook's directory itself, not a file".into(), "name a file in it"));
    }
    let path = parts.join("/");
    if !fits_ustar(&path) {
        return Err(bad(
            "is too long for a ustar archive".into(),
            "shorten it: at most 100 bytes of file name and 155 of directory",
        ));
    }
    Ok(path)
}

/// Whether a ustar header holds the path: in `name` (100 bytes), or split at a '/' into
/// `prefix` (155) and `name` (100). Directory entries (`dir/`) of a path that fits fit too.
fn fits_ustar(path: &str) -> bool {
    path.len() <= 100
        || path.match_indices('/').any(|(i, _)| i <= 155 && path.len() - i - 1 <= 100 && path.len() - i > 1)
}

fn has_drive(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The directories a normalized path lies in, outermost first: `a/b/c` -> `a`, `a/b`.
pub(crate) fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses() {
        assert_eq!(normalize("f", "./src//a.py").unwrap(), "src/a.py");
        assert_eq!(normalize("f", "a.py").unwrap(), "a.py");
        assert_eq!(normalize("f", "dir with space/a b.py").unwrap(), "dir with space/a b.py");
        for outside in ["/etc/passwd", "../x.py", "a/../../x", "~/x.py", "C:/x.py", "\\x"] {
            assert!(matches!(normalize("f", outside), Err(ContextError::OutsideDirectory { .. })), "{outside}");
        }
        for bad in ["", ".", "./", "a*.py", "$HOME.py", "a\nb", "a\\b"] {
            assert!(matches!(normalize("f", bad), Err(ContextError::BadPath { .. })), "{bad}");
        }
        assert!(normalize("f", &format!("{}/{}", "d".repeat(150), "f".repeat(100))).is_ok());
        assert!(matches!(normalize("f", &"f".repeat(101)), Err(ContextError::BadPath { .. })));
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
    }
}
