//! The server's parsers of request bytes, reachable without HTTP or storage for the fuzz
//! targets (fuzz/) and property tests: not an API, hidden from the docs.

use serde::de::DeserializeOwned;
use tsunagi_crypto::identity::SigPublic;

use crate::error::ApiError;
use crate::storage::PushItem;

/// Steps 1-3 of a push (`POST /v1/sync/push`): the batch parsed, each envelope parsed,
/// shape-checked, its author compared with `author` and its signature verified with `key`.
pub fn push_batch(
    body: &[u8],
    author: &[u8; 16],
    key: &SigPublic,
) -> Result<Vec<PushItem>, ApiError> {
    crate::sync::verify_batch(body, author, key)
}

/// A sync endpoint's query string: each allowed name at most once, whole numbers; with the
/// page size `limit` checked when present.
pub fn query(raw: &str, allowed: &[&'static str]) -> Result<Vec<Option<u64>>, ApiError> {
    let params = crate::sync::Params::parse(Some(raw), allowed)?;
    params.limit()?;
    Ok(allowed.iter().map(|name| params.get(name)).collect())
}

/// A JSON request body as every handler reads it.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    crate::auth::parse_json(bytes)
}

/// The team-id rule `POST /v1/admin/teams` applies.
pub fn valid_team_id(s: &str) -> bool {
    crate::handlers::valid_team_id(s)
}
