// The quick 不在・置き手紙 capture's request: a visit where a note was left, now, by this user.
import type { ContactForm } from '../../lib/api/types';

export interface QuickLetterFields {
  letter_text: string;
  note: string;
}

/** The contact the quick capture records. Empty texts are sent as absent. */
export function quickLetterRequest(person: string, f: QuickLetterFields): ContactForm {
  const letter = f.letter_text.trim();
  return {
    person,
    at: null,
    channel: 'visit',
    outcome: 'letter_left',
    note: f.note.trim(),
    observations: null,
    stage: null,
    letter_text: letter === '' ? null : letter,
    next_step: null,
    next_due: null,
    staff: [],
  };
}
