//! Cross-checks `inf/avcam.inx` against the driver's own identity (`avcam::identity`): the
//! setup class, the hardware ID, the interface categories with their reference string, proxy
//! CLSID and friendly name, the KS includes, the fault-injection switch in the hardware key
//! (installed off), and the service with its binary.
//!
//! A camera whose INF and descriptors disagree installs but never shows up in the Camera app;
//! this test makes that a build failure. The checker is also run on deliberately broken copies
//! of the INF, each of which it must reject for the right reason.

use std::collections::BTreeSet;

use avcam::identity::{
    DEVICE_CLASS, DEVICE_CLASS_NAME, FAULT_INJECTION_DEFAULT, FAULT_INJECTION_VALUE,
    FILTER_CATEGORIES, FRIENDLY_NAME, HARDWARE_ID, INTERFACE_CLSID, MINIMUM_WINDOWS_BUILD,
    REFERENCE_STRING, SERVICE_BINARY, SERVICE_NAME,
};
use ks::GUID;

const INX: &str = include_str!("../inf/avcam.inx");

/// One line of a section: `key = fields` or just `fields`, with strings substituted.
#[derive(Debug, Clone)]
struct Line {
    key: Option<String>,
    fields: Vec<String>,
}

/// An INF file: its sections in order, names compared without regard to case.
#[derive(Debug)]
struct Inf {
    sections: Vec<(String, Vec<Line>)>,
}

impl Inf {
    /// Parses INF text: `;` comments outside quotes, `\` line continuations, `[section]`
    /// headers, comma-separated fields with quotes removed, and `%token%` replaced from
    /// [Strings] (`%%` is a percent sign; unknown tokens such as DIRIDs stay as they are).
    fn parse(text: &str) -> Inf {
        let mut logical = Vec::new();
        let mut pending = String::new();
        for raw in text.trim_start_matches('\u{feff}').lines() {
            let line = strip_comment(raw);
            let line = line.trim_end();
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            pending.push_str(line);
            logical.push(std::mem::take(&mut pending));
        }
        logical.push(pending);

        let mut raw_sections: Vec<(String, Vec<String>)> = Vec::new();
        for line in logical.into_iter().map(|l| l.trim().to_string()) {
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                raw_sections.push((name.trim().to_string(), Vec::new()));
            } else if let Some((_, lines)) = raw_sections.last_mut() {
                lines.push(line);
            }
        }

        let strings: Vec<(String, String)> = raw_sections
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Strings"))
            .flat_map(|(_, lines)| lines.iter())
            .filter_map(|line| {
                let (key, value) = line.split_once('=')?;
                Some((key.trim().to_string(), unquote(value.trim())))
            })
            .collect();

        let sections = raw_sections
            .into_iter()
            .map(|(name, lines)| {
                let lines = lines
                    .iter()
                    .map(|line| split_line(line, &strings))
                    .collect();
                (name, lines)
            })
            .collect();
        Inf { sections }
    }

    /// The lines of a section (all sections of that name, in order); empty if there is none.
    fn section(&self, name: &str) -> Vec<&Line> {
        self.sections
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, lines)| lines.iter())
            .collect()
    }

    fn has_section(&self, name: &str) -> bool {
        self.sections
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The field lists of every `key = ...` line of a section.
    fn values(&self, section: &str, key: &str) -> Vec<Vec<String>> {
        self.section(section)
            .into_iter()
            .filter(|line| {
                line.key
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
            })
            .map(|line| line.fields.clone())
            .collect()
    }

    /// The first field of the only `key = ...` line of a section.
    fn value(&self, section: &str, key: &str) -> Option<String> {
        match self.values(section, key).as_slice() {
            [fields] => fields.first().cloned(),
            _ => None,
        }
    }
}

fn strip_comment(line: &str) -> &str {
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

fn unquote(text: &str) -> String {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .to_string()
}

/// Replaces `%token%` with its [Strings] value (case-insensitive) and `%%` with `%`.
fn substitute(text: &str, strings: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let token = &after[..end];
        match strings.iter().find(|(k, _)| k.eq_ignore_ascii_case(token)) {
            _ if token.is_empty() => out.push('%'),
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn split_line(line: &str, strings: &[(String, String)]) -> Line {
    let (key, rest) = match line.split_once('=') {
        Some((key, rest)) if !key.contains('"') && !key.contains(',') => {
            (Some(substitute(key.trim(), strings)), rest)
        }
        _ => (None, line),
    };
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    let fields = fields
        .iter()
        .map(|f| substitute(f.trim(), strings))
        .collect();
    Line { key, fields }
}

fn parse_guid(text: &str) -> Option<GUID> {
    GUID::parse_utf16(&text.trim().encode_utf16().collect::<Vec<u16>>())
}

fn contains_ignore_case(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item.eq_ignore_ascii_case(wanted))
}

/// Everything in the INF that disagrees with the driver's identity; empty if nothing does.
fn problems(inf: &Inf) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };

    // [Version]: the Camera class.
    let class = inf.value("Version", "Class");
    expect(
        class.as_deref() == Some(DEVICE_CLASS_NAME),
        format!("Class is {class:?}, not {DEVICE_CLASS_NAME}"),
    );
    let class_guid = inf.value("Version", "ClassGuid");
    expect(
        class_guid.as_deref().and_then(parse_guid) == Some(DEVICE_CLASS),
        format!("ClassGuid is {class_guid:?}, not {DEVICE_CLASS:?}"),
    );
    let catalog = format!("{SERVICE_NAME}.cat");
    expect(
        inf.value("Version", "CatalogFile")
            .is_some_and(|c| c.eq_ignore_ascii_case(&catalog)),
        format!("CatalogFile is not {catalog}"),
    );

    // [Manufacturer] -> models sections decorated with the minimum build -> the hardware ID.
    let manufacturers = inf.section("Manufacturer");
    let mut models = Vec::new();
    for line in &manufacturers {
        let [base, decorations @ ..] = line.fields.as_slice() else {
            continue;
        };
        for decoration in decorations {
            let build = decoration
                .rsplit_once("...")
                .and_then(|(_, b)| b.parse::<u32>().ok());
            expect(
                build == Some(MINIMUM_WINDOWS_BUILD),
                format!(
                    "models decoration {decoration} does not target build {MINIMUM_WINDOWS_BUILD}"
                ),
            );
            models.push(format!("{base}.{decoration}"));
        }
    }
    expect(
        !models.is_empty(),
        "no decorated models section in [Manufacturer]".into(),
    );
    let mut install_sections = BTreeSet::new();
    for model in &models {
        for line in inf.section(model) {
            if let [install, hardware_ids @ ..] = line.fields.as_slice() {
                if hardware_ids
                    .iter()
                    .any(|id| id.eq_ignore_ascii_case(HARDWARE_ID))
                {
                    install_sections.insert(install.clone());
                }
            }
        }
    }
    expect(
        install_sections.len() == 1,
        format!("{HARDWARE_ID} maps to install sections {install_sections:?}, not exactly one"),
    );
    if let Some(install) = install_sections.into_iter().next() {
        check_install_sections(inf, &install, &mut expect);
    }
    problems
}

/// Checks the install sections of the device: KS registration, files, interfaces, service.
fn check_install_sections(inf: &Inf, install: &str, expect: &mut dyn FnMut(bool, String)) {
    let ddinstall = format!("{install}.NT");
    expect(
        inf.has_section(&ddinstall),
        format!("no [{ddinstall}] section"),
    );

    // The KS registration every AVStream capture driver needs.
    let includes = inf.values(&ddinstall, "Include").concat();
    let needs = inf.values(&ddinstall, "Needs").concat();
    for wanted in ["ks.inf", "kscaptur.inf"] {
        expect(
            contains_ignore_case(&includes, wanted),
            format!("Include lacks {wanted}"),
        );
    }
    for wanted in ["KS.Registration", "KSCAPTUR.Registration.NT"] {
        expect(
            contains_ignore_case(&needs, wanted),
            format!("Needs lacks {wanted}"),
        );
    }

    // The binary is copied, from the disk that lists it.
    let copied = inf
        .values(&ddinstall, "CopyFiles")
        .concat()
        .iter()
        .any(|section| {
            inf.section(section).iter().any(|line| {
                line.key.is_none() && line.fields[0].eq_ignore_ascii_case(SERVICE_BINARY)
            })
        });
    expect(
        copied,
        format!("no CopyFiles section copies {SERVICE_BINARY}"),
    );
    let on_disk = inf.section("SourceDisksFiles").iter().any(|line| {
        line.key
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(SERVICE_BINARY))
    });
    expect(
        on_disk,
        format!("[SourceDisksFiles] lacks {SERVICE_BINARY}"),
    );

    // The interfaces: exactly the filter's categories, each with the reference string, the KS
    // proxy's CLSID and the friendly name.
    let interfaces = inf.values(&format!("{ddinstall}.Interfaces"), "AddInterface");
    let mut categories = Vec::new();
    for fields in &interfaces {
        let category = fields.first().and_then(|g| parse_guid(g));
        expect(
            category.is_some(),
            format!("AddInterface {fields:?} has no GUID"),
        );
        categories.extend(category);
        let reference = fields.get(1).map(String::as_str);
        expect(
            reference == Some(REFERENCE_STRING),
            format!("AddInterface {fields:?}: reference string is not {REFERENCE_STRING}"),
        );
        let add_regs = fields
            .get(2)
            .map(|s| inf.values(s, "AddReg").concat())
            .unwrap_or_default();
        let registry: Vec<&Line> = add_regs.iter().flat_map(|s| inf.section(s)).collect();
        let value_of = |name: &str| {
            registry
                .iter()
                .find(|line| {
                    line.fields.len() >= 5
                        && line.fields[0].eq_ignore_ascii_case("HKR")
                        && line.fields[1].is_empty()
                        && line.fields[2].eq_ignore_ascii_case(name)
                })
                .map(|line| line.fields[4].clone())
        };
        let clsid = value_of("CLSID");
        expect(
            clsid.as_deref().and_then(parse_guid) == Some(INTERFACE_CLSID),
            format!("AddInterface {fields:?}: CLSID is {clsid:?}, not the KS proxy"),
        );
        let friendly = value_of("FriendlyName");
        expect(
            friendly.as_deref() == Some(FRIENDLY_NAME),
            format!("AddInterface {fields:?}: FriendlyName is {friendly:?}"),
        );
    }
    let registered: BTreeSet<String> = categories.iter().map(|g| format!("{g:?}")).collect();
    let declared: BTreeSet<String> = FILTER_CATEGORIES.iter().map(|g| format!("{g:?}")).collect();
    expect(
        registered == declared && categories.len() == FILTER_CATEGORIES.len(),
        format!("interfaces {categories:?} are not the filter's categories {FILTER_CATEGORIES:?}"),
    );

    // The device's hardware key: FaultInjection, a REG_DWORD, installed off.
    let hardware: Vec<&Line> = inf
        .values(&format!("{ddinstall}.HW"), "AddReg")
        .concat()
        .iter()
        .flat_map(|s| inf.section(s))
        .collect();
    let switch: Vec<&&Line> = hardware
        .iter()
        .filter(|line| {
            line.fields.len() >= 5
                && line.fields[0].eq_ignore_ascii_case("HKR")
                && line.fields[1].is_empty()
                && line.fields[2].eq_ignore_ascii_case(FAULT_INJECTION_VALUE)
        })
        .collect();
    expect(
        switch.len() == 1,
        format!("[{ddinstall}.HW] does not add {FAULT_INJECTION_VALUE} exactly once"),
    );
    // Only there: the driver reads the hardware key, not the service key its DriverEntry gets
    // (`DRIVER_REGISTRY_PATH`) nor any other, so a FaultInjection written elsewhere would be a
    // switch that switches nothing.
    let everywhere = inf
        .sections
        .iter()
        .flat_map(|(_, lines)| lines)
        .filter(|line| {
            line.fields.len() >= 3 && line.fields[2].eq_ignore_ascii_case(FAULT_INJECTION_VALUE)
        })
        .count();
    expect(
        everywhere == switch.len(),
        format!("{FAULT_INJECTION_VALUE} is written outside [{ddinstall}.HW]'s AddReg"),
    );
    if let Some(line) = switch.first() {
        // FLG_ADDREG_TYPE_DWORD.
        expect(
            parse_number(&line.fields[3]) == Some(0x0001_0001),
            format!("{FAULT_INJECTION_VALUE} is not a REG_DWORD (flags 0x00010001)"),
        );
        expect(
            parse_number(&line.fields[4]) == Some(FAULT_INJECTION_DEFAULT),
            format!("{FAULT_INJECTION_VALUE} is not installed as {FAULT_INJECTION_DEFAULT}"),
        );
    }

    // The service: a demand-start kernel driver running the binary, bound to the device.
    let services = inf.values(&format!("{ddinstall}.Services"), "AddService");
    let ours: Vec<&Vec<String>> = services
        .iter()
        .filter(|f| {
            f.first()
                .is_some_and(|n| n.eq_ignore_ascii_case(SERVICE_NAME))
        })
        .collect();
    expect(
        ours.len() == 1,
        format!("AddService for {SERVICE_NAME}: {services:?}"),
    );
    if let Some(fields) = ours.first() {
        let flags = fields.get(1).and_then(|f| parse_number(f)).unwrap_or(0);
        expect(
            flags & 0x2 != 0,
            "AddService lacks SPSVCINST_ASSOCSERVICE (0x2)".into(),
        );
        let section = fields.get(2).cloned().unwrap_or_default();
        let number = |key: &str| inf.value(&section, key).and_then(|v| parse_number(&v));
        expect(
            number("ServiceType") == Some(1),
            "ServiceType is not 1 (kernel driver)".into(),
        );
        expect(
            number("StartType") == Some(3),
            "StartType is not 3 (demand start)".into(),
        );
        expect(
            number("ErrorControl") == Some(1),
            "ErrorControl is not 1 (normal)".into(),
        );
        let binary = inf.value(&section, "ServiceBinary").unwrap_or_default();
        let file = binary.rsplit('\\').next().unwrap_or_default();
        expect(
            file.eq_ignore_ascii_case(SERVICE_BINARY),
            format!("ServiceBinary {binary} does not run {SERVICE_BINARY}"),
        );
    }
}

fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[test]
fn the_inf_matches_the_driver_identity() {
    let problems = problems(&Inf::parse(INX));
    assert!(
        problems.is_empty(),
        "inf/avcam.inx disagrees with src/identity.rs:\n{problems:#?}"
    );
}

/// Each broken copy of the INF must be rejected, with a problem that mentions `expected`.
#[test]
fn broken_infs_are_rejected_for_the_right_reason() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (what, replace, with, expected words in a problem)
        ("camera interface dropped", "AddInterface = %KSCATEGORY_VIDEO_CAMERA%, %RefString%, avcam.Interface\n", "", "not the filter's categories"),
        ("extra interface", "AddInterface = %KSCATEGORY_VIDEO%,", "AddInterface = {65E8773D-8F56-11D0-A3B9-00A0C9223197}, GLOBAL, avcam.Interface\nAddInterface = %KSCATEGORY_VIDEO%,", "not the filter's categories"),
        ("reference string", "RefString               = \"GLOBAL\"", "RefString = \"Global2\"", "reference string is not GLOBAL"),
        ("class GUID", "{ca3e7ab9-b4c3-4ae6-8251-579ef933890f}", "{6bdd1fc6-810f-11d0-bec7-08002be2092f}", "ClassGuid"),
        ("class name", "Class       = Camera", "Class       = Image", "Class is"),
        ("hardware ID", ", Root\\avcam\n", ", Root\\avcam2\n", "Root\\avcam maps to install sections {}"),
        ("service binary", "ServiceBinary = %13%\\avcam.sys", "ServiceBinary = %13%\\other.sys", "does not run avcam.sys"),
        ("copied file", "[avcam.CopyFiles]\navcam.sys", "[avcam.CopyFiles]\nother.sys", "no CopyFiles section copies"),
        ("proxy CLSID", "ProxyVCap.CLSID         = \"{17CCA71B", "ProxyVCap.CLSID = \"{17CCA71C", "not the KS proxy"),
        ("friendly name", "HKR,,FriendlyName,,%avcam.FriendlyName%\n", "", "FriendlyName is None"),
        ("KS needs", "Needs     = KS.Registration, KSCAPTUR.Registration.NT", "Needs = KS.Registration", "Needs lacks KSCAPTUR.Registration.NT"),
        ("service type", "ServiceType   = 1 ", "ServiceType   = 2 ", "ServiceType is not 1"),
        ("old Windows", "NT$ARCH$.10.0...19041\n\n", "NT$ARCH$.10.0...16299\n\n", "does not target build 19041"),
        ("fault injection installed on", "HKR,,FaultInjection,0x00010001,0", "HKR,,FaultInjection,0x00010001,1", "FaultInjection is not installed as 0"),
        ("fault injection as a string", "HKR,,FaultInjection,0x00010001,0", "HKR,,FaultInjection,0,\"0\"", "FaultInjection is not a REG_DWORD"),
        ("no hardware key", "AddReg = avcam.HW.AddReg\n", "", "does not add FaultInjection"),
        ("fault injection in the service key", "ServiceBinary = %13%\\avcam.sys\n", "ServiceBinary = %13%\\avcam.sys\nAddReg = avcam.Service.AddReg\n\n[avcam.Service.AddReg]\nHKR,Parameters,FaultInjection,0x00010001,1\n", "written outside"),
    ];
    for (what, from, to, expected) in cases {
        assert!(
            INX.contains(from),
            "case {what}: the INF no longer contains {from:?}"
        );
        let broken = INX.replacen(from, to, 1);
        let problems = problems(&Inf::parse(&broken));
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "case {what}: expected a problem mentioning {expected:?}, got {problems:#?}"
        );
    }
}

#[test]
fn parser_handles_comments_quotes_continuations_and_strings() {
    let inf = Inf::parse(
        "\u{feff}; header\n[A]\nKey = \"x;y\", %S% ; trailing\nLong = one, \\\n  two\nHKR,,N,,\"a, b\"\nP = 100%%, %13%\\f\n[Strings]\nS = \"sub\"\n",
    );
    assert_eq!(
        inf.values("a", "key"),
        vec![vec!["x;y".to_string(), "sub".to_string()]]
    );
    assert_eq!(
        inf.values("A", "Long"),
        vec![vec!["one".to_string(), "two".to_string()]]
    );
    let unkeyed: Vec<&Line> = inf
        .section("A")
        .into_iter()
        .filter(|l| l.key.is_none())
        .collect();
    assert_eq!(unkeyed[0].fields, ["HKR", "", "N", "", "a, b"]);
    assert_eq!(
        inf.values("A", "P"),
        vec![vec!["100%".to_string(), "%13%\\f".to_string()]]
    );
    assert!(inf.section("missing").is_empty());
}

/// Runs `scripts/package_windows.py stamp` on `inx` (text) and returns the INF, or the stamper's
/// one-line error and exit status.
fn stamp(inx: &str, epoch: u64) -> Result<String, (Option<i32>, String)> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::env::temp_dir().join(format!("avcam-stamp-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("avcam.inx");
    std::fs::write(&path, inx).unwrap();
    let output = std::process::Command::new("python3")
        .arg(format!("{root}/scripts/package_windows.py"))
        .args(["stamp", "--version", env!("CARGO_PKG_VERSION"), "--epoch"])
        .arg(epoch.to_string())
        .arg("--inx")
        .arg(&path)
        .output()
        .expect("python3 runs scripts/package_windows.py");
    std::fs::remove_dir_all(&dir).unwrap();
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).expect("the stamped INF is ASCII"))
    } else {
        Err((
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

/// What stamping must have done: DriverVer from the date and the crate version, `$ARCH$` filled
/// in as amd64, CRLF lines.
fn stamp_problems(inf_text: &str, date: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    let inf = Inf::parse(inf_text);
    let version = format!("{}.0", env!("CARGO_PKG_VERSION"));
    match inf.values("Version", "DriverVer").as_slice() {
        [fields] if fields.len() == 2 => {
            let d = &fields[0];
            let shape = d.len() == 10
                && d.char_indices().all(|(i, c)| {
                    if i == 2 || i == 5 {
                        c == '/'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !shape || date.is_some_and(|want| d != want) {
                problems.push(format!("DriverVer date {d} is not mm/dd/yyyy {date:?}"));
            }
            if fields[1] != version {
                problems.push(format!("DriverVer version {} is not {version}", fields[1]));
            }
        }
        other => problems.push(format!("[Version] DriverVer is {other:?}")),
    }
    let code: String = inf_text
        .lines()
        .map(strip_comment)
        .collect::<Vec<_>>()
        .join("\n");
    if code.contains("$ARCH$") || !code.contains("NTamd64.10.0...") {
        problems.push("$ARCH$ is not stamped as amd64".into());
    }
    if inf_text.replace("\r\n", "").contains('\n') {
        problems.push("not CRLF lines".into());
    }
    problems
}

/// The INF the package ships agrees with the driver's identity like the INX, and is stamped.
/// Without `AVCAM_STAMPED_INF`, the INX stamped here (2025-12-01); with it, that file (what
/// scripts/package-windows.sh takes out of the zip it built).
#[test]
fn the_stamped_inf_matches_the_driver_identity() {
    let (text, date) = match std::env::var_os("AVCAM_STAMPED_INF") {
        Some(path) => (
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("AVCAM_STAMPED_INF {path:?}: {e}")),
            None,
        ),
        None => (
            stamp(INX, 1_764_547_200).unwrap_or_else(|e| panic!("{e:?}")),
            Some("12/01/2025"),
        ),
    };
    let mut problems = problems(&Inf::parse(&text));
    problems.extend(stamp_problems(&text, date));
    assert!(
        problems.is_empty(),
        "the stamped INF disagrees:\n{problems:#?}"
    );
    // The checks see a bad stamp: the INX itself is not stamped.
    assert!(!stamp_problems(INX, None).is_empty());
}

/// The stamper refuses what it cannot stamp, with exit status 2 and a reason, instead of
/// writing an INF with a hole in it.
#[test]
fn the_stamper_refuses_what_it_cannot_stamp() {
    let cases = [
        ("DriverVer   =\n", "", "0 DriverVer lines"),
        (
            "PnpLockdown = 1\n",
            "PnpLockdown = $KMDFVERSION$\n",
            "$KMDFVERSION$",
        ),
        (
            "Provider    = %ProviderName%",
            "Provider = \"avcäm\"",
            "non-ASCII",
        ),
        ("CatalogFile = avcam.cat\n", "", "0 CatalogFile lines"),
    ];
    for (from, to, expected) in cases {
        assert!(INX.contains(from), "the INX no longer contains {from:?}");
        let (status, message) = stamp(&INX.replacen(from, to, 1), 1_764_547_200)
            .expect_err(&format!("stamping without {from:?} must fail"));
        assert_eq!(status, Some(2), "{message}");
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
    let (_, message) = stamp(INX, 0).expect_err("a date before 1980 must fail");
    assert!(message.contains("before 1980"), "{message}");
}

#[test]
fn the_emulations_registry_path_is_the_inf_services_key() {
    // DriverEntry gets the service key the INF's AddService creates, in the emulation as on
    // Windows.
    let key = avcam_emulation::DRIVER_REGISTRY_PATH;
    let (parent, service) = key.rsplit_once('\\').expect("a key path");
    assert_eq!(
        parent,
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services"
    );
    assert_eq!(service, SERVICE_NAME);
}
