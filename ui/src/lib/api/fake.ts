// An in-memory Backend for unit tests only (never imported by the app): sample data, a log of
// every call, and failures to inject. Its scoring is a stand-in, not the Rust rules.
import type { Backend, Command } from './backend';
import type {
  ApiError, AppStatus, AssessmentView, ContactView, Draft, InstrumentForm, PersonPageView,
  PersonRow, Reference, ScoreView, SyncView, TodayView,
} from './types';

const c = (key: string, label_ja: string, label_en: string) => ({ key, label_ja, label_en });

export function sampleReference(): Reference {
  return {
    municipality: '藤沢市',
    districts: [
      { code: 'katase', name: '片瀬', kana: 'かたせ' },
      { code: 'kugenuma', name: '鵠沼', kana: 'くげぬま' },
      { code: 'tsujido', name: '辻堂', kana: 'つじどう' },
      { code: 'shonan-oba', name: '湘南大庭', kana: 'しょうなんおおば' },
    ],
    programs: [
      { key: 'csw', label_ja: 'コミュニティソーシャルワーカー', label_en: 'Community social worker outreach', follow_up_days: 30 },
      { key: 'dementia', label_ja: '認知症初期集中支援チーム', label_en: 'Dementia initial intensive support team', follow_up_days: 14 },
      { key: 'infant', label_ja: 'こんにちは赤ちゃん訪問', label_en: 'Visit to every household with an infant', follow_up_days: null },
    ],
    stages: [
      { level: 0, label_ja: '未接触', label_en: 'No contact yet' },
      { level: 1, label_ja: '存在を知ってもらえた', label_en: 'Knows we exist' },
      { level: 2, label_ja: '短い会話ができる', label_en: 'Short conversations' },
      { level: 3, label_ja: '相談できる関係', label_en: 'Can consult us' },
      { level: 4, label_ja: '支援につながった', label_en: 'Connected to support' },
    ],
    statuses: [
      c('intake', '受付', 'Intake'), c('active', '支援中', 'Active'), c('watch', '見守り', 'Watching'),
      c('closed', '終結', 'Closed'), c('interrupted', '中断', 'Interrupted'),
    ],
    sexes: [c('female', '女性', 'Female'), c('male', '男性', 'Male'), c('other', 'その他', 'Other')],
    channels: [
      c('visit', '訪問', 'Visit'), c('phone', '電話', 'Phone'), c('letter', '手紙・置き手紙', 'Letter'),
      c('email', 'メール', 'Email'), c('office_visit', '来所', 'Office visit'), c('accompany', '同行', 'Accompanying'),
      c('via_agency', '関係機関経由', 'Via an agency'), c('via_resident', '地域住民経由', 'Via a resident'),
    ],
    outcomes: [
      c('met', '会えた', 'Met'), c('not_home', '不在', 'Not home'), c('through_door', 'ドア越し', 'Through the door'),
      c('refused', '拒否', 'Refused'), c('family', '家族と話した', 'Talked with family'),
      c('letter_left', '手紙を置いた', 'Letter left'), c('third_party', '第三者から情報', 'Third-party information'),
    ],
    relations: [
      c('principal', '本人', 'Principal'), c('spouse', '配偶者', 'Spouse'), c('child', '子', 'Child'),
      c('parent', '親', 'Parent'), c('sibling', '兄弟姉妹', 'Sibling'), c('grandchild', '孫', 'Grandchild'), c('other', 'その他', 'Other'),
    ],
    meeting_kinds: [
      c('jushoteki', '重層的支援会議', 'Multi-agency support meeting'), c('shien', '支援会議', 'Support meeting (art. 106-6)'),
      c('team', 'チーム員会議', 'Team meeting'), c('case_response', 'ケース対応会議', 'Case meeting'),
      c('community_care', '地域ケア会議', 'Community care meeting'),
    ],
    consent_methods: [c('written', '書面', 'Written'), c('oral', '口頭', 'Oral')],
    plan_states: [
      c('draft', '作成中', 'Draft'), c('active', '実施中', 'Active'), c('re_planned', '再プラン', 'Re-planned'),
      c('closed', '終結', 'Closed'), c('interrupted', '中断', 'Interrupted'), c('discarded', '破棄', 'Discarded'),
    ],
    instruments: [
      { key: 'dasc21', name_ja: 'DASC-21', name_en: 'DASC-21', programs: ['dementia'] },
      { key: 'epds', name_ja: 'エジンバラ産後うつ病質問票（EPDS）', name_en: 'Edinburgh Postnatal Depression Scale', programs: ['infant'] },
      { key: 'dbd13', name_ja: 'DBD13', name_en: 'DBD13', programs: ['dementia'] },
    ],
  };
}

export function sampleEpds(): InstrumentForm {
  const forward = ['いつもと同様にできた', 'あまりできなかった', '明らかにできなかった', '全くできなかった'];
  const items = Array.from({ length: 10 }, (_, i) => {
    const n = i + 1;
    const reverse = ![1, 2, 4].includes(n);
    return {
      number: n,
      text_ja: n === 10 ? '自分自身を傷つけるという考えが浮かんできた' : `質問 ${n} の文章`,
      choices: forward.map((label_ja, k) => ({ key: String(k), label_ja, points: reverse ? 3 - k : k, flag: false })),
    };
  });
  return {
    key: 'epds', name_ja: 'エジンバラ産後うつ病質問票（EPDS）', name_en: 'EPDS', version: '1', kind: 'score',
    period_ja: '過去7日間', items, range_min: 0, range_max: 30,
    cutoffs: [{ key: 'possible_depression', min: 9, label_ja: 'うつ病の可能性' }], notes: [],
    licence: 'Cox, Holden & Sagovsky (1987)。日本語版: 岡野ほか (1996)', texts_available: true,
  };
}

/** The fake's scoring of EPDS-like forms: sums points, alerts on item 10 > 0, band at ≥ 9. */
export function fakeScore(form: InstrumentForm, answers: (string | null)[]): ScoreView {
  let partial = 0;
  const missing: number[] = [];
  const alerts: ScoreView['alerts'] = [];
  form.items.forEach((item, i) => {
    const a = answers[i] ?? null;
    const ch = item.choices.find((x) => x.key === a);
    if (!ch) {
      missing.push(item.number);
      return;
    }
    partial += ch.points;
    if (form.key === 'epds' && item.number === 10 && ch.points > 0) {
      alerts.push({ key: 'self_harm', item: 10, label_ja: '自傷の考え（項目10）', label_en: 'Thoughts of self-harm (item 10)' });
    }
  });
  const complete = missing.length === 0;
  const bands = complete
    ? form.cutoffs.filter((b) => partial >= b.min).map((b) => ({ key: b.key, label_ja: b.label_ja, label_en: b.key }))
    : [];
  return {
    instrument: form.key, version: form.version, complete, total: complete ? partial : null,
    partial_total: partial, max: form.range_max, missing_items: missing, bands, alerts, subscales: [], flagged_items: [],
  };
}

function row(id: string, name: string, kana: string, district: string, district_name: string, programs: string[], stage: number | null, extra: Partial<PersonRow> = {}): PersonRow {
  const ref = sampleReference();
  return {
    id, name, kana, district, district_name, programs,
    program_labels: programs.map((p) => ref.programs.find((x) => x.key === p)?.label_ja ?? p),
    status: 'active', status_label: '支援中', stage,
    stage_label: stage === null ? null : (ref.stages[stage]?.label_ja ?? null),
    last_contact_at: '2026-11-20T10:30:00+09:00', next_due: '2026-12-04', overdue: false, ...extra,
  };
}

export function samplePersons(): PersonRow[] {
  return [
    row('p1', '山田 花子', 'やまだ はなこ', 'tsujido', '辻堂', ['csw'], 2, { next_due: '2026-11-28', overdue: true }),
    row('p2', '佐藤 一郎', 'さとう いちろう', 'kugenuma', '鵠沼', ['dementia'], 1),
    row('p3', '鈴木 美咲', 'すずき みさき', 'shonan-oba', '湘南大庭', ['infant'], 3, { next_due: '2026-12-02' }),
    row('p4', '高橋 健太', 'たかはし けんた', 'katase', '片瀬', ['csw'], 0, { last_contact_at: null, next_due: null }),
  ];
}

function contact(id: string, at: string, channel: string, outcome: string, note: string, stage: number | null, extra: Partial<ContactView> = {}): ContactView {
  const ref = sampleReference();
  return {
    id, at, staff: ['田中 由美'], channel, channel_label: ref.channels.find((x) => x.key === channel)?.label_ja ?? channel,
    outcome, outcome_label: ref.outcomes.find((x) => x.key === outcome)?.label_ja ?? outcome, note, observations: '',
    stage, stage_label: stage === null ? null : (ref.stages[stage]?.label_ja ?? null), letter_text: null,
    next_step: null, next_due: null, conflicts: [], ...extra,
  };
}

export function samplePage(id = 'p1'): PersonPageView {
  const summary = samplePersons().find((p) => p.id === id) ?? samplePersons()[0]!;
  const assessments: AssessmentView[] = [];
  return {
    page: `page-${id}`,
    person: {
      id: summary.id, name: summary.name, kana: summary.kana, birth_date: '1978-04-02', age_band: null, age: 48, age_months: null,
      sex: 'female', sex_label: '女性', address: '藤沢市辻堂1-2-3', phone: '0466-00-0000', district: summary.district,
      district_name: summary.district_name, programs: summary.programs, program_labels: summary.program_labels,
      status: summary.status, status_label: summary.status_label, referred_on: '2026-03-10', risk_flags: ['8050'],
      memo: '母（80代）と同居。本人は日中ほとんど外出しない。',
    },
    summary,
    household: {
      id: 'h1', address: '藤沢市辻堂1-2-3',
      members: [
        { person: summary.id, name: summary.name, relation: 'principal', relation_label: '本人', note: null },
        { person: 'p9', name: '山田 トメ', relation: 'parent', relation_label: '親', note: '同居' },
      ],
    },
    consents: [
      { id: 'c1', scope: ['地域包括支援センター辻堂'], method: 'written', method_label: '書面', given_on: '2026-06-01', expires_on: '2027-05-31', withdrawn_on: null, active: true },
    ],
    disclosures: [],
    timeline: [
      contact('k3', '2026-11-20T10:30:00+09:00', 'visit', 'through_door', 'ドア越しに短く挨拶。体調は悪くないとのこと。', 2, { next_step: '再訪問', next_due: '2026-11-28' }),
      contact('k2', '2026-10-15T14:00:00+09:00', 'visit', 'letter_left', '', 1, { letter_text: '社協の田中です。また伺います。' }),
      contact('k1', '2026-09-02T09:00:00+09:00', 'via_resident', 'third_party', '民生委員から、最近姿を見かけないとの情報。', 0),
    ],
    contact_count: 3,
    stages: [
      { at: '2026-09-02T09:00:00+09:00', stage: 0 },
      { at: '2026-10-15T14:00:00+09:00', stage: 1 },
      { at: '2026-11-20T10:30:00+09:00', stage: 2 },
    ],
    assessments,
    plans: [
      {
        id: 'pl1', state: 'draft', state_label: '作成中', goals: ['月に一度は外出できる'], roles: [{ agency: '社協', task: '定期訪問' }],
        review_on: '2027-01-15', history: [], next_states: [{ to: 'active', needs_meeting: 'jushoteki' }, { to: 'discarded', needs_meeting: null }], meeting_pending: false,
      },
    ],
    meetings: [],
    conflicts: [],
    access: [{ actor: '田中 由美', at: '2026-11-20T10:25:00+09:00', seconds: 340, person: id }],
    read_only: false,
  };
}

export function sampleToday(): TodayView {
  return {
    date: '2026-12-02',
    overdue: [{ person: 'p1', person_name: '山田 花子', district_name: '辻堂', kind: 'follow_up', label_ja: '次回予定', label_en: 'Planned follow-up', detail: '再訪問', program: 'csw', due: '2026-11-28', days_left: -4, stage: 2 }],
    due_today: [{ person: 'p3', person_name: '鈴木 美咲', district_name: '湘南大庭', kind: 'deadline', label_ja: '訪問（生後4か月を迎えるまで）', label_en: 'Visit (before the infant is 4 months old)', detail: null, program: 'infant', due: '2026-12-02', days_left: 0, stage: 3 }],
    upcoming: [{ person: 'p2', person_name: '佐藤 一郎', district_name: '鵠沼', kind: 'cadence', label_ja: '定期の連絡（前回から14日）', label_en: 'Regular contact (14 days since the last)', detail: null, program: 'dementia', due: '2026-12-04', days_left: 2, stage: 1 }],
  };
}

export function sampleSync(over: Partial<SyncView> = {}): SyncView {
  return {
    enrolled: true, state: 'synced', message_ja: '同期済みです', pending: 0, last_success: '2026-12-02T08:15:00+09:00',
    error_code: null, error_ja: null, refused: 0, refusals: [], held: 0, missing: [], warnings: [], running: false, progress: null, ...over,
  };
}

export function apiError(code: string, message_ja: string, field: string | null = null): ApiError {
  return { code, message: code, message_ja, field, bad_input: field !== null };
}

export interface Call {
  command: Command;
  req: unknown;
}

/** The fake backend with its call log and failure injection. */
export class FakeBackend {
  calls: Call[] = [];
  status: AppStatus = {
    phase: 'unlocked', device_id: 'dev-1', user_name: '田中 由美', team: '藤沢市社協', role: 'worker', has_pin: true,
    failures: 0, attempts_left: 5, approved: true, idle_lock_minutes: 5, pin_min_digits: 6,
    lease_days: 14, last_check_in: '2026-11-30T09:00:00Z', lease_until: '2026-12-14T09:00:00Z',
  };
  reference = sampleReference();
  persons = samplePersons();
  pages = new Map<string, PersonPageView>([['p1', samplePage('p1')]]);
  drafts = new Map<string, Draft>();
  sync = sampleSync();
  today = sampleToday();
  instruments = new Map<string, InstrumentForm>([['epds', sampleEpds()]]);
  private failures = new Map<Command, ApiError[]>();
  private seq = 0;

  /** The next call of `command` rejects with `error` (a wrong PIN also counts as a try). */
  failNext(command: Command, error: ApiError): void {
    const list = this.failures.get(command) ?? [];
    list.push(error);
    this.failures.set(command, list);
  }

  callsOf(command: Command): unknown[] {
    return this.calls.filter((x) => x.command === command).map((x) => x.req);
  }

  private async run<T>(command: Command, req: unknown, fn: () => T): Promise<T> {
    this.calls.push({ command, req });
    const f = this.failures.get(command);
    if (f && f.length > 0) {
      const e = f.shift()!;
      if (e.code === 'wrong_pin') this.status = { ...this.status, failures: this.status.failures + 1, attempts_left: Math.max(0, this.status.attempts_left - 1) };
      throw e;
    }
    return structuredClone(fn());
  }

  asBackend(): Backend {
    const r = <T>(command: Command, fn: (req: never) => T) => (req?: unknown) => this.run(command, req, () => fn(req as never));
    const page = (id: string) => this.pages.get(id) ?? samplePage(id);
    return {
      status: r('status', () => this.status),
      inspect_bundle: r('inspect_bundle', () => ({
        server_url: 'https://tsunagi.example.lg.jp', user_name: '田中 由美', team: '藤沢市社協', role: 'worker',
        expires_at: '2026-12-09T17:00:00+09:00', server_fingerprint: 'SRV1 2345 6789 ABCD', admin_fingerprint: 'ADM9 8765 4321 DCBA',
        pin_min_digits: 6, lease_days: 14,
      })),
      enroll: r('enroll', () => ({
        device_id: 'dev-1', user_name: '田中 由美', team: '藤沢市社協', device_code: '3f2a 9c01 77be 41d0 a5c3 0e9f 6b12 d804', sig_fingerprint: 'K7QF 2M9X 4T8P 1LZC',
        kem_fingerprint: 'Q3VN 8D2R 6W1J 5HYB', server_fingerprint: 'SRV1', admin_fingerprint: 'ADM9',
        recovery_code: 'RCV-4821-9937-1150', approved: false,
      })),
      check_approval: r('check_approval', () => ({ approved: true, state: 'active' })),
      unlock: r('unlock', () => {
        this.status = { ...this.status, phase: 'unlocked' };
        return null;
      }),
      check_in: r('check_in', () => {
        this.status = { ...this.status, phase: 'unlocked' };
        return null;
      }),
      lock: r('lock', () => {
        this.status = { ...this.status, phase: 'locked' };
        return null;
      }),
      change_pin: r('change_pin', () => null),
      reference: r('reference', () => this.reference),
      instrument_form: r('instrument_form', (req: { id: string }) => {
        const f = this.instruments.get(req.id);
        if (!f) throw apiError('unknown_instrument', '評価票が見つかりません。');
        return f;
      }),
      score: r('score', (req: { instrument: string; answers: (string | null)[] }) => fakeScore(this.instruments.get(req.instrument) ?? sampleEpds(), req.answers)),
      caseload: r('caseload', () => this.persons),
      search: r('search', (req: { text: string }) => ({
        persons: this.persons.filter((p) => p.name.includes(req.text) || p.kana.includes(req.text)),
        contacts: [{ id: 'k3', person: 'p1', person_name: '山田 花子', at: '2026-11-20T10:30:00+09:00', excerpt: `…ドア越しに短く挨拶。${req.text}の話題…` }],
        contact_total: 1, contact_total_capped: false,
      })),
      open_person: r('open_person', (req: { id: string }) => ({ ...page(req.id), page: `page-${req.id}-${++this.seq}` })),
      refresh_person: r('refresh_person', (req: { page: string }) => ({ ...page(req.page.slice('page-'.length, req.page.lastIndexOf('-'))), page: req.page })),
      close_person: r('close_person', () => null),
      access_log: r('access_log', () => []),
      conflicts: r('conflicts', () => []),
      today: r('today', () => this.today),
      add_person: r('add_person', () => ({ id: 'p-new' })),
      edit_person: r('edit_person', () => null),
      add_contact: r('add_contact', () => ({ id: `k-${++this.seq}` })),
      edit_contact: r('edit_contact', () => null),
      add_assessment: r('add_assessment', (req: { instrument: string; answers: (string | null)[] }) => ({
        id: `a-${++this.seq}`, score: fakeScore(this.instruments.get(req.instrument) ?? sampleEpds(), req.answers),
      })),
      add_plan: r('add_plan', () => ({ id: `pl-${++this.seq}` })),
      edit_plan: r('edit_plan', () => null),
      move_plan: r('move_plan', () => null),
      plan_meeting: r('plan_meeting', () => null),
      save_household: r('save_household', () => ({ id: 'h1' })),
      add_meeting: r('add_meeting', () => ({ id: `m-${++this.seq}` })),
      add_consent: r('add_consent', () => ({ id: `c-${++this.seq}` })),
      withdraw_consent: r('withdraw_consent', () => ({ ended: ['地域包括支援センター辻堂'], kept: [], sent: false })),
      share_case: r('share_case', (req: { team: string }) => ({ disclosure: 'd1', team: req.team, sent: false })),
      resolve_conflict: r('resolve_conflict', () => null),
      save_draft: r('save_draft', (req: { key: string; label: string; body: string }) => {
        this.drafts.set(req.key, { ...req, saved_at: '2026-12-02T10:00:00+09:00' });
        return null;
      }),
      draft: r('draft', (req: { key: string }) => this.drafts.get(req.key) ?? null),
      drafts: r('drafts', () => [...this.drafts.values()]),
      discard_draft: r('discard_draft', (req: { key: string }) => {
        this.drafts.delete(req.key);
        return null;
      }),
      sync_status: r('sync_status', () => this.sync),
      sync_now: r('sync_now', () => null),
      cancel_sync: r('cancel_sync', () => null),
    };
  }
}
