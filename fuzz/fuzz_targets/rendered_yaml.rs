//! Any text as a rendered template's YAML output.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stackc::yaml::parse_documents(text);
    }
});
