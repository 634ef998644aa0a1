// The person form's fields and the requests built from them (new, or only the changed fields).
import type { PersonEditForm, PersonForm, PersonView } from '../lib/api/types';

export interface PersonFields {
  name: string;
  kana: string;
  district: string;
  programs: string[];
  birth: string;
  sex: string | null;
  address: string;
  phone: string;
  status: string | null;
  referred_on: string;
  memo: string;
}

export const PERSON_FIELDS = [
  'name', 'kana', 'district', 'programs', 'birth', 'sex', 'address', 'phone', 'status', 'referred_on', 'memo',
] as const;

export function blankPerson(): PersonFields {
  return {
    name: '', kana: '', district: '', programs: [], birth: '', sex: null, address: '', phone: '',
    status: null, referred_on: '', memo: '',
  };
}

/** The form filled from a stored person. */
export function personFields(p: PersonView): PersonFields {
  return {
    name: p.name,
    kana: p.kana ?? '',
    district: p.district,
    programs: [...p.programs],
    birth: p.birth_date ?? p.age_band ?? '',
    sex: p.sex,
    address: p.address ?? '',
    phone: p.phone ?? '',
    status: p.status,
    referred_on: p.referred_on ?? '',
    memo: p.memo,
  };
}

const opt = (s: string): string | null => (s.trim() === '' ? null : s.trim());

/** A new person. */
export function newPersonRequest(f: PersonFields): PersonForm {
  return {
    name: f.name.trim(),
    kana: opt(f.kana),
    district: f.district,
    programs: f.programs,
    birth: opt(f.birth),
    sex: f.sex,
    address: opt(f.address),
    phone: opt(f.phone),
    status: f.status,
    referred_on: opt(f.referred_on),
    memo: opt(f.memo),
  };
}

/** Only what changed (unchanged fields are null, so they stay and raise no conflict). */
export function editPersonRequest(id: string, was: PersonFields, now: PersonFields): PersonEditForm {
  const changed = <K extends keyof PersonFields>(k: K) => JSON.stringify(was[k]) !== JSON.stringify(now[k]);
  // An optional text emptied is sent as "" (the backend clears it).
  const text = (k: 'kana' | 'birth' | 'address' | 'phone' | 'referred_on' | 'memo') => (changed(k) ? now[k].trim() : null);
  return {
    id,
    name: changed('name') ? now.name.trim() : null,
    kana: text('kana'),
    district: changed('district') ? now.district : null,
    programs: changed('programs') ? now.programs : null,
    birth: text('birth'),
    sex: changed('sex') ? (now.sex ?? '') : null,
    address: text('address'),
    phone: text('phone'),
    status: changed('status') ? now.status : null,
    referred_on: text('referred_on'),
    memo: text('memo'),
  };
}
