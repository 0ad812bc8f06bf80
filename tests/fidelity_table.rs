//! Keeps `docs/ks-fidelity.md` honest: every row of its tables has a behaviour, a source and at
//! least one test, and every test it names (`file.rs::test`) is one `#[test]` function that
//! exists, in exactly one place. A renamed or deleted test, or a row without one, fails here.
//!
//! A `file.rs` is looked up from the repository root, under `emulation/src/` (unit tests) and
//! under `emulation/tests/` (integration tests), as the document's introduction says.

use std::path::{Path, PathBuf};

/// The repository root (this package's directory).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cells of a table row, split at the `|` that are not escaped (`\|`), trimmed.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
        escaped = c == '\\';
    }
    cells.push(cell.trim().to_string());
    cells
}

/// The backticked spans of `text`.
fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Whether `span` has the form of a test reference: `path/file.rs::name`.
fn parse_reference(span: &str) -> Option<(&str, &str)> {
    let (file, name) = span.split_once("::")?;
    let file_ok = file.ends_with(".rs")
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.' | '-'));
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (file_ok && name_ok).then_some((file, name))
}

/// Whether the Rust source `text` defines `#[test] fn name` (attributes and comments may sit
/// between the two).
fn defines_test(text: &str, name: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().any(|(i, line)| {
        let line = line.trim_start();
        let rest = line
            .strip_prefix("pub ")
            .unwrap_or(line)
            .strip_prefix("fn ")
            .and_then(|rest| rest.strip_prefix(name));
        let is_definition = rest.is_some_and(|rest| rest.starts_with('(') || rest.starts_with('<'));
        is_definition
            && lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with("#[") || l.starts_with("//"))
                .any(|l| l == "#[test]")
    })
}

/// The files a reference's path may name, existing ones only.
fn candidates(file: &str) -> Vec<PathBuf> {
    [
        root().join(file),
        root().join("emulation/src").join(file),
        root().join("emulation/tests").join(file),
    ]
    .into_iter()
    .filter(|path| path.is_file())
    .collect()
}

/// Where `file.rs::name` is defined, or why it is not exactly one test.
fn resolve(reference: &str) -> Result<PathBuf, String> {
    let (file, name) = parse_reference(reference)
        .ok_or_else(|| format!("`{reference}` is not `file.rs::test`"))?;
    let found: Vec<PathBuf> = candidates(file)
        .into_iter()
        .filter(|path| std::fs::read_to_string(path).is_ok_and(|text| defines_test(&text, name)))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("`{reference}`: no #[test] fn {name} in {file}")),
        _ => Err(format!("`{reference}` is ambiguous: {found:?}")),
    }
}

#[test]
fn every_row_has_a_source_and_tests_and_every_test_named_exists() {
    let path = root().join("docs/ks-fidelity.md");
    let text = std::fs::read_to_string(&path).expect("docs/ks-fidelity.md");
    let mut problems = Vec::new();
    let mut rows = 0;
    let mut references = 0;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if !line.starts_with('|') {
            continue;
        }
        let row = cells(line);
        if row
            .first()
            .is_some_and(|c| c == "behaviour" || c.starts_with("---"))
        {
            continue;
        }
        rows += 1;
        if row.len() != 3 {
            problems.push(format!("line {number}: {} cells, not 3", row.len()));
            continue;
        }
        if row.iter().any(String::is_empty) {
            problems.push(format!("line {number}: an empty cell"));
        }
        let mut named = 0;
        for span in spans(&row[2]).into_iter().filter(|s| s.contains("::")) {
            named += 1;
            references += 1;
            if let Err(problem) = resolve(span) {
                problems.push(format!("line {number}: {problem}"));
            }
        }
        if named == 0 {
            problems.push(format!("line {number}: no test named"));
        }
    }
    assert!(rows > 100, "the tables were not found ({rows} rows)");
    assert!(
        problems.is_empty(),
        "docs/ks-fidelity.md ({rows} rows, {references} test references):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_finds_real_tests_and_refuses_missing_ambiguous_and_malformed_ones() {
    // An integration test, a unit test (in a `mod tests`), a driver test, another crate's.
    assert!(resolve("io.rs::completing_twice_is_detected").is_ok());
    assert!(resolve("bag.rs::a_second_edit_of_a_copy_does_nothing").is_ok());
    assert!(resolve(
        "tests/fidelity_table.rs::every_row_has_a_source_and_tests_and_every_test_named_exists"
    )
    .is_ok());
    assert!(
        resolve("allocator/tests/methods.rs::a_dying_client_leaves_no_allocator_behind").is_ok()
    );
    // A name that is not there, a helper that is not a #[test], a file that is not there.
    assert!(resolve("io.rs::no_such_test").is_err());
    assert!(resolve("tests/fidelity_table.rs::resolve").is_err());
    assert!(resolve("nowhere.rs::completing_twice_is_detected").is_err());
    // Not of the form at all.
    assert!(resolve("stream::headers_are_probed_as_ks_probe_stream_irp_does").is_err());
    assert!(parse_reference("a.rs::Not_Lowercase").is_none());
    // Escaped pipes stay inside their cell.
    assert_eq!(
        cells("| a \\| b | c | `x.rs::y` |"),
        ["a \\| b", "c", "`x.rs::y`"]
    );
}
