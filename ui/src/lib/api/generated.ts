// Generated from crates/device/src/api by crates/device/tests/bindings.rs: do not edit.
// TSUNAGI_BLESS=1 cargo test -p tsunagi-device --test bindings writes it anew.

/* eslint-disable */

/** Any JSON value (a conflicting field's value, as stored). */
export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type ApiError = { 
/**
 * Stable machine code (`wrong_pin`, `date_no_such_day`, `unreachable`, ...).
 */
code: string, 
/**
 * English, for logs and IT.
 */
message: string, 
/**
 * Japanese, whole, for the screen.
 */
message_ja: string, 
/**
 * The input field it concerns (`name`, `next_due`, ...), for marking it in a form.
 */
field: string | null, 
/**
 * Whether the user's input is the cause (as opposed to the device, network or server).
 */
bad_input: boolean, };

export type Phase = "setup" | "locked" | "disabled" | "lease_expired" | "unlocked";

export type AppStatus = { 
/**
 * Setup, locked, disabled or unlocked.
 */
phase: Phase, 
/**
 * The device's id, once set up.
 */
device_id: string | null, 
/**
 * Who uses this device (from the enrollment).
 */
user_name: string | null, 
/**
 * Their team.
 */
team: string | null, 
/**
 * `worker` or `lead`.
 */
role: string | null, 
/**
 * Whether a PIN protects the store.
 */
has_pin: boolean, 
/**
 * Wrong PINs since the last right one.
 */
failures: number, 
/**
 * Wrong PINs left before the device locks for good (IT re-enables it).
 */
attempts_left: number, 
/**
 * Whether the team key has arrived (IT or a lead approved this device).
 */
approved: boolean, 
/**
 * Minutes of inactivity after which the app locks itself.
 */
idle_lock_minutes: number, 
/**
 * The shortest PIN this device accepts (IT's setting from the enrollment; 6 before).
 */
pin_min_digits: number, 
/**
 * The offline key lease in days, once enrolled.
 */
lease_days: number | null, 
/**
 * The last successful exchange with the server (RFC 3339), once enrolled.
 */
last_check_in: string | null, 
/**
 * When the lease runs out without a new exchange (RFC 3339), once enrolled.
 */
lease_until: string | null, };

export type BundleText = { 
/**
 * The bundle (JSON text).
 */
bundle: string, };

export type BundleInfo = { 
/**
 * The server it enrolls with.
 */
server_url: string, 
/**
 * The user it is for.
 */
user_name: string, 
/**
 * Their team.
 */
team: string, 
/**
 * `worker` or `lead`.
 */
role: string, 
/**
 * When the one-time code expires (RFC 3339).
 */
expires_at: string, 
/**
 * Fingerprint of the server key the bundle pins.
 */
server_fingerprint: string, 
/**
 * Fingerprint of IT's admin key the bundle pins.
 */
admin_fingerprint: string, 
/**
 * The shortest PIN IT allows on this device.
 */
pin_min_digits: number, 
/**
 * Days the device may stay offline before its records lock until it checks in.
 */
lease_days: number, };

export type EnrollRequest = { 
/**
 * The enrollment bundle (JSON text, as in the file or the QR code).
 */
bundle: string, 
/**
 * The PIN to set: at least 6 digits, or the bundle's `pin_min_digits`.
 */
pin: string, 
/**
 * The PIN typed again.
 */
pin_repeat: string, };

export type EnrollResult = { 
/**
 * This device's id.
 */
device_id: string, 
/**
 * The user.
 */
user_name: string, 
/**
 * The team.
 */
team: string, 
/**
 * The device code (both of its keys): IT types it, read off this screen, to approve.
 */
device_code: string, 
/**
 * This device's signing key fingerprint.
 */
sig_fingerprint: string, 
/**
 * This device's key-exchange key fingerprint.
 */
kem_fingerprint: string, 
/**
 * The pinned server key's fingerprint.
 */
server_fingerprint: string, 
/**
 * The pinned admin key's fingerprint.
 */
admin_fingerprint: string, 
/**
 * The one-time code that re-enables a locked device (for IT; not stored anywhere).
 */
recovery_code: string, 
/**
 * Whether the team key already arrived (IT approved before the first check).
 */
approved: boolean, };

export type UnlockRequest = { 
/**
 * The PIN.
 */
pin: string, };

export type ChangePinRequest = { 
/**
 * The PIN now.
 */
current: string, 
/**
 * The new PIN: at least 6 digits.
 */
new_pin: string, 
/**
 * The new PIN typed again.
 */
new_pin_repeat: string, };

export type ApprovalStatus = { 
/**
 * The team key arrived: the device can sync.
 */
approved: boolean, 
/**
 * The device's state on the server (`pending`, `active`, `revoked`).
 */
state: string, };

export type DeviceStatus = { 
/**
 * The app's status (phase, PIN, wrong attempts).
 */
device: AppStatus, 
/**
 * The sync indicator.
 */
sync: SyncView | null, };

export type Choice = { 
/**
 * Stable key (stored, sent back in requests).
 */
key: string, 
/**
 * Japanese label.
 */
label_ja: string, 
/**
 * English label.
 */
label_en: string, };

export type DistrictChoice = { 
/**
 * Stable code.
 */
code: string, 
/**
 * Name (辻堂).
 */
name: string, 
/**
 * Reading, for ordering.
 */
kana: string, };

export type StageChoice = { 
/**
 * 0, 1, 2, ...
 */
level: number, 
/**
 * Japanese label.
 */
label_ja: string, 
/**
 * English label.
 */
label_en: string, };

export type ProgramChoice = { 
/**
 * `csw`, `dementia`, `infant`.
 */
key: string, 
/**
 * Japanese label.
 */
label_ja: string, 
/**
 * English label.
 */
label_en: string, 
/**
 * Days after a contact when the next one is due if none was planned.
 */
follow_up_days: number | null, };

export type InstrumentChoice = { 
/**
 * `epds`, `dasc21`, ...
 */
key: string, 
/**
 * Japanese name.
 */
name_ja: string, 
/**
 * English name.
 */
name_en: string, 
/**
 * Programs it belongs to (offered first on their persons' pages).
 */
programs: Array<string>, };

export type Reference = { 
/**
 * The municipality (藤沢市).
 */
municipality: string, 
/**
 * Its districts.
 */
districts: Array<DistrictChoice>, 
/**
 * Programs.
 */
programs: Array<ProgramChoice>, 
/**
 * The trust-stage scale.
 */
stages: Array<StageChoice>, 
/**
 * Person statuses (受付, 支援中, ...).
 */
statuses: Array<Choice>, 
/**
 * Sexes.
 */
sexes: Array<Choice>, 
/**
 * Contact channels.
 */
channels: Array<Choice>, 
/**
 * Contact outcomes.
 */
outcomes: Array<Choice>, 
/**
 * Household relations.
 */
relations: Array<Choice>, 
/**
 * Meeting kinds.
 */
meeting_kinds: Array<Choice>, 
/**
 * Consent methods.
 */
consent_methods: Array<Choice>, 
/**
 * Plan states.
 */
plan_states: Array<Choice>, 
/**
 * Instruments.
 */
instruments: Array<InstrumentChoice>, };

export type FormChoice = { 
/**
 * The answer key.
 */
key: string, 
/**
 * Its label.
 */
label_ja: string, 
/**
 * Points it gives on this item.
 */
points: number, 
/**
 * For checklists: it flags the item.
 */
flag: boolean, };

export type FormItem = { 
/**
 * Number as printed on the form.
 */
number: number, 
/**
 * The item's text, when it may be shipped or was imported; otherwise the form shows the
 * number and the worker reads the printed form.
 */
text_ja: string | null, 
/**
 * Options, top to bottom.
 */
choices: Array<FormChoice>, };

export type FormCutoff = { 
/**
 * Key.
 */
key: string, 
/**
 * Lowest total in the band.
 */
min: number, 
/**
 * Japanese label.
 */
label_ja: string, };

export type InstrumentForm = { 
/**
 * Key.
 */
key: string, 
/**
 * Japanese name.
 */
name_ja: string, 
/**
 * English name.
 */
name_en: string, 
/**
 * Definition version recorded with each assessment.
 */
version: string, 
/**
 * `score` or `checklist`.
 */
kind: string, 
/**
 * The period asked about (過去7日間).
 */
period_ja: string | null, 
/**
 * Items in order.
 */
items: Array<FormItem>, 
/**
 * Lowest and highest possible totals.
 */
range_min: number | null, 
/**
 * Highest possible total.
 */
range_max: number | null, 
/**
 * Cut-off bands.
 */
cutoffs: Array<FormCutoff>, 
/**
 * Guidance notes.
 */
notes: Array<string>, 
/**
 * Licence and source.
 */
licence: string, 
/**
 * Whether item texts are available (shipped or imported).
 */
texts_available: boolean, };

export type ScoreRequest = { 
/**
 * Instrument key.
 */
instrument: string, 
/**
 * One entry per item: the chosen key, or null while unanswered.
 */
answers: Array<string | null>, };

export type AlertView = { 
/**
 * Key (`self_harm`).
 */
key: string, 
/**
 * The item.
 */
item: number, 
/**
 * Japanese label.
 */
label_ja: string, 
/**
 * English label.
 */
label_en: string, };

export type BandView = { 
/**
 * Key (`possible_depression`).
 */
key: string, 
/**
 * Japanese label.
 */
label_ja: string, 
/**
 * English label.
 */
label_en: string, };

export type SubscaleView = { 
/**
 * Key.
 */
key: string, 
/**
 * Japanese name.
 */
name_ja: string, 
/**
 * Total, or null while any of its items is unanswered.
 */
total: number | null, };

export type ScoreView = { 
/**
 * Instrument key.
 */
instrument: string, 
/**
 * Definition version.
 */
version: string, 
/**
 * Every item answered.
 */
complete: boolean, 
/**
 * The total (null while incomplete, and for checklists).
 */
total: number | null, 
/**
 * Sum of the answered items so far (shown as "so far", never as the total).
 */
partial_total: number, 
/**
 * Highest possible total.
 */
max: number | null, 
/**
 * Items still unanswered.
 */
missing_items: Array<number>, 
/**
 * Bands the complete total falls in.
 */
bands: Array<BandView>, 
/**
 * Alerts, also while incomplete.
 */
alerts: Array<AlertView>, 
/**
 * Subscale totals.
 */
subscales: Array<SubscaleView>, 
/**
 * Checklist items flagged.
 */
flagged_items: Array<number>, };

export type CaseloadRequest = { 
/**
 * Program key.
 */
program: string | null, 
/**
 * District code or name.
 */
district: string | null, 
/**
 * Status key.
 */
status: string | null, 
/**
 * Current trust stage.
 */
stage: number | null, };

export type PersonRow = { 
/**
 * The person's id.
 */
id: string, 
/**
 * 氏名.
 */
name: string, 
/**
 * ふりがな.
 */
kana: string, 
/**
 * District code.
 */
district: string, 
/**
 * District name.
 */
district_name: string, 
/**
 * Program keys.
 */
programs: Array<string>, 
/**
 * Program labels.
 */
program_labels: Array<string>, 
/**
 * Status key.
 */
status: string, 
/**
 * Status label.
 */
status_label: string, 
/**
 * Current trust stage.
 */
stage: number | null, 
/**
 * Its label.
 */
stage_label: string | null, 
/**
 * Latest contact (RFC 3339).
 */
last_contact_at: string | null, 
/**
 * Follow-up planned by the latest contact that planned one (YYYY-MM-DD).
 */
next_due: string | null, 
/**
 * The follow-up date has passed.
 */
overdue: boolean, };

export type SearchRequest = { 
/**
 * What to look for: names, kana, notes (space-separated terms must all match).
 */
text: string, 
/**
 * At most this many contacts (default 50).
 */
limit: number | null, };

export type ContactHitView = { 
/**
 * The contact.
 */
id: string, 
/**
 * Whose.
 */
person: string, 
/**
 * The person's name.
 */
person_name: string, 
/**
 * When (RFC 3339).
 */
at: string, 
/**
 * The note around the first match.
 */
excerpt: string, };

export type SearchView = { 
/**
 * Persons by name or kana.
 */
persons: Array<PersonRow>, 
/**
 * Contacts by note, newest first.
 */
contacts: Array<ContactHitView>, 
/**
 * How many contacts matched in all (up to 10,000).
 */
contact_total: number, 
/**
 * More than 10,000 matched.
 */
contact_total_capped: boolean, };

export type PersonView = { 
/**
 * Id.
 */
id: string, 
/**
 * 氏名.
 */
name: string, 
/**
 * ふりがな.
 */
kana: string | null, 
/**
 * Birth date (YYYY-MM-DD), if known.
 */
birth_date: string | null, 
/**
 * Age band ("80代") when only that is known.
 */
age_band: string | null, 
/**
 * Age today, when the birth date is known.
 */
age: number | null, 
/**
 * Age in months today (infants).
 */
age_months: number | null, 
/**
 * Sex key.
 */
sex: string | null, 
/**
 * Sex label.
 */
sex_label: string | null, 
/**
 * 住所.
 */
address: string | null, 
/**
 * 電話番号.
 */
phone: string | null, 
/**
 * District code.
 */
district: string, 
/**
 * District name.
 */
district_name: string, 
/**
 * Program keys.
 */
programs: Array<string>, 
/**
 * Program labels.
 */
program_labels: Array<string>, 
/**
 * Status key.
 */
status: string, 
/**
 * Status label.
 */
status_label: string, 
/**
 * Day of referral (相談受付日), which starts the dementia team's first-visit deadline.
 */
referred_on: string | null, 
/**
 * Risk flags.
 */
risk_flags: Array<string>, 
/**
 * Free memo.
 */
memo: string, };

export type HouseholdMemberView = { 
/**
 * The member's person id.
 */
person: string, 
/**
 * Their name (when the person is on this device).
 */
name: string | null, 
/**
 * Relation key.
 */
relation: string, 
/**
 * Relation label.
 */
relation_label: string, 
/**
 * Note (同居, 別居・市外).
 */
note: string | null, };

export type HouseholdView = { 
/**
 * Id.
 */
id: string, 
/**
 * 住所.
 */
address: string | null, 
/**
 * Members.
 */
members: Array<HouseholdMemberView>, };

export type ConflictView = { 
/**
 * The record.
 */
entity: string, 
/**
 * Its kind (`person`, `contact`, ...).
 */
kind: string, 
/**
 * Whose case it is.
 */
person: string | null, 
/**
 * The person's name.
 */
person_name: string | null, 
/**
 * The field.
 */
field: string, 
/**
 * The field's Japanese label.
 */
field_label: string, 
/**
 * The values, each as written.
 */
versions: Array<ConflictVersion>, };

export type ConflictVersion = { 
/**
 * The value as stored (JSON).
 */
value: JsonValue, 
/**
 * The value as shown.
 */
display: string, 
/**
 * The device that wrote it.
 */
device: string, 
/**
 * Whether that is this device (the other is a colleague's, or this worker's other one).
 */
this_device: boolean, 
/**
 * When (RFC 3339).
 */
at: string, };

export type ContactView = { 
/**
 * Id.
 */
id: string, 
/**
 * When (RFC 3339).
 */
at: string, 
/**
 * Staff who went.
 */
staff: Array<string>, 
/**
 * Channel key.
 */
channel: string, 
/**
 * Channel label.
 */
channel_label: string, 
/**
 * Outcome key.
 */
outcome: string, 
/**
 * Outcome label.
 */
outcome_label: string, 
/**
 * The narrative.
 */
note: string, 
/**
 * Observations.
 */
observations: string, 
/**
 * Trust stage after the contact.
 */
stage: number | null, 
/**
 * Its label.
 */
stage_label: string | null, 
/**
 * What the 置き手紙 said.
 */
letter_text: string | null, 
/**
 * Next step.
 */
next_step: string | null, 
/**
 * Its date.
 */
next_due: string | null, 
/**
 * Fields with conflicting values.
 */
conflicts: Array<string>, };

export type StagePoint = { 
/**
 * When (RFC 3339).
 */
at: string, 
/**
 * The stage then.
 */
stage: number, };

export type AssessmentView = { 
/**
 * Id.
 */
id: string, 
/**
 * When (RFC 3339).
 */
at: string, 
/**
 * Instrument key.
 */
instrument: string, 
/**
 * Its Japanese name.
 */
instrument_name: string, 
/**
 * Definition version.
 */
version: string, 
/**
 * Complete.
 */
complete: boolean, 
/**
 * Total (null when incomplete or a checklist).
 */
total: number | null, 
/**
 * Highest possible total.
 */
max: number | null, 
/**
 * Unanswered items.
 */
missing_items: Array<number>, 
/**
 * Bands reached.
 */
bands: Array<BandView>, 
/**
 * Alerts raised.
 */
alerts: Array<AlertView>, 
/**
 * Checklist items flagged.
 */
flagged_items: Array<number>, 
/**
 * The answers as entered.
 */
answers: Array<string | null>, };

export type PlanEventView = { 
/**
 * State before.
 */
from: string, 
/**
 * State after.
 */
to: string, 
/**
 * Label of the state after.
 */
to_label: string, 
/**
 * When decided (YYYY-MM-DD).
 */
on: string, 
/**
 * The meeting kind this step calls for (its key).
 */
needs_meeting: string | null, 
/**
 * The meeting that covered it, once recorded.
 */
meeting: string | null, };

export type RoleView = { 
/**
 * The agency.
 */
agency: string, 
/**
 * Its task.
 */
task: string, };

export type PlanStep = { 
/**
 * The state it moves to.
 */
to: string, 
/**
 * The meeting kind the step calls for (its key), if any: the form can link it at once.
 */
needs_meeting: string | null, };

export type PlanView = { 
/**
 * Id.
 */
id: string, 
/**
 * State key.
 */
state: string, 
/**
 * State label.
 */
state_label: string, 
/**
 * Goals.
 */
goals: Array<string>, 
/**
 * Roles.
 */
roles: Array<RoleView>, 
/**
 * Next review date.
 */
review_on: string | null, 
/**
 * History, oldest first.
 */
history: Array<PlanEventView>, 
/**
 * The steps it may take now.
 */
next_states: Array<PlanStep>, 
/**
 * A step still waits for its 重層的支援会議 to be recorded.
 */
meeting_pending: boolean, };

export type MeetingView = { 
/**
 * Id.
 */
id: string, 
/**
 * Kind key.
 */
kind: string, 
/**
 * Kind label.
 */
kind_label: string, 
/**
 * Day held.
 */
date: string, 
/**
 * Attending agencies.
 */
agencies: Array<string>, 
/**
 * Persons discussed (ids).
 */
persons: Array<string>, 
/**
 * What was decided.
 */
decisions: string, };

export type ConsentView = { 
/**
 * Id.
 */
id: string, 
/**
 * Teams or agencies covered.
 */
scope: Array<string>, 
/**
 * Method key.
 */
method: string, 
/**
 * Method label.
 */
method_label: string, 
/**
 * Day given.
 */
given_on: string, 
/**
 * Last valid day.
 */
expires_on: string | null, 
/**
 * Day withdrawn.
 */
withdrawn_on: string | null, 
/**
 * In force today.
 */
active: boolean, };

export type DisclosureView = { 
/**
 * Id.
 */
id: string, 
/**
 * To whom.
 */
to: string, 
/**
 * What was shared.
 */
what: string, 
/**
 * When (RFC 3339).
 */
at: string, 
/**
 * `consent` or `meeting`.
 */
basis: string, 
/**
 * The consent's or meeting's id.
 */
basis_id: string, };

export type AccessView = { 
/**
 * Who.
 */
actor: string, 
/**
 * When opened (RFC 3339).
 */
at: string, 
/**
 * For how long, in seconds, once closed.
 */
seconds: number | null, 
/**
 * Whose record (the person's id).
 */
person: string, };

export type PersonPageView = { 
/**
 * Hand back to `refresh_person` to read the page again, and to `close_person` when it
 * closes (the access log records one visit, with how long it lasted).
 */
page: string, 
/**
 * The profile.
 */
person: PersonView, 
/**
 * The caseload summary (stage, last contact, next due).
 */
summary: PersonRow, 
/**
 * The household, if recorded.
 */
household: HouseholdView | null, 
/**
 * Consents.
 */
consents: Array<ConsentView>, 
/**
 * Disclosures to other teams.
 */
disclosures: Array<DisclosureView>, 
/**
 * Contacts, newest first.
 */
timeline: Array<ContactView>, 
/**
 * Total number of contacts (the timeline may show fewer).
 */
contact_count: number, 
/**
 * The trust-stage line, oldest first.
 */
stages: Array<StagePoint>, 
/**
 * Assessments, newest first.
 */
assessments: Array<AssessmentView>, 
/**
 * Plans, newest first.
 */
plans: Array<PlanView>, 
/**
 * Meetings that discussed the person, newest first.
 */
meetings: Array<MeetingView>, 
/**
 * Fields of this case's records with conflicting values.
 */
conflicts: Array<ConflictView>, 
/**
 * Who opened the record, newest first.
 */
access: Array<AccessView>, 
/**
 * The case belongs to another team (shared to read only).
 */
read_only: boolean, };

export type PageRef = { 
/**
 * The `page` from the opened page.
 */
page: string, };

export type ById = { 
/**
 * The id.
 */
id: string, };

export type AccessLogRequest = { 
/**
 * Only this person.
 */
person: string | null, 
/**
 * At most this many (default 100).
 */
limit: number | null, };

export type Created = { 
/**
 * The new record's id.
 */
id: string, };

export type PersonForm = { 
/**
 * 氏名.
 */
name: string, 
/**
 * ふりがな.
 */
kana: string | null, 
/**
 * District code or name.
 */
district: string, 
/**
 * Program keys (at least one).
 */
programs: Array<string>, 
/**
 * Birth date (YYYY-MM-DD) or age band (80代).
 */
birth: string | null, 
/**
 * Sex key.
 */
sex: string | null, 
/**
 * 住所.
 */
address: string | null, 
/**
 * 電話番号.
 */
phone: string | null, 
/**
 * Status key (default 受付).
 */
status: string | null, 
/**
 * Day of referral (YYYY-MM-DD).
 */
referred_on: string | null, 
/**
 * Free memo.
 */
memo: string | null, };

export type PersonEditForm = { 
/**
 * The person.
 */
id: string, 
/**
 * 氏名.
 */
name: string | null, 
/**
 * ふりがな (empty clears).
 */
kana: string | null, 
/**
 * District.
 */
district: string | null, 
/**
 * Programs (replaces the list).
 */
programs: Array<string> | null, 
/**
 * Birth date or age band (empty clears).
 */
birth: string | null, 
/**
 * Sex (empty clears).
 */
sex: string | null, 
/**
 * 住所 (empty clears).
 */
address: string | null, 
/**
 * 電話番号 (empty clears).
 */
phone: string | null, 
/**
 * Status.
 */
status: string | null, 
/**
 * Day of referral (empty clears).
 */
referred_on: string | null, 
/**
 * Memo.
 */
memo: string | null, };

export type ContactForm = { 
/**
 * The person.
 */
person: string, 
/**
 * When (YYYY-MM-DDTHH:MM local, or RFC 3339); default now.
 */
at: string | null, 
/**
 * Channel key.
 */
channel: string, 
/**
 * Outcome key.
 */
outcome: string, 
/**
 * The narrative.
 */
note: string, 
/**
 * Observations.
 */
observations: string | null, 
/**
 * Trust stage after the contact.
 */
stage: number | null, 
/**
 * What the 置き手紙 said.
 */
letter_text: string | null, 
/**
 * Next step.
 */
next_step: string | null, 
/**
 * Its date (YYYY-MM-DD).
 */
next_due: string | null, 
/**
 * Staff who went (default: this device's user).
 */
staff: Array<string>, };

export type ContactEditForm = { 
/**
 * The contact.
 */
id: string, 
/**
 * Outcome key.
 */
outcome: string | null, 
/**
 * The narrative.
 */
note: string | null, 
/**
 * Observations.
 */
observations: string | null, 
/**
 * Trust stage (null keeps it).
 */
stage: number | null, 
/**
 * Removes the recorded trust stage (the contact said nothing about it after all).
 */
clear_stage: boolean, 
/**
 * Next step (empty clears).
 */
next_step: string | null, 
/**
 * Its date (empty clears).
 */
next_due: string | null, };

export type AssessmentForm = { 
/**
 * The person.
 */
person: string, 
/**
 * Instrument key.
 */
instrument: string, 
/**
 * One entry per item: the chosen key, or null when not answered.
 */
answers: Array<string | null>, 
/**
 * When; default now.
 */
at: string | null, };

export type AssessmentSaved = { 
/**
 * The assessment's id.
 */
id: string, 
/**
 * Its score.
 */
score: ScoreView, };

export type PlanForm = { 
/**
 * The person.
 */
person: string, 
/**
 * Goals.
 */
goals: Array<string>, 
/**
 * Agencies and their tasks.
 */
roles: Array<RoleView>, 
/**
 * Next review (YYYY-MM-DD).
 */
review_on: string | null, };

export type PlanEditForm = { 
/**
 * The plan.
 */
id: string, 
/**
 * Goals (replaces the list).
 */
goals: Array<string> | null, 
/**
 * Roles (replaces the list).
 */
roles: Array<RoleView> | null, 
/**
 * Next review (empty clears).
 */
review_on: string | null, };

export type PlanTransitionForm = { 
/**
 * The plan.
 */
id: string, 
/**
 * The state to move to.
 */
to: string, 
/**
 * Day decided; default today.
 */
on: string | null, 
/**
 * The 重層的支援会議 that decided it, if already recorded.
 */
meeting: string | null, };

export type PlanMeetingForm = { 
/**
 * The plan.
 */
id: string, 
/**
 * The meeting.
 */
meeting: string, };

export type HouseholdMemberForm = { 
/**
 * The member's person id.
 */
person: string, 
/**
 * Relation key.
 */
relation: string, 
/**
 * Note.
 */
note: string | null, };

export type HouseholdForm = { 
/**
 * The household, when changing one.
 */
id: string | null, 
/**
 * 住所.
 */
address: string | null, 
/**
 * Members (replaces the list).
 */
members: Array<HouseholdMemberForm>, };

export type MeetingForm = { 
/**
 * Kind key.
 */
kind: string, 
/**
 * Day held; default today.
 */
date: string | null, 
/**
 * Attending agencies or team ids.
 */
agencies: Array<string>, 
/**
 * Persons discussed.
 */
persons: Array<string>, 
/**
 * What was decided.
 */
decisions: string, };

export type ConsentForm = { 
/**
 * The person.
 */
person: string, 
/**
 * Teams or agencies covered.
 */
scope: Array<string>, 
/**
 * Method key (`written`, `oral`).
 */
method: string, 
/**
 * Day given; default today.
 */
given_on: string | null, 
/**
 * Last valid day.
 */
expires_on: string | null, };

export type WithdrawForm = { 
/**
 * The consent.
 */
id: string, 
/**
 * Day withdrawn; default today.
 */
on: string | null, };

export type WithdrawResult = { 
/**
 * Teams that stop receiving the case.
 */
ended: Array<string>, 
/**
 * Teams that keep receiving it on another basis.
 */
kept: Array<string>, 
/**
 * Whether the change reached the server now (otherwise it goes with the next sync).
 */
sent: boolean, };

export type ShareForm = { 
/**
 * The person.
 */
person: string, 
/**
 * The receiving team's id.
 */
team: string, 
/**
 * A consent covering the team.
 */
consent: string | null, 
/**
 * A 支援会議 the team attended that discussed the person.
 */
meeting: string | null, };

export type ShareResult = { 
/**
 * The 情報提供記録 written.
 */
disclosure: string, 
/**
 * The receiving team.
 */
team: string, 
/**
 * Whether it reached the server now.
 */
sent: boolean, };

export type ResolveConflictForm = { 
/**
 * The record.
 */
entity: string, 
/**
 * The field.
 */
field: string, 
/**
 * The value to keep (JSON, as in the versions).
 */
value: JsonValue, };

export type TodayRequest = { 
/**
 * The day (YYYY-MM-DD); default today on this device.
 */
date: string | null, };

export type AgendaKind = "follow_up" | "cadence" | "deadline" | "plan_review";

export type AgendaItem = { 
/**
 * The person.
 */
person: string, 
/**
 * Their name.
 */
person_name: string, 
/**
 * District name.
 */
district_name: string, 
/**
 * Why.
 */
kind: AgendaKind, 
/**
 * What is due, in Japanese (次回予定: 再訪問, 初回訪問（相談受付から4日以内）, ...).
 */
label_ja: string, 
/**
 * The same in English.
 */
label_en: string, 
/**
 * What the worker wrote for it, if anything: the next step a contact planned, the goals of
 * a plan due for review.
 */
detail: string | null, 
/**
 * The program it comes from.
 */
program: string | null, 
/**
 * The due day (YYYY-MM-DD).
 */
due: string, 
/**
 * Days from the day asked about to the due day (negative: overdue).
 */
days_left: number, 
/**
 * Current trust stage.
 */
stage: number | null, };

export type TodayView = { 
/**
 * The day.
 */
date: string, 
/**
 * Past due.
 */
overdue: Array<AgendaItem>, 
/**
 * Due that day.
 */
due_today: Array<AgendaItem>, 
/**
 * Due within the coming week (deadlines within 30 days).
 */
upcoming: Array<AgendaItem>, };

export type DraftSave = { 
/**
 * Which form (`contact:<person id>`, `person:new`, ...).
 */
key: string, 
/**
 * What it is, for the list of drafts (山田花子さんの訪問記録).
 */
label: string, 
/**
 * The form's fields as the front end keeps them (JSON text, at most 256 KiB).
 */
body: string, };

export type DraftKey = { 
/**
 * The key.
 */
key: string, };

export type Draft = { 
/**
 * The key.
 */
key: string, 
/**
 * What it is.
 */
label: string, 
/**
 * The fields (JSON text).
 */
body: string, 
/**
 * When it was last kept (RFC 3339).
 */
saved_at: string, };

export type SyncState = "synced" | "pending" | "offline" | "error" | "never" | "not_enrolled";

export type SyncPhase = "keys" | "own_cases" | "pull" | "snapshots" | "push" | "compact";

export type SyncProgress = { 
/**
 * The step.
 */
phase: SyncPhase, 
/**
 * Records done in this step.
 */
done: number, 
/**
 * Records this step expects (0 when unknown).
 */
total: number, 
/**
 * Seconds left, estimated from the pace so far (null until there is a pace).
 */
eta_seconds: number | null, 
/**
 * Whether this is the device's first sync (the worker's own cases come first).
 */
first_sync: boolean, 
/**
 * The worker's own cases are on the device and usable.
 */
own_cases_ready: boolean, };

export type MissingChanges = { 
/**
 * The author device.
 */
device: string, 
/**
 * Its user's name (from the device certificate this device verified), if known.
 */
user_name: string | null, 
/**
 * Changes missing.
 */
count: number, 
/**
 * Cases concerned (a count: the screen names no case).
 */
cases: number, };

export type IntegrityWarning = { 
/**
 * `fork`, `replayed`, `cursor_rollback` or `out_of_order`.
 */
kind: string, 
/**
 * The user of the device concerned, if any and known.
 */
user_name: string | null, 
/**
 * How many times.
 */
count: number, 
/**
 * Last seen (RFC 3339).
 */
last_at: string, };

export type SyncView = { 
/**
 * Enrolled with a server.
 */
enrolled: boolean, 
/**
 * What the indicator says.
 */
state: SyncState, 
/**
 * One line for the screen, in Japanese.
 */
message_ja: string, 
/**
 * Records not yet on the server.
 */
pending: number, 
/**
 * Last successful sync (RFC 3339).
 */
last_success: string | null, 
/**
 * The last error's code, if the last attempt failed.
 */
error_code: string | null, 
/**
 * The last error in Japanese.
 */
error_ja: string | null, 
/**
 * Records the server refused or that were refused on arrival (kept aside).
 */
refused: number, 
/**
 * The refusals, newest first (`送信拒否 <op> <code>: <detail>`, `受信拒否 #<seq> ...`),
 * for IT.
 */
refusals: Array<string>, 
/**
 * Received records waiting for a key to open them.
 */
held: number, 
/**
 * Devices whose changes are missing here, until they arrive.
 */
missing: Array<MissingChanges>, 
/**
 * What the server did that this device detected (tell IT).
 */
warnings: Array<IntegrityWarning>, 
/**
 * A sync is running.
 */
running: boolean, 
/**
 * Its progress.
 */
progress: SyncProgress | null, };
