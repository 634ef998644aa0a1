//! Integration tests of `tsunagi-server`: a real server on 127.0.0.1 port 0 and the real
//! client, a fresh database per test, every test against both backends (SQLite file and a
//! throwaway PostgreSQL cluster, see `tsunagi_server::pgtest`).

mod api;
mod harness;
mod public;
mod sync;

/// Runs each named `async fn(Kind)` of module `m` against SQLite and PostgreSQL.
macro_rules! both {
    ($m:ident: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$m::$name(super::harness::Kind::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$m::$name(super::harness::Kind::Postgres).await
                }
            }
        )*
    };
}

both!(
    api:
    health_and_metrics,
    bootstrap_once,
    enrollment_codes_expired_reused_forged,
    enroll_with_bad_proof,
    request_authentication_failures,
    admin_api_needs_admin,
    oversized_and_malformed_bodies_store_nothing,
    approve_by_admin_only,
    lead_of_other_team_is_refused,
    team_statements_are_signed_and_only_grow,
    revoked_device_is_refused_everywhere,
    rotation_after_revoke_excludes_revoked_device,
    concurrent_redeem_of_one_code,
    enroll_under_own_id,
);

both!(
    sync:
    sync_push_accepts_in_order_and_dedups,
    sync_push_refusals,
    sync_large_batch_answers_in_order,
    sync_malformed_and_oversized_batches,
    sync_readability_follows_grants,
    sync_snapshots_and_covered_pull,
    sync_revoked_and_pending_devices_are_refused,
    sync_team_kem_and_device_certs,
    sync_server_stores_no_plaintext,
    sync_concurrent_pushers_never_skip,
    sync_mine_lists_the_users_own_cases,
);

both!(
    public:
    slow_clients_are_cut_off,
    requests_beyond_the_cap_are_refused,
    secret_attempts_are_limited,
    metrics_need_the_token,
);
