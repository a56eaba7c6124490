//! Parse, check, plan (offline) and render arbitrary input: `netscript::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    netscript::fuzzing::front_end(data);
});
