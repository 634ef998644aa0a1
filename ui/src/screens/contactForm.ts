// The full visit note's fields and the contact request built from them.
import type { ContactForm } from '../lib/api/types';

export interface ContactFields {
  at: string;
  channel: string | null;
  outcome: string | null;
  note: string;
  observations: string;
  stage: number | null;
  letter_text: string;
  next_step: string;
  next_due: string;
}

export const CONTACT_FIELDS = [
  'at', 'channel', 'outcome', 'note', 'observations', 'stage', 'letter_text', 'next_step', 'next_due',
] as const;

export function blankContact(now: string): ContactFields {
  return {
    at: now, channel: null, outcome: null, note: '', observations: '', stage: null,
    letter_text: '', next_step: '', next_due: '',
  };
}

/** Whether the letter's text belongs to this contact (a letter, or a note left at the door). */
export function letterRelevant(f: Pick<ContactFields, 'channel' | 'outcome'>): boolean {
  return f.channel === 'letter' || f.outcome === 'letter_left';
}

const opt = (s: string): string | null => (s.trim() === '' ? null : s.trim());

export function contactRequest(person: string, f: ContactFields): ContactForm {
  return {
    person,
    at: opt(f.at),
    channel: f.channel ?? '',
    outcome: f.outcome ?? '',
    note: f.note.trim(),
    observations: opt(f.observations),
    stage: f.stage,
    letter_text: letterRelevant(f) ? opt(f.letter_text) : null,
    next_step: opt(f.next_step),
    next_due: opt(f.next_due),
    staff: [],
  };
}
