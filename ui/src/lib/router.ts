// The hash router's routes: parsing `#/...` into a Route and printing a Route back.

/** Every screen the unlocked app can show. */
export type Route =
  | { name: 'today' }
  | { name: 'cases' }
  | { name: 'settings' }
  | { name: 'person-new' }
  | { name: 'meeting-new'; person: string | null }
  | { name: 'person'; id: string }
  | { name: 'person-edit'; id: string }
  | { name: 'contact-new'; id: string }
  | { name: 'assessment'; id: string; instrument: string | null }
  | { name: 'plan-new'; id: string }
  | { name: 'plan-edit'; id: string; plan: string }
  | { name: 'household'; id: string }
  | { name: 'consent-new'; id: string }
  | { name: 'share'; id: string }
  | { name: 'not-found'; path: string };

/** The screens under one person (they share the opened person page). */
export type PersonRoute = Extract<Route, { id: string }>;

/** Whether a route belongs to a person's page (opened once for all of them). */
export function isPersonRoute(r: Route): r is PersonRoute {
  return 'id' in r;
}

const DEFAULT: Route = { name: 'today' };

function seg(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses `location.hash` (`#/person/ID/contact`). An empty hash is the default screen. */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart, queryPart = ''] = raw.split('?', 2) as [string, string?];
  const parts = pathPart.split('/').filter((p) => p !== '').map(seg);
  const query = new URLSearchParams(queryPart);
  if (parts.length === 0) return DEFAULT;
  const [head, id, sub, subId] = parts;
  switch (head) {
    case 'today':
      if (parts.length === 1) return { name: 'today' };
      break;
    case 'cases':
      if (parts.length === 1) return { name: 'cases' };
      break;
    case 'settings':
      if (parts.length === 1) return { name: 'settings' };
      break;
    case 'meeting':
      if (id === 'new' && parts.length === 2) return { name: 'meeting-new', person: query.get('person') };
      break;
    case 'person': {
      if (!id) break;
      if (id === 'new' && parts.length === 2) return { name: 'person-new' };
      if (parts.length === 2) return { name: 'person', id };
      if (sub === 'edit' && parts.length === 3) return { name: 'person-edit', id };
      if (sub === 'contact' && parts.length === 3) return { name: 'contact-new', id };
      if (sub === 'assessment' && parts.length <= 4) return { name: 'assessment', id, instrument: subId ?? null };
      if (sub === 'plan' && subId === 'new' && parts.length === 4) return { name: 'plan-new', id };
      if (sub === 'plan' && subId && parts.length === 4) return { name: 'plan-edit', id, plan: subId };
      if (sub === 'household' && parts.length === 3) return { name: 'household', id };
      if (sub === 'consent' && parts.length === 3) return { name: 'consent-new', id };
      if (sub === 'share' && parts.length === 3) return { name: 'share', id };
      break;
    }
  }
  return { name: 'not-found', path: '/' + parts.join('/') };
}

const enc = encodeURIComponent;

/** Prints a route as a hash (`#/person/ID`). */
export function routeHash(r: Route): string {
  switch (r.name) {
    case 'today':
    case 'cases':
    case 'settings':
      return `#/${r.name}`;
    case 'person-new':
      return '#/person/new';
    case 'meeting-new':
      return r.person ? `#/meeting/new?person=${enc(r.person)}` : '#/meeting/new';
    case 'person':
      return `#/person/${enc(r.id)}`;
    case 'person-edit':
      return `#/person/${enc(r.id)}/edit`;
    case 'contact-new':
      return `#/person/${enc(r.id)}/contact`;
    case 'assessment':
      return r.instrument
        ? `#/person/${enc(r.id)}/assessment/${enc(r.instrument)}`
        : `#/person/${enc(r.id)}/assessment`;
    case 'plan-new':
      return `#/person/${enc(r.id)}/plan/new`;
    case 'plan-edit':
      return `#/person/${enc(r.id)}/plan/${enc(r.plan)}`;
    case 'household':
      return `#/person/${enc(r.id)}/household`;
    case 'consent-new':
      return `#/person/${enc(r.id)}/consent`;
    case 'share':
      return `#/person/${enc(r.id)}/share`;
    case 'not-found':
      return `#${r.path}`;
  }
}

/** The top-level section a route belongs to (for the navigation's current item). */
export function sectionOf(r: Route): 'today' | 'cases' | 'settings' | null {
  if (r.name === 'today' || r.name === 'settings') return r.name;
  if (r.name === 'not-found') return null;
  return 'cases';
}
