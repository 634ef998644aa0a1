// Unit tests of opening a kept draft from Settings: each draft key leads to its form.
import { describe, expect, it } from 'vitest';
import { draftRoute } from './draftRoute';

describe('draft keys', () => {
  it('lead to their forms', () => {
    expect(draftRoute('contact:p1')).toEqual({ name: 'contact-new', id: 'p1' });
    expect(draftRoute('person:new')).toEqual({ name: 'person-new' });
    expect(draftRoute('person:p1')).toEqual({ name: 'person-edit', id: 'p1' });
    expect(draftRoute('assessment:p1:epds')).toEqual({ name: 'assessment', id: 'p1', instrument: 'epds' });
    expect(draftRoute('plan:p1:new')).toEqual({ name: 'plan-new', id: 'p1' });
    expect(draftRoute('plan:p1:pl1')).toEqual({ name: 'plan-edit', id: 'p1', plan: 'pl1' });
    expect(draftRoute('letter:p1')).toEqual({ name: 'person', id: 'p1' });
    expect(draftRoute('meeting:new')).toEqual({ name: 'meeting-new', person: null });
  });

  it('lead nowhere for an unknown key', () => {
    expect(draftRoute('whatever')).toBeNull();
    expect(draftRoute('other:x')).toBeNull();
  });
});
