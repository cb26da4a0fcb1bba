//! Black-box tests of Velum: the real app on a real socket with a real
//! encrypted SQLite database, driven through its API, pages and CLI.

mod api;
mod audit;
mod auth;
mod backup;
mod browser;
mod cli;
mod contract;
mod forms;
mod fuzz;
mod hosted;
mod hosted_api;
mod https;
mod invite;
mod keys;
mod loadtest;
mod logs;
mod mail;
mod medical_integrity;
mod offboard;
mod openapi;
mod pytools;
mod settings;
mod staff;
mod tenancy;
mod tenancy_probe;
mod totp;
mod transfer;
mod typed_states;
