pub mod audit;
pub mod clinic;
pub mod demo;
pub mod keys;
pub mod migrate;
pub mod serve;
