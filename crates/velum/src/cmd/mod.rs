pub mod audit;
pub mod clinic;
pub mod demo;
pub mod export;
pub mod import;
pub mod keys;
pub mod migrate;
pub mod serve;
