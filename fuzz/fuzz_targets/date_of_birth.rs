#![no_main]
//! The `date_of_birth` check of `velum_web::fuzz_checks` under libFuzzer.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    velum_web::fuzz_checks::check("date_of_birth").expect("a listed target")(data);
});
