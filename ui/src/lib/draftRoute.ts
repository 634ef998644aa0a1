// Where a kept draft is opened: its key names the form (`contact:<person id>`, ...).
import type { Route } from './router';

/** The screen of a draft key, or null for a key this UI does not know. */
export function draftRoute(key: string): Route | null {
  const [kind, a, b] = key.split(':');
  if (!kind || !a) return null;
  switch (kind) {
    case 'person':
      return a === 'new' ? { name: 'person-new' } : { name: 'person-edit', id: a };
    case 'contact':
      return { name: 'contact-new', id: a };
    case 'letter':
      return { name: 'person', id: a };
    case 'assessment':
      return b ? { name: 'assessment', id: a, instrument: b } : null;
    case 'plan':
      if (!b) return null;
      return b === 'new' ? { name: 'plan-new', id: a } : { name: 'plan-edit', id: a, plan: b };
    case 'household':
      return { name: 'household', id: a };
    case 'consent':
      return { name: 'consent-new', id: a };
    case 'meeting':
      return a === 'new' ? { name: 'meeting-new', person: null } : { name: 'meeting-new', person: a };
    default:
      return null;
  }
}
