// Unit tests of forms: a draft is restored when a form opens and kept while typing, a failed
// save shows the backend's message at the field it names and keeps what was typed, and a
// successful save discards the draft.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import ContactForm from './ContactForm.svelte';
import PersonForm from './PersonForm.svelte';
import { apiError, FakeBackend, samplePage } from '../lib/api/fake';
import { setBackend } from '../lib/api/backend';
import { loadReference } from '../lib/session.svelte';
import { DRAFT_DELAY_MS } from '../lib/drafts';

let fake: FakeBackend;
beforeEach(async () => {
  fake = new FakeBackend();
  setBackend(fake.asBackend());
  await loadReference();
});
afterEach(() => vi.useRealTimers());

describe('visit note form', () => {
  it('restores the kept draft when it opens', async () => {
    fake.drafts.set('contact:p1', {
      key: 'contact:p1', label: 'x', saved_at: '2026-12-02T10:00:00+09:00',
      body: JSON.stringify({ v: 1, data: { note: '玄関先で10分ほど話せた。', channel: 'visit', outcome: 'met' } }),
    });
    render(ContactForm, { props: { page: samplePage('p1'), done: async () => {} } });
    expect(await screen.findByTestId('contact-draft')).toBeTruthy();
    await waitFor(() => expect((screen.getByTestId('contact-note') as HTMLTextAreaElement).value).toBe('玄関先で10分ほど話せた。'));
    expect(screen.getByTestId('contact-channel-visit').getAttribute('aria-pressed')).toBe('true');
  });

  it('keeps what is typed as a draft, labelled in Japanese', async () => {
    render(ContactForm, { props: { page: samplePage('p1'), done: async () => {} } });
    await waitFor(() => expect(fake.callsOf('draft')).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 0));
    await fireEvent.input(screen.getByTestId('contact-note'), { target: { value: '様子を見た' } });
    await new Promise((r) => setTimeout(r, DRAFT_DELAY_MS + 100));
    const saved = fake.callsOf('save_draft').at(-1) as { key: string; label: string; body: string };
    expect(saved.key).toBe('contact:p1');
    expect(saved.label).toBe('山田 花子さんの訪問記録');
    expect(JSON.parse(saved.body).data.note).toBe('様子を見た');
  });

  it('shows only letter text when a letter is involved, and saves channel and outcome', async () => {
    let done = 0;
    render(ContactForm, { props: { page: samplePage('p1'), done: async () => void done++ } });
    expect(screen.queryByTestId('contact-letter-text')).toBeNull();
    await fireEvent.click(screen.getByTestId('contact-channel-visit'));
    await fireEvent.click(screen.getByTestId('contact-outcome-letter_left'));
    expect(screen.getByTestId('contact-letter-text')).toBeTruthy();
    await fireEvent.click(screen.getByTestId('contact-stage-1'));
    await fireEvent.click(screen.getByTestId('contact-save'));
    await waitFor(() => expect(done).toBe(1));
    expect(fake.callsOf('add_contact')[0]).toMatchObject({ person: 'p1', channel: 'visit', outcome: 'letter_left', stage: 1 });
    expect(fake.callsOf('discard_draft')).toContainEqual({ key: 'contact:p1' });
  });

  it('marks the field the backend names and keeps what was typed', async () => {
    render(ContactForm, { props: { page: samplePage('p1'), done: async () => {} } });
    await fireEvent.input(screen.getByTestId('contact-next-due'), { target: { value: '2020-01-01' } });
    await fireEvent.input(screen.getByTestId('contact-note'), { target: { value: '大事なメモ' } });
    fake.failNext('add_contact', apiError('invalid_date', '次回の予定日が接触日より前です。', 'next_due'));
    await fireEvent.click(screen.getByTestId('contact-save'));
    expect((await screen.findByTestId('contact-next-due-error')).textContent).toBe('次回の予定日が接触日より前です。');
    expect(screen.getByTestId('contact-next-due').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('contact-error').getAttribute('data-code')).toBe('invalid_date');
    expect((screen.getByTestId('contact-note') as HTMLTextAreaElement).value).toBe('大事なメモ');
  });
});

describe('person form', () => {
  it('sends only the changed fields when editing', async () => {
    const page = samplePage('p1');
    render(PersonForm, { props: { personId: 'p1', page, done: async () => {} } });
    await fireEvent.input(screen.getByTestId('person-form-phone'), { target: { value: '090-1111-2222' } });
    await fireEvent.click(screen.getByTestId('person-form-save'));
    await waitFor(() => expect(fake.callsOf('edit_person')).toHaveLength(1));
    expect(fake.callsOf('edit_person')[0]).toEqual({
      id: 'p1', name: null, kana: null, district: null, programs: null, birth: null, sex: null,
      address: null, phone: '090-1111-2222', status: null, referred_on: null, memo: null,
    });
  });

  it('shows an error that names no field of the form above the buttons', async () => {
    render(PersonForm, { props: { personId: null, page: null } });
    fake.failNext('add_person', apiError('unreachable', 'サーバーに接続できません。'));
    await fireEvent.input(screen.getByTestId('person-form-name'), { target: { value: '新井 進' } });
    await fireEvent.click(screen.getByTestId('person-form-save'));
    expect((await screen.findByTestId('person-form-error')).textContent).toContain('サーバーに接続できません。');
    expect((screen.getByTestId('person-form-name') as HTMLInputElement).value).toBe('新井 進');
  });
});
