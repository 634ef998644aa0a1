//! The UI's TypeScript declarations of the front door's interface (`ui/src/lib/api/
//! generated.ts`) are generated from `tsunagi_device::api`; this test fails when they are not
//! what the Rust types say. `TSUNAGI_BLESS=1 cargo test -p tsunagi-device --test bindings`
//! writes them anew.

use ts_rs::{Config, TS};
use tsunagi_device::api::*;

macro_rules! declarations {
    ($cfg:expr; $($t:ty),+ $(,)?) => {{
        let mut out = String::new();
        $(
            out.push_str("export ");
            out.push_str(&<$t as TS>::decl($cfg));
            out.push_str("\n\n");
        )+
        out
    }};
}

fn generated() -> String {
    let cfg = Config::new().with_large_int("number");
    let body = declarations!(&cfg;
        ApiError,
        // session
        Phase, AppStatus, BundleText, BundleInfo, EnrollRequest, EnrollResult, UnlockRequest,
        ChangePinRequest, ApprovalStatus, DeviceStatus,
        // reference
        Choice, DistrictChoice, StageChoice, ProgramChoice, InstrumentChoice, Reference,
        FormChoice, FormItem, FormCutoff, InstrumentForm, ScoreRequest, AlertView, BandView,
        SubscaleView, ScoreView,
        // cases
        CaseloadRequest, PersonRow, SearchRequest, ContactHitView, SearchView, PersonView,
        HouseholdMemberView, HouseholdView, ConflictView, ConflictVersion, ContactView,
        StagePoint, AssessmentView, PlanEventView, RoleView, PlanStep, PlanView, MeetingView,
        ConsentView, DisclosureView, AccessView, PersonPageView, PageRef, ById,
        AccessLogRequest,
        // records
        Created, PersonForm, PersonEditForm, ContactForm, ContactEditForm, AssessmentForm,
        AssessmentSaved, PlanForm, PlanEditForm, PlanTransitionForm, PlanMeetingForm,
        HouseholdMemberForm, HouseholdForm, MeetingForm, ConsentForm, WithdrawForm,
        WithdrawResult, ShareForm, ShareResult, ResolveConflictForm,
        // today, drafts, sync
        TodayRequest, AgendaKind, AgendaItem, TodayView, DraftSave, DraftKey, Draft,
        SyncState, SyncPhase, SyncProgress, MissingChanges, IntegrityWarning, SyncView,
    );
    format!(
        "// Generated from crates/device/src/api by crates/device/tests/bindings.rs: do not edit.\n\
         // TSUNAGI_BLESS=1 cargo test -p tsunagi-device --test bindings writes it anew.\n\n\
         /* eslint-disable */\n\n\
         /** Any JSON value (a conflicting field's value, as stored). */\n\
         export type JsonValue = number | string | boolean | Array<JsonValue> | {{ [key in string]?: JsonValue }} | null;\n\n{}",
        body.trim_end()
    ) + "\n"
}

#[test]
fn the_ui_declarations_match_the_rust_interface() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/api/generated.ts");
    let want = generated();
    if std::env::var_os("TSUNAGI_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not what crates/device/src/api says: run \
         TSUNAGI_BLESS=1 cargo test -p tsunagi-device --test bindings and commit it",
        path.display()
    );
}
