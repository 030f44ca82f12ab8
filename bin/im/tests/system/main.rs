//! System tests: the real `im` binary, started as a user would, on random ports with a
//! temporary data directory.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod api;
mod people;
mod process;
mod ws;

mod all_in_one;
mod auth_attacks;
mod auth_flow;
mod auth_mysql;
mod authz;
mod commands;
mod conversations;
mod messaging;
mod mysql;
mod subset;
