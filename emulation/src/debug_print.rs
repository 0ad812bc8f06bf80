//! `DbgPrint`: the kernel debugger's output, here the process's standard error.
//!
//! The driver's Linux build never calls it (std prints its panics); a cross-built image does, in
//! its panic handler (`DbgPrint("avcam: %s\n", message)`) just before it bug checks. The text goes
//! straight to file descriptor 2 in one write, not through the test harness's captured `eprint!`,
//! so that it reaches the terminal even when the bug check that follows ends the process.
//!
//! The format is the C runtime's printf subset that DbgPrint documents (learn.microsoft.com,
//! DbgPrint: "the format string ... supports all the printf-style formatting codes"): flags
//! `-0+ #`, a width and a precision (digits or `*`), the length prefixes `h l ll I I32 I64 z`, and
//! the conversions `d i u x X o c s p %`, plus the kernel's `%ws` / `%S` (a NUL-terminated UTF-16
//! string), `%Z` (a `PANSI_STRING`) and `%wZ` (a `PUNICODE_STRING`). An unknown conversion is
//! printed as written. Under the Windows x64 convention a variadic argument travels like a fixed
//! one (integers and pointers whole in a register or stack slot), so the arguments come in as
//! pointer-sized values; the emulation reads the first three (the image passes one), and a
//! conversion past them prints `<missing>`.

use std::ffi::c_void;
use std::fmt::Write as _;
use std::io::Write as _;

use ks::nt::UNICODE_STRING;

/// The longest string a `%s`-like conversion reads (a guard against a missing terminator).
const MAX_STRING: usize = 64 * 1024;

/// Formats `format` with `args` and writes the text to standard error in one write; returns the
/// number of bytes written (DbgPrint returns an NTSTATUS, which the emulation leaves at success).
///
/// # Safety
/// `format` is NULL or a NUL-terminated string; every argument a conversion reads as a pointer
/// (`%s`, `%ws`, `%Z`, `%wZ`) is NULL or what that conversion expects.
pub(crate) unsafe fn print(format: *const u8, args: &[usize]) -> usize {
    // SAFETY: forwarded from the caller.
    let text = unsafe { format_message(format, args) };
    let mut stderr = std::io::stderr().lock();
    // Nothing better to do if standard error is gone.
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
    text.len()
}

/// The text `DbgPrint(format, args...)` prints.
///
/// # Safety
/// As for [`print`].
pub(crate) unsafe fn format_message(format: *const u8, args: &[usize]) -> String {
    // SAFETY: the caller's contract: NULL or NUL-terminated.
    let Some(format) = (unsafe { c_bytes(format) }) else {
        return "(null)".to_owned();
    };
    let mut out = String::new();
    let mut args = args.iter().copied();
    let mut rest = format;
    while let Some(percent) = rest.iter().position(|&b| b == b'%') {
        out.push_str(&String::from_utf8_lossy(&rest[..percent]));
        let after = &rest[percent + 1..];
        let (spec, used) = Spec::parse(after, &mut args);
        match spec {
            Some(spec) => {
                // SAFETY: forwarded from the caller (the conversion's argument is what it expects).
                let text = unsafe { spec.render(&mut args) };
                spec.pad(&mut out, &text);
            }
            None => out.push_str(&String::from_utf8_lossy(&rest[percent..percent + 1 + used])),
        }
        rest = &after[used..];
    }
    out.push_str(&String::from_utf8_lossy(rest));
    out
}

/// One parsed conversion.
#[derive(Debug, Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    width: usize,
    precision: Option<usize>,
    /// The argument is 64 bits wide (`ll`, `I64`, `z`, `I`, or `%p`); else 32 (`h`: 16).
    wide_int: bool,
    short: bool,
    /// `l`/`w` before `s`/`c`/`Z`: a wide string or character.
    wide_text: bool,
    conversion: u8,
}

impl Spec {
    /// Parses the conversion after a `%`; returns it (None for an unknown one) and the bytes
    /// used. `*` widths and precisions take an argument.
    fn parse(bytes: &[u8], args: &mut impl Iterator<Item = usize>) -> (Option<Spec>, usize) {
        let mut spec = Spec::default();
        let mut i = 0;
        while let Some(&flag) = bytes.get(i) {
            match flag {
                b'-' => spec.left = true,
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alternate = true,
                _ => break,
            }
            i += 1;
        }
        let mut number = |i: &mut usize| -> Option<usize> {
            if bytes.get(*i) == Some(&b'*') {
                *i += 1;
                return Some(args.next().map_or(0, |v| v as u32 as i32).max(0) as usize);
            }
            let start = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            std::str::from_utf8(&bytes[start..*i]).ok()?.parse().ok()
        };
        spec.width = number(&mut i).unwrap_or(0);
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            spec.precision = Some(number(&mut i).unwrap_or(0));
        }
        let rest = &bytes[i..];
        let prefix = [
            (&b"I64"[..], 3),
            (b"I32", 3),
            (b"ll", 2),
            (b"hh", 2),
            (b"I", 1),
            (b"z", 1),
            (b"l", 1),
            (b"w", 1),
            (b"h", 1),
        ]
        .into_iter()
        .find(|(p, _)| rest.starts_with(p));
        if let Some((p, len)) = prefix {
            match p {
                b"I64" | b"ll" | b"I" | b"z" => spec.wide_int = true,
                b"h" | b"hh" => spec.short = true,
                b"l" | b"w" => spec.wide_text = true,
                _ => {}
            }
            i += len;
        }
        match bytes.get(i) {
            Some(
                &c @ (b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'c' | b's' | b'p' | b'Z' | b'S'
                | b'C' | b'%'),
            ) => {
                spec.conversion = c;
                (Some(spec), i + 1)
            }
            Some(_) => (None, i + 1),
            None => (None, i),
        }
    }

    /// The converted argument, before padding.
    ///
    /// # Safety
    /// A pointer argument is NULL or what the conversion expects.
    unsafe fn render(&self, args: &mut impl Iterator<Item = usize>) -> String {
        if self.conversion == b'%' {
            return "%".to_owned();
        }
        let Some(value) = args.next() else {
            return "<missing>".to_owned();
        };
        let unsigned = if self.wide_int || self.conversion == b'p' {
            value as u64
        } else if self.short {
            u64::from(value as u16)
        } else {
            u64::from(value as u32)
        };
        let mut text = String::new();
        match self.conversion {
            b'd' | b'i' => {
                let signed = if self.wide_int {
                    value as i64
                } else if self.short {
                    i64::from(value as i16)
                } else {
                    i64::from(value as i32)
                };
                if signed >= 0 && self.plus {
                    text.push('+');
                } else if signed >= 0 && self.space {
                    text.push(' ');
                }
                let _ = write!(text, "{signed}");
            }
            b'u' => {
                let _ = write!(text, "{unsigned}");
            }
            b'x' => {
                if self.alternate && unsigned != 0 {
                    text.push_str("0x");
                }
                let _ = write!(text, "{unsigned:x}");
            }
            b'X' => {
                if self.alternate && unsigned != 0 {
                    text.push_str("0X");
                }
                let _ = write!(text, "{unsigned:X}");
            }
            b'o' => {
                let _ = write!(text, "{unsigned:o}");
            }
            b'p' => {
                let _ = write!(text, "{unsigned:016X}");
            }
            b'c' | b'C' => {
                let code = if self.wide_text || self.conversion == b'C' {
                    u32::from(value as u16)
                } else {
                    u32::from(value as u8)
                };
                text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            b's' | b'S' => {
                let pointer = value as *const c_void;
                text = if self.wide_text || self.conversion == b'S' {
                    // SAFETY: the caller's contract: NULL or a NUL-terminated UTF-16 string.
                    unsafe { wide_string(pointer.cast()) }
                } else {
                    // SAFETY: the caller's contract: NULL or a NUL-terminated string.
                    unsafe { c_bytes(pointer.cast()) }
                        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                }
                .unwrap_or_else(|| "(null)".to_owned());
                if let Some(precision) = self.precision {
                    text = text.chars().take(precision).collect();
                }
            }
            b'Z' => {
                // ANSI_STRING and UNICODE_STRING share the layout: two lengths, then the buffer.
                let counted = value as *const UNICODE_STRING;
                // SAFETY: the caller's contract: NULL or a live counted string.
                text = unsafe { counted_string(counted, self.wide_text) }
                    .unwrap_or_else(|| "(null)".to_owned());
            }
            _ => {}
        }
        text
    }

    /// Appends `text` padded to the width (zeros after any sign for numbers with `0`).
    fn pad(&self, out: &mut String, text: &str) {
        let len = text.chars().count();
        if len >= self.width {
            out.push_str(text);
        } else if self.left {
            out.push_str(text);
            out.extend(std::iter::repeat_n(' ', self.width - len));
        } else if self.zero && b"diuxXop".contains(&self.conversion) {
            let (sign, digits) = match text.strip_prefix(['-', '+', ' ']) {
                Some(digits) => text.split_at(text.len() - digits.len()),
                None => ("", text),
            };
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', self.width - len));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', self.width - len));
            out.push_str(text);
        }
    }
}

/// The bytes of a NUL-terminated string (at most [`MAX_STRING`]), None for NULL.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn c_bytes<'a>(text: *const u8) -> Option<&'a [u8]> {
    if text.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: the string is NUL-terminated, so every byte up to the terminator is readable.
    while len < MAX_STRING && unsafe { text.wrapping_add(len).read() } != 0 {
        len += 1;
    }
    // SAFETY: `len` bytes were just read from `text`.
    Some(unsafe { std::slice::from_raw_parts(text, len) })
}

/// A NUL-terminated UTF-16 string (at most [`MAX_STRING`] units), None for NULL.
///
/// # Safety
/// `text` is NULL or a NUL-terminated, 2-byte aligned UTF-16 string.
unsafe fn wide_string(text: *const u16) -> Option<String> {
    if text.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: the string is NUL-terminated, so every unit up to the terminator is readable.
    while len < MAX_STRING && unsafe { text.wrapping_add(len).read() } != 0 {
        len += 1;
    }
    // SAFETY: `len` units were just read from `text`.
    let units = unsafe { std::slice::from_raw_parts(text, len) };
    Some(String::from_utf16_lossy(units))
}

/// A counted string (`ANSI_STRING` when not `wide`, else `UNICODE_STRING`), None for NULL.
///
/// # Safety
/// `counted` is NULL or a live counted string whose buffer holds `Length` bytes.
unsafe fn counted_string(counted: *const UNICODE_STRING, wide: bool) -> Option<String> {
    // SAFETY: the caller's contract: NULL or live.
    let counted = unsafe { counted.as_ref() }?;
    if counted.Buffer.is_null() {
        return None;
    }
    let bytes = usize::from(counted.Length);
    Some(if wide {
        // SAFETY: the buffer holds `Length` bytes of UTF-16 (the caller's contract).
        let units = unsafe { std::slice::from_raw_parts(counted.Buffer, bytes / 2) };
        String::from_utf16_lossy(units)
    } else {
        // SAFETY: the buffer holds `Length` bytes (the caller's contract).
        let bytes = unsafe { std::slice::from_raw_parts(counted.Buffer.cast::<u8>(), bytes) };
        String::from_utf8_lossy(bytes).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(text: &std::ffi::CStr, args: &[usize]) -> String {
        // SAFETY: a NUL-terminated format; the tests pass pointers only to live strings.
        unsafe { format_message(text.as_ptr().cast(), args) }
    }

    #[test]
    fn the_panic_handlers_call_prints_the_message() {
        let message = c"panicked at src/frame_path.rs:10:5:\nboom";
        assert_eq!(
            format(c"avcam: %s\n", &[message.as_ptr() as usize]),
            "avcam: panicked at src/frame_path.rs:10:5:\nboom\n"
        );
    }

    #[test]
    fn integers_follow_their_length_prefix() {
        let minus_one = u64::MAX as usize;
        assert_eq!(format(c"%d %u", &[minus_one, minus_one]), "-1 4294967295");
        assert_eq!(format(c"%I64d %lld", &[minus_one, 5]), "-1 5");
        assert_eq!(format(c"%hd %hu", &[0x1_ffff, 0x1_ffff]), "-1 65535");
        assert_eq!(
            format(c"%x %X %#x", &[0xbeef, 0xbeef, 0x10]),
            "beef BEEF 0x10"
        );
        assert_eq!(
            format(c"%08x|%-4d|%4d|%+d", &[0xab, 7, 7]),
            "000000ab|7   |   7|<missing>"
        );
        assert_eq!(format(c"%*d", &[5, 42]), "   42");
        assert_eq!(format(c"%p", &[0x1234]), "0000000000001234");
        assert_eq!(format(c"%05d", &[(-42i64) as usize]), "-0042");
    }

    #[test]
    fn strings_characters_and_counted_strings() {
        let wide: Vec<u16> = "wide\0".encode_utf16().collect();
        assert_eq!(
            format(
                c"[%ws] [%S] [%.3s] [%c]",
                &[
                    wide.as_ptr() as usize,
                    wide.as_ptr() as usize,
                    c"abcdef".as_ptr() as usize
                ]
            ),
            "[wide] [wide] [abc] [<missing>]"
        );
        assert_eq!(format(c"%s", &[0]), "(null)");
        let mut units: Vec<u16> = "counted".encode_utf16().collect();
        let counted = UNICODE_STRING {
            Length: 12, // "counte": the length, not the terminator, ends it
            MaximumLength: 14,
            Buffer: units.as_mut_ptr(),
        };
        assert_eq!(format(c"%wZ", &[&raw const counted as usize]), "counte");
    }

    #[test]
    fn percent_signs_and_unknown_conversions_print_as_written() {
        assert_eq!(format(c"100%% %q %", &[1]), "100% %q %");
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { format_message(std::ptr::null(), &[]) }, "(null)");
    }
}
