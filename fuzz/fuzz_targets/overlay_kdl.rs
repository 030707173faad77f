//! Any bytes as `environments/production.kdl` beside the example's `stacks.kdl`.
#![no_main]

use libfuzzer_sys::fuzz_target;

const STACK: &[u8] = include_bytes!("../../stacks.kdl");

fuzz_target!(|data: &[u8]| {
    let _ = stackc::model::load_text(STACK, &[("production", data)]);
});
