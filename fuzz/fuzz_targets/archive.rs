#![no_main]
//! The `archive` check of `velum_web::fuzz_checks` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    velum_web::fuzz_checks::check("archive").expect("a listed target")(data);
});
