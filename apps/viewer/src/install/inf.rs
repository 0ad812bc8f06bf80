//! Reading an INF as text, as far as `install` and `uninstall` need: whether it is avcam's
//! package (its `Provider` and the hardware ID a models line lists). Portable, so it is tested
//! on every host; the Windows side hands it the bytes of `avcam.inf` and of `%windir%\INF\oem*.inf`.

/// The text of an INF file: UTF-16LE when it starts with that byte-order mark, otherwise UTF-8
/// (ASCII, as avcam's is) without a BOM; bytes that are neither are replaced, not refused.
pub fn decode(bytes: &[u8]) -> String {
    if let Some(units) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = units
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// A line without its comment (from the first `;` outside double quotes).
fn code(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The INF's sections: (lowercase name, its lines without comments, non-empty, trimmed).
fn sections(text: &str) -> Vec<(String, Vec<&str>)> {
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.lines().map(|l| code(l).trim()) {
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.trim().to_ascii_lowercase(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    sections
}

/// A field with `%token%` replaced from `[Strings]` (case-insensitive) and quotes removed.
fn resolve(field: &str, strings: &[(String, String)]) -> String {
    let field = field.trim();
    let token = field
        .strip_prefix('%')
        .and_then(|f| f.strip_suffix('%'))
        .filter(|t| !t.is_empty() && !t.contains('%'));
    let value = match token {
        Some(token) => strings
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(token))
            .map_or(field, |(_, value)| value.as_str()),
        None => field,
    };
    value.trim_matches('"').to_string()
}

/// The INF's `[Strings]` pairs, values unquoted.
fn strings(sections: &[(String, Vec<&str>)]) -> Vec<(String, String)> {
    sections
        .iter()
        .filter(|(name, _)| name == "strings")
        .flat_map(|(_, lines)| lines.iter())
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            (
                key.trim().to_string(),
                value.trim().trim_matches('"').into(),
            )
        })
        .collect()
}

/// The `Provider` of the INF's `[Version]`, its `%token%` resolved.
pub fn provider(text: &str) -> Option<String> {
    let sections = sections(text);
    let strings = strings(&sections);
    sections
        .iter()
        .filter(|(name, _)| name == "version")
        .flat_map(|(_, lines)| lines.iter())
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("Provider"))
        .map(|(_, value)| resolve(value, &strings))
}

/// Whether a line of the INF outside `[Version]` and `[Strings]` has the form
/// `description = install-section, ID, ...` with `id` among its IDs (a models line), compared
/// without regard to ASCII case, as Windows compares hardware IDs.
pub fn lists_hardware_id(text: &str, id: &str) -> bool {
    let sections = sections(text);
    let strings = strings(&sections);
    sections
        .iter()
        .filter(|(name, _)| name != "version" && name != "strings")
        .flat_map(|(_, lines)| lines.iter())
        .filter_map(|line| line.split_once('='))
        .any(|(_, fields)| {
            fields
                .split(',')
                .skip(1)
                .any(|field| resolve(field, &strings).eq_ignore_ascii_case(id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INX: &str = include_str!("../../../../inf/avcam.inx");

    #[test]
    fn avcams_inf_has_its_provider_and_hardware_id() {
        assert_eq!(provider(INX).as_deref(), Some("avcam"));
        assert!(lists_hardware_id(INX, r"Root\avcam"));
        assert!(lists_hardware_id(INX, r"ROOT\AVCAM"));
        assert!(!lists_hardware_id(INX, r"Root\avcam2"));
        // Its other fields are not hardware IDs: the install section, a file name.
        assert!(!lists_hardware_id(INX, "avcam_Device"));
        assert!(!lists_hardware_id(INX, "Root"));
    }

    #[test]
    fn other_infs_and_odd_text_are_not_avcam() {
        let other = "[Version]\r\nProvider=%P%\r\n[Models.NTamd64]\r\n%D%=Inst, USB\\VID_1234&PID_0001 ; Root\\avcam\r\n[Strings]\r\nP=\"Contoso\"\r\nD=\"Cam\"\r\n";
        assert_eq!(provider(other).as_deref(), Some("Contoso"));
        assert!(
            !lists_hardware_id(other, r"Root\avcam"),
            "a comment is no ID"
        );
        let in_version = "[Version]\nProvider = avcam\nX = a, Root\\avcam\n";
        assert!(!lists_hardware_id(in_version, r"Root\avcam"));
        assert_eq!(provider("no sections at all"), None);
        assert!(!lists_hardware_id("", r"Root\avcam"));
        let via_string = "[M]\n%D% = I, %ID%\n[Strings]\nID = \"ROOT\\avcam\"\n";
        assert!(lists_hardware_id(via_string, r"Root\avcam"));
    }

    #[test]
    fn utf16_and_bom_prefixed_infs_decode() {
        let text = "[Version]\r\nProvider = \"avcam\"\r\n";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&utf16), text);
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend(text.as_bytes());
        assert_eq!(decode(&utf8), text);
        assert_eq!(provider(&decode(&utf16)).as_deref(), Some("avcam"));
        assert_eq!(decode(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
    }
}
