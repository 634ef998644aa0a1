// Unit tests of the hash router: every route parses from and prints back to its hash.
import { describe, expect, it } from 'vitest';
import { isPersonRoute, parseRoute, routeHash, sectionOf, type Route } from './router';

const routes: Route[] = [
  { name: 'today' },
  { name: 'cases' },
  { name: 'settings' },
  { name: 'person-new' },
  { name: 'meeting-new', person: null },
  { name: 'meeting-new', person: 'p 1' },
  { name: 'person', id: '0190a1b2-c3d4' },
  { name: 'person-edit', id: 'p1' },
  { name: 'contact-new', id: 'p1' },
  { name: 'assessment', id: 'p1', instrument: null },
  { name: 'assessment', id: 'p1', instrument: 'epds' },
  { name: 'plan-new', id: 'p1' },
  { name: 'plan-edit', id: 'p1', plan: 'pl1' },
  { name: 'household', id: 'p1' },
  { name: 'consent-new', id: 'p1' },
  { name: 'share', id: 'p1' },
];

describe('router', () => {
  it.each(routes.map((r) => [routeHash(r), r] as const))('%s round-trips', (hash, r) => {
    expect(parseRoute(hash)).toEqual(r);
  });

  it('shows today for an empty hash', () => {
    expect(parseRoute('')).toEqual({ name: 'today' });
    expect(parseRoute('#/')).toEqual({ name: 'today' });
  });

  it('reports unknown paths instead of guessing', () => {
    expect(parseRoute('#/nope')).toEqual({ name: 'not-found', path: '/nope' });
    expect(parseRoute('#/person/p1/unknown')).toEqual({ name: 'not-found', path: '/person/p1/unknown' });
    expect(parseRoute('#/today/extra')).toEqual({ name: 'not-found', path: '/today/extra' });
  });

  it('tells person routes and sections apart', () => {
    expect(isPersonRoute({ name: 'contact-new', id: 'p1' })).toBe(true);
    expect(isPersonRoute({ name: 'person-new' })).toBe(false);
    expect(sectionOf({ name: 'contact-new', id: 'p1' })).toBe('cases');
    expect(sectionOf({ name: 'settings' })).toBe('settings');
  });
});
