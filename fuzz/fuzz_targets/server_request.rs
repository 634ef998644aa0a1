//! Fuzz target: the JSON bodies of the server's handlers as they read them
//! (`tsunagi_server::fuzzing::json_body`: bootstrap, enroll, approve, teams, users,
//! enrollments, slots, team KEM), the team-id rule, and the sync endpoints' query strings
//! (`tsunagi_server::fuzzing::query`). Answers 400 or a value, never panics; a parsed body
//! round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tsunagi_protocol::api::{
    ApproveRequest, BootstrapRequest, CreateEnrollment, CreateTeam, CreateUser, EnrollRequest,
    SlotsUpload, TeamKem,
};
use tsunagi_server::fuzzing::{json_body, query, valid_team_id};

fn body<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<T> {
    match json_body::<T>(bytes) {
        Ok(v) => {
            assert_eq!(tsunagi_fuzz::json_round_trip::<T>(bytes).as_ref(), Some(&v));
            Some(v)
        }
        Err(e) => {
            assert_eq!((e.status.as_u16(), e.code), (400, "malformed"));
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = tsunagi_fuzz::pick(data) else {
        return;
    };
    match which % 10 {
        0 => drop(body::<BootstrapRequest>(rest)),
        1 => drop(body::<EnrollRequest>(rest)),
        2 => drop(body::<ApproveRequest>(rest)),
        3 => {
            if let Some(t) = body::<CreateTeam>(rest) {
                let _ = valid_team_id(&t.id);
            }
        }
        4 => drop(body::<CreateUser>(rest)),
        5 => drop(body::<CreateEnrollment>(rest)),
        6 => drop(body::<SlotsUpload>(rest)),
        7 => drop(body::<TeamKem>(rest)),
        8 => {
            if let Ok(s) = std::str::from_utf8(rest)
                && valid_team_id(s)
            {
                assert!(!s.is_empty() && s.len() <= 64 && !s.starts_with('-'));
            }
        }
        _ => {
            if let Ok(s) = std::str::from_utf8(rest)
                && let Ok(values) = query(s, &["since", "limit", "as_of"])
            {
                assert!(values.iter().flatten().all(|v| i64::try_from(*v).is_ok()));
            }
        }
    }
});
