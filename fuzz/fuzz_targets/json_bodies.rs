#![no_main]
//! The `json_bodies` check of `velum_web::fuzz_checks` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    velum_web::fuzz_checks::check("json_bodies").expect("a listed target")(data);
});
