//! Integration tests of `tsunagi-server`: a real server on 127.0.0.1 port 0 and the real
//! client, a fresh database per test, every test against both backends (SQLite file and a
//! throwaway PostgreSQL cluster, see `tsunagi_server::pgtest`).

mod api;
mod harness;

/// Runs each named `async fn(Kind)` against SQLite and PostgreSQL.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::api::$name(super::harness::Kind::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::api::$name(super::harness::Kind::Postgres).await
                }
            }
        )*
    };
}

both!(
    health_and_metrics,
    bootstrap_once,
    enrollment_codes_expired_reused_forged,
    enroll_with_bad_proof,
    request_authentication_failures,
    admin_api_needs_admin,
    oversized_and_malformed_bodies_store_nothing,
    approve_with_admin_and_lead,
    lead_of_other_team_is_refused,
    revoked_device_is_refused_everywhere,
    rotation_after_revoke_excludes_revoked_device,
    concurrent_redeem_of_one_code,
    enroll_under_own_id,
);
