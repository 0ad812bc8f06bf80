//! `#[kernel_abi]`: the one place that decides the calling convention at the boundary between
//! avcam's driver code and ntoskrnl / ks.sys.
//!
//! Every function that crosses that boundary (the services the driver imports, and every
//! callback ks.sys calls: dispatch routines, descriptor callbacks, DPC and timer routines,
//! allocator callbacks, the exported `Ks*` functions) is written `extern "system"`, the
//! convention Windows gives it, and carries this attribute. On x86_64 the attribute turns every
//! `extern "system"` inside the item into `extern "win64"`, the Windows x64 convention, whatever
//! the OS: on Windows that is what `"system"` already means, and on Linux it lets the emulation
//! call into a cross-built `avcam.sys` loaded into the process (and the image call the emulation)
//! exactly as ks.sys and ntoskrnl would. On every other architecture the item is left as written
//! (`"win64"` exists only on x86_64), so the Linux build of the tests also compiles there, without
//! the image loader.
//!
//! It applies to any item: a function, a type alias of a function pointer, a struct whose fields
//! are function pointers, an `extern` block, a `const`. An item without any `extern "system"`
//! inside is a compile error (the attribute would do nothing, which is always a mistake). A
//! boundary function written without the attribute does not compile either wherever it meets a
//! pointer type that has it (the two conventions are different types), which is how the
//! compiler finds the ones forgotten.
//!
//! ```
//! use avcam_abi::kernel_abi;
//!
//! /// A callback type of the boundary.
//! #[kernel_abi]
//! pub type Callback = unsafe extern "system" fn(u32) -> u32;
//!
//! #[kernel_abi]
//! unsafe extern "system" fn double(value: u32) -> u32 {
//!     value * 2
//! }
//!
//! let callback: Callback = double;
//! // SAFETY: `double` has no precondition.
//! assert_eq!(unsafe { callback(21) }, 42);
//! ```

use proc_macro::{Delimiter, Group, Literal, TokenStream, TokenTree};

/// Rewrites every `extern "system"` in the item to `extern "win64"` on x86_64 targets; see the
/// crate documentation.
#[proc_macro_attribute]
pub fn kernel_abi(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return compile_error("#[kernel_abi] takes no arguments");
    }
    let (win64, rewritten) = rewrite(item.clone());
    if rewritten == 0 {
        return compile_error(
            "#[kernel_abi] on an item with no `extern \"system\"`: nothing crosses the boundary here",
        );
    }
    let mut output: TokenStream = "#[cfg(target_arch = \"x86_64\")]"
        .parse()
        .expect("a valid attribute");
    output.extend(win64);
    output.extend(
        "#[cfg(not(target_arch = \"x86_64\"))]"
            .parse::<TokenStream>()
            .expect("a valid attribute"),
    );
    output.extend(item);
    output
}

/// The item with every `extern "system"` (at any depth) turned into `extern "win64"`, and how
/// many there were.
fn rewrite(item: TokenStream) -> (TokenStream, usize) {
    let mut count = 0;
    let mut output = Vec::new();
    let mut after_extern = false;
    for token in item {
        let token = match token {
            TokenTree::Group(group) => {
                let (inner, inner_count) = rewrite(group.stream());
                count += inner_count;
                let mut rebuilt = Group::new(group.delimiter(), inner);
                rebuilt.set_span(group.span());
                TokenTree::Group(rebuilt)
            }
            TokenTree::Literal(literal) if after_extern && literal.to_string() == "\"system\"" => {
                count += 1;
                let mut win64 = Literal::string("win64");
                win64.set_span(literal.span());
                TokenTree::Literal(win64)
            }
            other => other,
        };
        after_extern = matches!(&token, TokenTree::Ident(ident) if ident.to_string() == "extern");
        output.push(token);
    }
    (output.into_iter().collect(), count)
}

/// A `compile_error!` with `message`.
fn compile_error(message: &str) -> TokenStream {
    let mut output: TokenStream = "compile_error!".parse().expect("a valid path");
    let mut literal = TokenStream::new();
    literal.extend([TokenTree::Literal(Literal::string(message))]);
    output.extend([TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        literal,
    ))]);
    output.extend(";".parse::<TokenStream>().expect("a semicolon"));
    output
}
