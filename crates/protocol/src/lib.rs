//! The wire side of Tsunagi: JSON DTOs of the server API (`api`), request signing (`auth`,
//! docs/identity.md) and the HTTP client devices and `tsunagi-admin` use (`client`).
//! Domain types are not the wire format: everything here is converted at the boundary.

pub mod api;
pub mod auth;
pub mod b64;
pub mod client;
pub mod wire;
