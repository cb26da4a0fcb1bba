//! Velum's domain: the types every other layer speaks, and the clinic's pure
//! rules. No IO, no async, no SQL, no clock reads (G1): everything here is
//! tested without a database and takes "now" or "today" as an argument.
//!
//! What lives here: typed ids ([`id`]), validated personal-data values
//! ([`text`]), staff roles and the per-section permission table ([`actor`]),
//! the client card ([`client`]), the audit event value ([`audit`]) and a
//! clinic's own settings ([`settings`]); the access policy in one place
//! ([`policy`]); a clinic's status and name ([`clinic`]); break-glass
//! support grants and their transitions ([`support`]).

pub mod actor;
pub mod audit;
pub mod client;
pub mod clinic;
pub mod id;
pub mod link;
pub mod policy;
pub mod redact;
pub mod settings;
pub mod support;
pub mod text;

pub use actor::{Actor, ActorKind, ClinicScope, Role, Section, StaffActor, SystemJob};
pub use id::{ClientId, ClinicId, StaffId};
