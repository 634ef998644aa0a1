//! The Tauri shell: one `#[tauri::command]` per use case of `tsunagi_device::App`, each only
//! moving the request to a blocking thread and the answer (or the `ApiError`) back. No rule,
//! check or record lives here.
//!
//! The device directory is `TSUNAGI_DATA` when set (the demo, the end-to-end tests), otherwise
//! the platform's app-data folder.

use std::sync::Arc;
use tauri::{Manager, State};
use tsunagi_device::api::*;

#[cfg(mobile)]
compile_error!(
    "the tablet build needs a keystore for its platform (Android Keystore, iOS Keychain): see docs/mobile.md"
);

/// The front door over the desktop's keystore.
type App = tsunagi_device::App<tsunagi_device::OsKeystore>;

/// The front door, shared by the commands.
struct Door(Arc<App>);

impl Door {
    /// Runs a use case off the async runtime's workers (SQLite and crypto block).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let app = Arc::clone(&self.0);
        tauri::async_runtime::spawn_blocking(move || f(&app))
            .await
            .unwrap_or_else(|e| {
                Err(ApiError {
                    code: "internal".into(),
                    message: format!("the request stopped: {e}"),
                    message_ja: "処理が途中で止まりました。もう一度お試しください（記録は失われていません）。"
                        .into(),
                    field: None,
                    bad_input: false,
                })
            })
    }
}

/// Defines one command per use case: `name(req: Request) -> Response` or `name() -> Response`.
macro_rules! commands {
    ($( $name:ident ( $($req:ty)? ) -> $out:ty ; )+) => {
        $( commands!(@one $name ( $($req)? ) -> $out); )+
    };
    (@one $name:ident ( $req:ty ) -> $out:ty) => {
        #[tauri::command]
        async fn $name(door: State<'_, Door>, req: $req) -> Result<$out, ApiError> {
            door.run(move |app| app.$name(&req)).await
        }
    };
    (@one $name:ident ( ) -> $out:ty) => {
        #[tauri::command]
        async fn $name(door: State<'_, Door>) -> Result<$out, ApiError> {
            door.run(move |app| app.$name()).await
        }
    };
}

commands! {
    status() -> AppStatus;
    inspect_bundle(BundleText) -> BundleInfo;
    enroll(EnrollRequest) -> EnrollResult;
    check_approval() -> ApprovalStatus;
    unlock(UnlockRequest) -> ();
    check_in() -> ();
    lock() -> ();
    change_pin(ChangePinRequest) -> ();
    reference() -> Reference;
    instrument_form(ById) -> InstrumentForm;
    score(ScoreRequest) -> ScoreView;
    caseload(CaseloadRequest) -> Vec<PersonRow>;
    search(SearchRequest) -> SearchView;
    open_person(ById) -> PersonPageView;
    refresh_person(PageRef) -> PersonPageView;
    close_person(PageRef) -> ();
    access_log(AccessLogRequest) -> Vec<AccessView>;
    conflicts() -> Vec<ConflictView>;
    today(TodayRequest) -> TodayView;
    add_person(PersonForm) -> Created;
    edit_person(PersonEditForm) -> ();
    add_contact(ContactForm) -> Created;
    edit_contact(ContactEditForm) -> ();
    add_assessment(AssessmentForm) -> AssessmentSaved;
    add_plan(PlanForm) -> Created;
    edit_plan(PlanEditForm) -> ();
    move_plan(PlanTransitionForm) -> ();
    plan_meeting(PlanMeetingForm) -> ();
    save_household(HouseholdForm) -> Created;
    add_meeting(MeetingForm) -> Created;
    add_consent(ConsentForm) -> Created;
    withdraw_consent(WithdrawForm) -> WithdrawResult;
    share_case(ShareForm) -> ShareResult;
    resolve_conflict(ResolveConflictForm) -> ();
    save_draft(DraftSave) -> ();
    draft(DraftKey) -> Option<Draft>;
    drafts() -> Vec<Draft>;
    discard_draft(DraftKey) -> ();
    sync_status() -> SyncView;
    sync_now() -> ();
    cancel_sync() -> ();
}

/// Starts the app: opens the front door over the device directory and serves the UI.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let result = tauri::Builder::default()
        .setup(|app| {
            let dir = match std::env::var_os("TSUNAGI_DATA") {
                Some(d) => std::path::PathBuf::from(d),
                None => app.path().app_data_dir()?.join("device"),
            };
            let door = App::new(&dir).map_err(|e| e.message)?;
            app.manage(Door(Arc::new(door)));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            status,
            inspect_bundle,
            enroll,
            check_approval,
            unlock,
            check_in,
            lock,
            change_pin,
            reference,
            instrument_form,
            score,
            caseload,
            search,
            open_person,
            refresh_person,
            close_person,
            access_log,
            conflicts,
            today,
            add_person,
            edit_person,
            add_contact,
            edit_contact,
            add_assessment,
            add_plan,
            edit_plan,
            move_plan,
            plan_meeting,
            save_household,
            add_meeting,
            add_consent,
            withdraw_consent,
            share_case,
            resolve_conflict,
            save_draft,
            draft,
            drafts,
            discard_draft,
            sync_status,
            sync_now,
            cancel_sync,
        ])
        .build(tauri::generate_context!());
    match result {
        Ok(app) => app.run(|handle, event| {
            // Closing the window locks the app first: open pages are closed in the access log
            // and the sync stops with its work committed.
            if let tauri::RunEvent::Exit = event
                && let Some(door) = handle.try_state::<Door>()
            {
                let _ = door.0.lock();
            }
        }),
        Err(e) => {
            eprintln!("tsunagi: the app could not start: {e}");
            std::process::exit(1);
        }
    }
}
