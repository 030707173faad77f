//! Any bytes as `stacks.kdl`: the whole load path (limits, runs, parse, validation) must
//! return diagnostics, never panic or overflow its stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stackc::model::load_text(data, &[]);
});
