#![no_main]
//! The `stream` check of `velum_web::fuzz_checks` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    velum_web::fuzz_checks::check("stream").expect("a listed target")(data);
});
