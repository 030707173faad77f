//! Any text as a sealed Secret under out/: parsed as a SOPS file, then decrypted with the
//! example identity (the key the example's manifests are sealed to), which checks the MAC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const IDENTITY: &str = include_str!("../../examples/keys/example.agekey");

fn identities() -> &'static stackc::seal::Identities {
    static IDS: OnceLock<stackc::seal::Identities> = OnceLock::new();
    IDS.get_or_init(|| {
        let keys = IDENTITY
            .lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
            .filter_map(|l| l.parse::<age::x25519::Identity>().ok())
            .collect();
        stackc::seal::Identities::from_keys(keys, "examples/keys/example.agekey")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = stackc::seal::SopsFile::parse("out/dev/secret.yaml", text) {
        let _ = file.recipients();
        let _ = file.decrypt(identities());
    }
});
