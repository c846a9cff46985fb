//! Access control: who is calling (a static token, a JWT from the identity
//! provider, or nobody), with what role, and what each role may do.

mod caller;
mod guard;
pub mod jwt;
pub mod keys;
mod policy;
mod role;
pub mod tokens;

pub use caller::Caller;
pub use guard::{Needs, caller};
pub use policy::{AccessPolicy, default_anonymous_role, require};
pub use role::Role;
