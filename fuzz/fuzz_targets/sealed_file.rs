#![no_main]
//! The `sealed_file` check of `velum_web::fuzz_checks` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    velum_web::fuzz_checks::check("sealed_file").expect("a listed target")(data);
});
