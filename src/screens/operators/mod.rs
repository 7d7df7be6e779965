//! The administrator's screens (issue #10, item 2): operators (`:operators`: add one with a
//! temporary password shown once, disable and enable, reset a password, change roles),
//! departments (`:departments`) and roles with their permissions (`:roles`). Every change is
//! made by the database as the signed-in administrator: the `operator_*` functions and the
//! guards of `department` and `role_permission` (sql/V13, V15) refuse anyone else; the checks
//! here are for a clear message. The lists and forms are the reference screens' pieces
//! (`reference::list::ShortList`, `reference::form::RefForm`, `reference::requests`).

pub mod departments;
pub mod list;
pub mod requests;
pub mod roles;
pub mod shown_once;
