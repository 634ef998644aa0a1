// The UI's one interface to the backend: one method per command of the device's front door.
import type {
  AccessLogRequest, AccessView, ApprovalStatus, AppStatus, AssessmentForm, AssessmentSaved,
  BundleInfo, BundleText, ById, CaseloadRequest, ChangePinRequest, ConflictView, PageRef,
  ConsentForm, ContactEditForm, ContactForm, Created, Draft, DraftKey, DraftSave, EnrollRequest,
  EnrollResult, HouseholdForm, InstrumentForm, MeetingForm, PersonEditForm, PersonForm,
  PersonPageView, PersonRow, PlanEditForm, PlanForm, PlanMeetingForm, PlanTransitionForm,
  Reference, ResolveConflictForm, ScoreRequest, ScoreView, SearchRequest, SearchView,
  ShareForm, ShareResult, SyncView, TodayRequest, TodayView, UnlockRequest, WithdrawForm,
  WithdrawResult,
} from './types';

/** Every command rejects with an `ApiError` (see errors.ts); the UI decides by its `code`. */
export interface Backend {
  status(): Promise<AppStatus>;
  inspect_bundle(req: BundleText): Promise<BundleInfo>;
  enroll(req: EnrollRequest): Promise<EnrollResult>;
  check_approval(): Promise<ApprovalStatus>;
  unlock(req: UnlockRequest): Promise<null>;
  check_in(): Promise<null>;
  lock(): Promise<null>;
  change_pin(req: ChangePinRequest): Promise<null>;
  reference(): Promise<Reference>;
  instrument_form(req: ById): Promise<InstrumentForm>;
  score(req: ScoreRequest): Promise<ScoreView>;
  caseload(req: CaseloadRequest): Promise<PersonRow[]>;
  search(req: SearchRequest): Promise<SearchView>;
  open_person(req: ById): Promise<PersonPageView>;
  refresh_person(req: PageRef): Promise<PersonPageView>;
  close_person(req: PageRef): Promise<null>;
  access_log(req: AccessLogRequest): Promise<AccessView[]>;
  conflicts(): Promise<ConflictView[]>;
  today(req: TodayRequest): Promise<TodayView>;
  add_person(req: PersonForm): Promise<Created>;
  edit_person(req: PersonEditForm): Promise<null>;
  add_contact(req: ContactForm): Promise<Created>;
  edit_contact(req: ContactEditForm): Promise<null>;
  add_assessment(req: AssessmentForm): Promise<AssessmentSaved>;
  add_plan(req: PlanForm): Promise<Created>;
  edit_plan(req: PlanEditForm): Promise<null>;
  move_plan(req: PlanTransitionForm): Promise<null>;
  plan_meeting(req: PlanMeetingForm): Promise<null>;
  save_household(req: HouseholdForm): Promise<Created>;
  add_meeting(req: MeetingForm): Promise<Created>;
  add_consent(req: ConsentForm): Promise<Created>;
  withdraw_consent(req: WithdrawForm): Promise<WithdrawResult>;
  share_case(req: ShareForm): Promise<ShareResult>;
  resolve_conflict(req: ResolveConflictForm): Promise<null>;
  save_draft(req: DraftSave): Promise<null>;
  draft(req: DraftKey): Promise<Draft | null>;
  drafts(): Promise<Draft[]>;
  discard_draft(req: DraftKey): Promise<null>;
  sync_status(): Promise<SyncView>;
  sync_now(): Promise<null>;
  cancel_sync(): Promise<null>;
}

/** The names of the commands, for implementations that dispatch by name. */
export type Command = keyof Backend;

let current: Backend | null = null;

/** Installs the backend the screens use (the Tauri one in the app, a fake in unit tests). */
export function setBackend(b: Backend): void {
  current = b;
}

/** The backend the screens use. */
export function backend(): Backend {
  if (!current) throw new Error('no backend installed: call setBackend() first');
  return current;
}
