// Domain labels by key from the backend's reference data, in the UI's language; the label the
// backend sent with a record is the fallback for a key the reference does not list.
import { session } from './session.svelte';
import { label } from './i18n/i18n.svelte';
import type { Choice } from './api/types';

type ChoiceList = 'statuses' | 'sexes' | 'channels' | 'outcomes' | 'relations' | 'meeting_kinds' | 'consent_methods' | 'plan_states';

/** The label of `key` in a closed list. */
export function choiceLabel(list: ChoiceList, key: string | null | undefined, fallback = ''): string {
  if (!key) return fallback;
  const found = (session.reference?.[list] as Choice[] | undefined)?.find((c) => c.key === key);
  return found ? label(found) : fallback || key;
}

/** The label of a program. */
export function programLabel(key: string, fallback = ''): string {
  const found = session.reference?.programs.find((p) => p.key === key);
  return found ? label(found) : fallback || key;
}

/** The labels of programs, in order. */
export function programLabels(keys: string[], fallbacks: string[] = []): string[] {
  return keys.map((k, i) => programLabel(k, fallbacks[i] ?? ''));
}

/** The label of a trust stage. */
export function stageLabel(level: number | null | undefined, fallback: string | null = ''): string {
  if (level === null || level === undefined) return fallback ?? '';
  const found = session.reference?.stages.find((s) => s.level === level);
  return found ? label(found) : (fallback ?? '');
}
