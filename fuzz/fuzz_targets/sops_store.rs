//! Any text as an environment's secret store (`environments/<env>.secrets.sops.yaml`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = std::str::from_utf8(data).ok().map(str::to_string);
    let _ = stackc::seal::Store::from_text(Path::new("environments/dev.secrets.sops.yaml"), text);
});
