//! The mapping config loader (`acrm.toml`): any text is a config or a clear error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = acrm_etl::BuildConfig::parse(std::path::Path::new("fuzz/acrm.toml"), text);
    }
});
