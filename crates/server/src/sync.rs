//! The sync endpoints of docs/protocol.md: push (parse, author and signature checked here, the
//! rest in one storage transaction), pull pages, snapshots, head, a case's history, team KEM
//! keys and device certificates. The server verifies signatures and stores bytes; it never
//! opens an envelope.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tsunagi_crypto::identity::{KemPublic, SigPublic};
use tsunagi_protocol::api::{DeviceCert, Head, MyCases, TeamKem, TeamKemAnswer};
use tsunagi_protocol::wire::{self, Aux, Envelope, PushResponse, PushResult};
use uuid::Uuid;

use crate::auth::{Caller, Signed, parse_json};
use crate::error::{ApiError, ApiResult};
use crate::handlers::{parse_device_id, stored_cert, valid_team_id, verify_sig};
use crate::storage::{DeviceRow, KemOutcome, PageQuery, PageScope, PushItem};
use crate::{AppState, now_ms};

/// Most envelopes in one push.
pub const MAX_BATCH: usize = 1000;
/// Most envelopes on one page.
pub const MAX_PAGE: u32 = 5000;
/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 1000;
/// About this many body bytes on one page (at least one envelope, however large).
pub const MAX_PAGE_BYTES: usize = 4 << 20;

fn device(caller: Caller) -> ApiResult<Box<DeviceRow>> {
    match caller {
        Caller::Device(d) => Ok(d),
        Caller::Admin => Err(ApiError::forbidden("the sync API is for devices")),
    }
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_query", message)
}

/// Query parameters, each a whole number, each allowed name at most once.
#[derive(Debug)]
pub(crate) struct Params(Vec<(&'static str, u64)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>, allowed: &[&'static str]) -> ApiResult<Params> {
        let mut out: Vec<(&'static str, u64)> = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad_query(format!("query parameter {pair:?} has no value")))?;
            let name = allowed.iter().find(|a| **a == k).ok_or_else(|| {
                bad_query(format!(
                    "unknown query parameter {k:?}; this endpoint takes {}",
                    allowed.join(", ")
                ))
            })?;
            if out.iter().any(|(n, _)| n == name) {
                return Err(bad_query(format!("{name} is given twice")));
            }
            let n = (!v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u64>().ok())
                .flatten()
                .filter(|n| i64::try_from(*n).is_ok())
                .ok_or_else(|| {
                    bad_query(format!(
                        "{name} must be a whole number from 0 to 2^63-1, not {v:?}"
                    ))
                })?;
            out.push((name, n));
        }
        Ok(Params(out))
    }

    pub(crate) fn get(&self, name: &str) -> Option<u64> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub(crate) fn limit(&self) -> ApiResult<u32> {
        match self.get("limit") {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=u64::from(MAX_PAGE)).contains(&n) => {
                Ok(u32::try_from(n).unwrap_or(MAX_PAGE))
            }
            Some(n) => Err(bad_query(format!("limit must be 1 to {MAX_PAGE}, not {n}"))),
        }
    }
}

/// An `as_of` beyond the head would name snapshots that are not committed yet.
async fn check_as_of(state: &AppState, name: &str, as_of: u64) -> ApiResult<()> {
    let head = state.storage().head().await?;
    if as_of > head {
        return Err(bad_query(format!(
            "{name} {as_of} is beyond the head {head}; ask GET /v1/sync/head"
        )));
    }
    Ok(())
}

/// Shape checks the format leaves to the kinds (docs/protocol.md "Envelope"): an AES-GCM
/// payload holds at least its tag; a case-key slot is one HPKE X25519 `enc` and one sealed
/// 32-byte key; slots and grants have a zero nonce, grants no ciphertext.
fn shape(e: &Envelope) -> Result<(), String> {
    match &e.aux {
        Aux::None | Aux::Snapshot { .. } if e.ct.len() < 16 => {
            Err("the payload is shorter than its authentication tag".into())
        }
        Aux::CaseKey { enc, .. } if enc.len() != 32 || e.ct.len() != 48 || e.nonce != [0; 12] => {
            Err("a case-key slot needs a 32-byte enc, a 48-byte ciphertext and a zero nonce".into())
        }
        Aux::Grant { basis, .. } if !e.ct.is_empty() || e.nonce != [0; 12] => Err(format!(
            "a grant (basis {basis}) has no ciphertext and a zero nonce"
        )),
        Aux::Grant { basis, .. } if basis != "consent" && basis != "meeting" => {
            Err(format!("grant basis {basis:?} is not consent or meeting"))
        }
        _ => Ok(()),
    }
}

/// Batches at least this large are verified on several threads.
const PARALLEL_VERIFY_MIN: usize = 64;
/// At most this many threads verify one batch.
const VERIFY_THREADS_MAX: usize = 4;

/// Steps 1-3 of docs/protocol.md "What the server checks on push": parse, author, signature.
/// The signatures of a batch (all by the caller's key) are checked in one batch equation
/// ([`Envelope::verify_all`], ~16 µs an envelope at 20 against ~38 µs one by one on the
/// benchmark machine), one by one only when the batch fails, to name the envelope. A large
/// batch is split across the machine's cores (at most `VERIFY_THREADS_MAX`): the check is most
/// of a push's CPU time. Results keep the batch's order.
pub(crate) fn verify_batch(
    body: &[u8],
    author: &[u8; 16],
    key: &SigPublic,
) -> ApiResult<Vec<PushItem>> {
    let raw = wire::decode_batch(body, MAX_BATCH).map_err(|e| {
        ApiError::bad_request(
            "malformed",
            format!("malformed push batch ({e}); expected u8 version 1, u32 count (at most {MAX_BATCH}), count length-prefixed envelopes"),
        )
    })?;
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(VERIFY_THREADS_MAX);
    if raw.len() < PARALLEL_VERIFY_MIN || threads < 2 {
        return Ok(check_part(&raw, author, key));
    }
    let chunk = raw.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut parts = raw.chunks(chunk);
        let first = parts.next().unwrap_or_default();
        let others: Vec<_> = parts
            .map(|part| s.spawn(move || check_part(part, author, key)))
            .collect();
        let mut out = check_part(first, author, key);
        for h in others {
            out.extend(
                h.join()
                    .map_err(|_| ApiError::internal(&"a signature-check thread panicked"))?,
            );
        }
        Ok(out)
    })
}

/// Parse, shape and author of each envelope of `part`, then the signatures of those that pass,
/// together.
fn check_part(part: &[&[u8]], author: &[u8; 16], key: &SigPublic) -> Vec<PushItem> {
    let refused = |code: &'static str, message: String| PushItem::Refused { code, message };
    let parsed: Vec<Result<Envelope, PushItem>> = part
        .iter()
        .map(|bytes| {
            let e = Envelope::decode(bytes).map_err(|err| refused("malformed", err.to_string()))?;
            shape(&e).map_err(|m| refused("malformed", m))?;
            if &e.author != author {
                return Err(refused(
                    "not_author",
                    format!(
                        "the envelope's author {} is not the device that signed the request",
                        Uuid::from_bytes(e.author)
                    ),
                ));
            }
            Ok(e)
        })
        .collect();
    let candidates: Vec<(&Envelope, &SigPublic)> =
        parsed.iter().flatten().map(|e| (e, key)).collect();
    let all_good = Envelope::verify_all(&candidates);
    parsed
        .into_iter()
        .zip(part)
        .map(|(p, bytes)| match p {
            Ok(e) if all_good || e.verify(key) => PushItem::Verified {
                envelope: Box::new(e),
                body: bytes.to_vec(),
            },
            Ok(_) => refused(
                "bad_signature",
                "the envelope's signature does not verify with the author's key".into(),
            ),
            Err(item) => item,
        })
        .collect()
}

/// `POST /v1/sync/push`.
pub(crate) async fn push(
    State(state): State<AppState>,
    signed: Signed<false, true>,
) -> ApiResult<Json<PushResponse>> {
    let me = device(signed.caller)?;
    let key = SigPublic::from_bytes(&me.sig_pub)
        .map_err(|e| ApiError::internal(&format!("stored device key: {e}")))?;
    let author = *me.id.as_bytes();
    let body = signed.body;
    // Decoding and up to 1000 signature checks: off the async workers.
    let items = tokio::task::spawn_blocking(move || verify_batch(&body, &author, &key))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    let n = items.len();
    let results = if items.iter().any(|i| matches!(i, PushItem::Verified { .. })) {
        state.storage().push(&me.user.team, items, now_ms()).await?
    } else {
        // Nothing to store: no transaction, no envelope log lock.
        items
            .into_iter()
            .map(|i| match i {
                PushItem::Refused { code, message } => PushResult::Rejected {
                    code: code.to_owned(),
                    message,
                },
                PushItem::Verified { .. } => unreachable!("checked above"),
            })
            .collect()
    };
    if results.len() != n {
        return Err(ApiError::internal(&"push results do not match the batch"));
    }
    state.inner.metrics.count_push(&results);
    tracing::debug!(device = %me.id, envelopes = n, "push");
    Ok(Json(PushResponse { results }))
}

async fn page(
    state: &AppState,
    me: &DeviceRow,
    scope: PageScope,
    params: &Params,
    endpoint: &'static str,
) -> ApiResult<Response> {
    let q = PageQuery {
        team: me.user.team.clone(),
        scope,
        since: params.get("since").unwrap_or(0),
        limit: params.limit()?,
        max_bytes: MAX_PAGE_BYTES,
    };
    let page = state.storage().page(&q).await?;
    state.inner.metrics.count_page(endpoint, page.items.len());
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        page.encode(),
    )
        .into_response())
}

/// `GET /v1/sync/pull?since&limit&covered_as_of`.
pub(crate) async fn pull(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    signed: Signed,
) -> ApiResult<Response> {
    let me = device(signed.caller)?;
    let p = Params::parse(query.as_deref(), &["since", "limit", "covered_as_of"])?;
    p.limit()?;
    let covered_as_of = p.get("covered_as_of");
    if let Some(s) = covered_as_of {
        check_as_of(&state, "covered_as_of", s).await?;
    }
    page(&state, &me, PageScope::Log { covered_as_of }, &p, "pull").await
}

/// `GET /v1/sync/snapshots?since&as_of&limit`.
pub(crate) async fn snapshots(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    signed: Signed,
) -> ApiResult<Response> {
    let me = device(signed.caller)?;
    let p = Params::parse(query.as_deref(), &["since", "as_of", "limit"])?;
    p.limit()?;
    let as_of = p
        .get("as_of")
        .ok_or_else(|| bad_query("as_of is required (the head the device starts from)"))?;
    check_as_of(&state, "as_of", as_of).await?;
    page(&state, &me, PageScope::Snapshots { as_of }, &p, "snapshots").await
}

/// `GET /v1/sync/cases/{case}?since&limit&covered_as_of`; the case as 32 hex digits or a
/// hyphenated UUID.
pub(crate) async fn case_history(
    State(state): State<AppState>,
    Path(case): Path<String>,
    RawQuery(query): RawQuery,
    signed: Signed,
) -> ApiResult<Response> {
    let me = device(signed.caller)?;
    let bad_case = || {
        ApiError::bad_request(
            "bad_case",
            "the case id must be 32 hex digits or a hyphenated UUID",
        )
    };
    if case.len() != 32 && case.len() != 36 {
        return Err(bad_case());
    }
    let case = Uuid::try_parse(&case).map_err(|_| bad_case())?;
    let p = Params::parse(query.as_deref(), &["since", "limit", "covered_as_of"])?;
    let scope = match p.get("covered_as_of") {
        Some(s) => {
            check_as_of(&state, "covered_as_of", s).await?;
            PageScope::CaseFrom {
                case: *case.as_bytes(),
                covered_as_of: s,
            }
        }
        None => PageScope::Case(*case.as_bytes()),
    };
    page(&state, &me, scope, &p, "case").await
}

/// `GET /v1/sync/mine?as_of=S`: the requesting user's own cases (see `MyCases`).
pub(crate) async fn mine(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    signed: Signed,
) -> ApiResult<Json<MyCases>> {
    let me = device(signed.caller)?;
    let p = Params::parse(query.as_deref(), &["as_of"])?;
    let as_of = p
        .get("as_of")
        .ok_or_else(|| bad_query("as_of is required (the head the device starts from)"))?;
    check_as_of(&state, "as_of", as_of).await?;
    let cases = state
        .storage()
        .cases_of_user(me.user.id, &me.user.team, as_of)
        .await?;
    Ok(Json(MyCases {
        cases: cases
            .iter()
            .map(|c| Uuid::from_bytes(*c).simple().to_string())
            .collect(),
    }))
}

/// `GET /v1/sync/head`.
pub(crate) async fn head(State(state): State<AppState>, signed: Signed) -> ApiResult<Json<Head>> {
    device(signed.caller)?;
    Ok(Json(Head {
        head: state.storage().head().await?,
    }))
}

/// `POST /v1/teams/{team}/kem`: an active device of the team publishes TeamKEM[team, epoch].
pub(crate) async fn publish_team_kem(
    State(state): State<AppState>,
    Path(team): Path<String>,
    signed: Signed,
) -> ApiResult<(StatusCode, Json<TeamKem>)> {
    let kem: TeamKem = parse_json(&signed.body)?;
    let me = device(signed.caller)?;
    if kem.team != team {
        return Err(ApiError::bad_request(
            "bad_team",
            "the body's team is not the team in the path",
        ));
    }
    if me.user.team != team {
        return Err(ApiError::forbidden(
            "only a device of the team publishes its KEM key",
        ));
    }
    if kem.device != me.id {
        return Err(ApiError::bad_request(
            "bad_kem",
            "device must be the publishing device (the one signing the request)",
        ));
    }
    KemPublic::from_bytes(&kem.kem_pub)
        .map_err(|e| ApiError::bad_request("bad_key", format!("kem_pub: {e}")))?;
    let t = state
        .storage()
        .team(&team)
        .await?
        .ok_or_else(|| ApiError::internal(&format!("team {team} of a device")))?;
    let current = t.current_epoch.unwrap_or(0);
    if kem.epoch == 0 || kem.epoch > current {
        return Err(ApiError::bad_request(
            "bad_epoch",
            format!("epoch must be one of the team's key epochs, 1 to {current}"),
        ));
    }
    let public = SigPublic::from_bytes(&me.sig_pub)
        .map_err(|e| ApiError::internal(&format!("stored device key: {e}")))?;
    verify_sig(&public, &kem.signed_message(), &kem.sig, "team KEM key")?;
    match state.storage().put_team_kem(&kem, now_ms()).await? {
        KemOutcome::Stored => {
            tracing::info!(team = %team, epoch = kem.epoch, device = %me.id, "team KEM key published");
            Ok((StatusCode::CREATED, Json(kem)))
        }
        KemOutcome::Same => Ok((StatusCode::OK, Json(kem))),
        KemOutcome::Different(kept) => Err(ApiError::conflict(
            "kem_exists",
            format!(
                "another KEM key is already published for team {team} epoch {} (by device {})",
                kept.epoch, kept.device
            ),
        )),
    }
}

/// `GET /v1/teams/{team}/kem`: the latest published key and its publisher's certificate.
pub(crate) async fn team_kem(
    State(state): State<AppState>,
    Path(team): Path<String>,
    signed: Signed,
) -> ApiResult<Json<TeamKemAnswer>> {
    device(signed.caller)?;
    if !valid_team_id(&team) {
        return Err(ApiError::bad_request(
            "bad_team",
            "team id: 1-64 lower-case ASCII letters, digits and '-'",
        ));
    }
    let storage = state.storage();
    if storage.team(&team).await?.is_none() {
        return Err(ApiError::not_found("no such team"));
    }
    let kem = storage
        .team_kem(&team)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("team {team} has no published KEM key yet")))?;
    let publisher = storage.device(kem.device).await?.ok_or_else(|| {
        ApiError::internal(&format!("publisher {} of a team KEM key", kem.device))
    })?;
    let cert = stored_cert(&publisher)?.ok_or_else(|| {
        ApiError::internal(&format!("publisher {} has no certificate", kem.device))
    })?;
    Ok(Json(TeamKemAnswer { kem, cert }))
}

/// `GET /v1/devices/{id}/cert`: the certificate of any device that was approved (revoked ones
/// too: their envelopes stay in the log and are verified with it).
pub(crate) async fn device_cert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _signed: Signed,
) -> ApiResult<Json<DeviceCert>> {
    let id = parse_device_id(&id)?;
    let d = state
        .storage()
        .device(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such device"))?;
    let cert =
        stored_cert(&d)?.ok_or_else(|| ApiError::not_found("this device has not been approved"))?;
    Ok(Json(cert))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_checked() {
        let allowed = ["since", "limit"];
        let p = Params::parse(Some("since=5&limit=10"), &allowed).unwrap();
        assert_eq!((p.get("since"), p.limit().unwrap()), (Some(5), 10));
        assert_eq!(
            Params::parse(None, &allowed).unwrap().limit().unwrap(),
            1000
        );
        for bad in [
            "since",
            "since=",
            "since=-1",
            "since=1e3",
            "since=+1",
            "since=9223372036854775808",
            "since=1&since=2",
            "until=3",
        ] {
            let e = Params::parse(Some(bad), &allowed).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (400, "bad_query"), "{bad}");
        }
        for bad in ["limit=0", "limit=5001"] {
            let p = Params::parse(Some(bad), &allowed).unwrap();
            assert_eq!(p.limit().unwrap_err().code, "bad_query");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any query string is parameters or a 400 `bad_query`, never a panic; what parses
        /// is whole numbers within i64.
        #[test]
        fn query_strings_never_panic(raw in "[a-z_=&0-9+\\-.%\\PC]{0,60}") {
            match Params::parse(Some(&raw), &["since", "limit", "as_of"]) {
                Ok(p) => {
                    for name in ["since", "limit", "as_of"] {
                        proptest::prop_assert!(p.get(name).is_none_or(|n| i64::try_from(n).is_ok()));
                    }
                    let _ = p.limit();
                }
                Err(e) => proptest::prop_assert_eq!((e.status.as_u16(), e.code), (400, "bad_query")),
            }
        }

        /// Any push body is one result per envelope or a 400 `malformed`, never a panic; an
        /// envelope nobody signed is never verified.
        #[test]
        fn push_bodies_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            let key = tsunagi_crypto::identity::SigKey::from_seed(&[3; 32]).unwrap().public();
            let mut framed = vec![1u8];
            framed.extend_from_slice(&bytes);
            for body in [&bytes[..], &framed[..]] {
                match verify_batch(body, &[5; 16], &key) {
                    Ok(items) => {
                        let n = wire::decode_batch(body, MAX_BATCH).unwrap().len();
                        proptest::prop_assert_eq!(items.len(), n);
                        let all_refused =
                            items.iter().all(|i| matches!(i, PushItem::Refused { .. }));
                        proptest::prop_assert!(all_refused, "a push from another device is refused whole");
                    }
                    Err(e) => proptest::prop_assert_eq!((e.status.as_u16(), e.code), (400, "malformed")),
                }
            }
        }
    }
}
