//! The run machinery: everything between a plan and a committed change. A run is one
//! transaction ([`transaction`]): observe → plan with the ownership records ([`state`]) →
//! apply under the host lock ([`lock`]) with a write-ahead [`journal`] → verify → the
//! script's [`expectations`] → commit. [`recover`] finishes what a killed run left, and
//! [`interrupt`] turns signals into a rollback.

pub mod capture;
pub mod committed;
pub mod expectations;
pub mod interrupt;
pub mod journal;
pub mod lock;
pub mod recover;
pub mod state;
pub mod transaction;
