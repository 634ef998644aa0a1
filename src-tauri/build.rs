//! Build script of the shell: Tauri's context, and the permissions of the app's own commands
//! (each command gets an `allow-…` permission; capabilities/default.json grants the ones the
//! UI uses, and nothing else).

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(tsunagi_commands())),
    )
    .expect("tauri build");
}

/// Every command the shell defines (src/lib.rs), in one list for the permissions.
fn tsunagi_commands() -> &'static [&'static str] {
    &[
        "status",
        "inspect_bundle",
        "enroll",
        "check_approval",
        "unlock",
        "lock",
        "change_pin",
        "reference",
        "instrument_form",
        "score",
        "caseload",
        "search",
        "open_person",
        "refresh_person",
        "close_person",
        "access_log",
        "conflicts",
        "today",
        "add_person",
        "edit_person",
        "add_contact",
        "edit_contact",
        "add_assessment",
        "add_plan",
        "edit_plan",
        "move_plan",
        "plan_meeting",
        "save_household",
        "add_meeting",
        "add_consent",
        "withdraw_consent",
        "share_case",
        "resolve_conflict",
        "save_draft",
        "draft",
        "drafts",
        "discard_draft",
        "sync_status",
        "sync_now",
        "cancel_sync",
    ]
}
