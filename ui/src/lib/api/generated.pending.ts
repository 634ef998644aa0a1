// Stand-in for generated.ts until it lands on main: hand-mirrored from crates/device/src/api/*.rs. Delete when generated.ts arrives.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type ApiError = { code: string, message: string, message_ja: string, field: string | null, bad_input: boolean, };

export type Phase = "setup" | "locked" | "disabled" | "unlocked";

export type AppStatus = { phase: Phase, device_id: string | null, user_name: string | null, team: string | null, role: string | null, has_pin: boolean, failures: number, attempts_left: number, approved: boolean, idle_lock_minutes: number, };

export type BundleText = { bundle: string, };

export type BundleInfo = { server_url: string, user_name: string, team: string, role: string, expires_at: string, server_fingerprint: string, admin_fingerprint: string, };

export type EnrollRequest = { bundle: string, pin: string, pin_repeat: string, };

export type EnrollResult = { device_id: string, user_name: string, team: string, sig_fingerprint: string, kem_fingerprint: string, server_fingerprint: string, admin_fingerprint: string, recovery_code: string, approved: boolean, };

export type UnlockRequest = { pin: string, };

export type ChangePinRequest = { current: string, new_pin: string, new_pin_repeat: string, };

export type ApprovalStatus = { approved: boolean, state: string, };

export type Choice = { key: string, label_ja: string, label_en: string, };

export type DistrictChoice = { code: string, name: string, kana: string, };

export type StageChoice = { level: number, label_ja: string, label_en: string, };

export type ProgramChoice = { key: string, label_ja: string, label_en: string, follow_up_days: number | null, };

export type InstrumentChoice = { key: string, name_ja: string, name_en: string, programs: Array<string>, };

export type Reference = { municipality: string, districts: Array<DistrictChoice>, programs: Array<ProgramChoice>, stages: Array<StageChoice>, statuses: Array<Choice>, sexes: Array<Choice>, channels: Array<Choice>, outcomes: Array<Choice>, relations: Array<Choice>, meeting_kinds: Array<Choice>, consent_methods: Array<Choice>, plan_states: Array<Choice>, instruments: Array<InstrumentChoice>, };

export type FormChoice = { key: string, label_ja: string, points: number, flag: boolean, };

export type FormItem = { number: number, text_ja: string | null, choices: Array<FormChoice>, };

export type FormCutoff = { key: string, min: number, label_ja: string, };

export type InstrumentForm = { key: string, name_ja: string, name_en: string, version: string, kind: string, period_ja: string | null, items: Array<FormItem>, range_min: number | null, range_max: number | null, cutoffs: Array<FormCutoff>, notes: Array<string>, licence: string, texts_available: boolean, };

export type ScoreRequest = { instrument: string, answers: Array<string | null>, };

export type AlertView = { key: string, item: number, label_ja: string, label_en: string, };

export type BandView = { key: string, label_ja: string, label_en: string, };

export type SubscaleView = { key: string, name_ja: string, total: number | null, };

export type ScoreView = { instrument: string, version: string, complete: boolean, total: number | null, partial_total: number, max: number | null, missing_items: Array<number>, bands: Array<BandView>, alerts: Array<AlertView>, subscales: Array<SubscaleView>, flagged_items: Array<number>, };

export type CaseloadRequest = { program: string | null, district: string | null, status: string | null, stage: number | null, };

export type PersonRow = { id: string, name: string, kana: string, district: string, district_name: string, programs: Array<string>, program_labels: Array<string>, status: string, status_label: string, stage: number | null, stage_label: string | null, last_contact_at: string | null, next_due: string | null, overdue: boolean, };

export type SearchRequest = { text: string, limit: number | null, };

export type ContactHitView = { id: string, person: string, person_name: string, at: string, excerpt: string, };

export type SearchView = { persons: Array<PersonRow>, contacts: Array<ContactHitView>, contact_total: number, contact_total_capped: boolean, };

export type PersonView = { id: string, name: string, kana: string | null, birth_date: string | null, age_band: string | null, age: number | null, age_months: number | null, sex: string | null, sex_label: string | null, address: string | null, phone: string | null, district: string, district_name: string, programs: Array<string>, program_labels: Array<string>, status: string, status_label: string, referred_on: string | null, risk_flags: Array<string>, memo: string, };

export type HouseholdMemberView = { person: string, name: string | null, relation: string, relation_label: string, note: string | null, };

export type HouseholdView = { id: string, address: string | null, members: Array<HouseholdMemberView>, };

export type ConflictView = { entity: string, kind: string, person: string | null, person_name: string | null, field: string, field_label: string, versions: Array<ConflictVersion>, };

export type ConflictVersion = { value: JsonValue, display: string, device: string, at: string, };

export type ContactView = { id: string, at: string, staff: Array<string>, channel: string, channel_label: string, outcome: string, outcome_label: string, note: string, observations: string, stage: number | null, stage_label: string | null, letter_text: string | null, next_step: string | null, next_due: string | null, conflicts: Array<string>, };

export type StagePoint = { at: string, stage: number, };

export type AssessmentView = { id: string, at: string, instrument: string, instrument_name: string, version: string, complete: boolean, total: number | null, max: number | null, missing_items: Array<number>, bands: Array<BandView>, alerts: Array<AlertView>, flagged_items: Array<number>, answers: Array<string | null>, };

export type PlanEventView = { from: string, to: string, to_label: string, on: string, needs_meeting: string | null, meeting: string | null, };

export type RoleView = { agency: string, task: string, };

export type PlanView = { id: string, state: string, state_label: string, goals: Array<string>, roles: Array<RoleView>, review_on: string | null, history: Array<PlanEventView>, next_states: Array<string>, meeting_pending: boolean, };

export type MeetingView = { id: string, kind: string, kind_label: string, date: string, agencies: Array<string>, decisions: string, };

export type ConsentView = { id: string, scope: Array<string>, method: string, method_label: string, given_on: string, expires_on: string | null, withdrawn_on: string | null, active: boolean, };

export type DisclosureView = { id: string, to: string, what: string, at: string, basis: string, basis_id: string, };

export type AccessView = { actor: string, at: string, seconds: number | null, person: string, };

export type PersonPageView = { page: string, person: PersonView, summary: PersonRow, household: HouseholdView | null, consents: Array<ConsentView>, disclosures: Array<DisclosureView>, timeline: Array<ContactView>, contact_count: number, stages: Array<StagePoint>, assessments: Array<AssessmentView>, plans: Array<PlanView>, meetings: Array<MeetingView>, conflicts: Array<ConflictView>, access: Array<AccessView>, read_only: boolean, };

export type ClosePage = { page: string, };

export type ById = { id: string, };

export type AccessLogRequest = { person: string | null, limit: number | null, };

export type Created = { id: string, };

export type PersonForm = { name: string, kana: string | null, district: string, programs: Array<string>, birth: string | null, sex: string | null, address: string | null, phone: string | null, status: string | null, referred_on: string | null, memo: string | null, };

export type PersonEditForm = { id: string, name: string | null, kana: string | null, district: string | null, programs: Array<string> | null, birth: string | null, sex: string | null, address: string | null, phone: string | null, status: string | null, referred_on: string | null, memo: string | null, };

export type ContactForm = { person: string, at: string | null, channel: string, outcome: string, note: string, observations: string | null, stage: number | null, letter_text: string | null, next_step: string | null, next_due: string | null, staff: Array<string>, };

export type ContactEditForm = { id: string, outcome: string | null, note: string | null, observations: string | null, stage: number | null, next_step: string | null, next_due: string | null, };

export type AssessmentForm = { person: string, instrument: string, answers: Array<string | null>, at: string | null, };

export type AssessmentSaved = { id: string, score: ScoreView, };

export type PlanForm = { person: string, goals: Array<string>, roles: Array<RoleView>, review_on: string | null, };

export type PlanEditForm = { id: string, goals: Array<string> | null, roles: Array<RoleView> | null, review_on: string | null, };

export type PlanTransitionForm = { id: string, to: string, on: string | null, meeting: string | null, };

export type PlanMeetingForm = { id: string, meeting: string, };

export type HouseholdMemberForm = { person: string, relation: string, note: string | null, };

export type HouseholdForm = { id: string | null, address: string | null, members: Array<HouseholdMemberForm>, };

export type MeetingForm = { kind: string, date: string | null, agencies: Array<string>, persons: Array<string>, decisions: string, };

export type ConsentForm = { person: string, scope: Array<string>, method: string, given_on: string | null, expires_on: string | null, };

export type WithdrawForm = { id: string, on: string | null, };

export type WithdrawResult = { ended: Array<string>, kept: Array<string>, sent: boolean, };

export type ShareForm = { person: string, team: string, consent: string | null, meeting: string | null, };

export type ShareResult = { disclosure: string, team: string, sent: boolean, };

export type ResolveConflictForm = { entity: string, field: string, value: JsonValue, };

export type TodayRequest = { date: string | null, };

export type AgendaKind = "follow_up" | "cadence" | "deadline" | "plan_review";

export type AgendaItem = { person: string, person_name: string, district_name: string, kind: AgendaKind, label_ja: string, program: string | null, due: string, days_left: number, stage: number | null, };

export type TodayView = { date: string, overdue: Array<AgendaItem>, due_today: Array<AgendaItem>, upcoming: Array<AgendaItem>, };

export type DraftSave = { key: string, label: string, body: string, };

export type DraftKey = { key: string, };

export type Draft = { key: string, label: string, body: string, saved_at: string, };

export type SyncPhase = "keys" | "own_cases" | "pull" | "snapshots" | "push" | "compact";

export type SyncProgress = { phase: SyncPhase, done: number, total: number, eta_seconds: number | null, first_sync: boolean, own_cases_ready: boolean, };

export type SyncView = { enrolled: boolean, state: string, message_ja: string, pending: number, last_success: string | null, error_code: string | null, error_ja: string | null, refused: number, running: boolean, progress: SyncProgress | null, };
