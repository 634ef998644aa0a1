//! The `tsunagi` binary: the worker's app on a desktop or laptop (tablets start from lib.rs).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tsunagi_app::run();
}
