// Unit tests of the quick 不在・置き手紙 capture: its request, and the flow on the person page
// (one tap opens the prefilled sheet, one tap saves: two taps).
import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { quickLetterRequest } from './quick';
import Person from './Person.svelte';
import { FakeBackend, samplePage } from '../../lib/api/fake';
import { setBackend } from '../../lib/api/backend';
import { loadReference } from '../../lib/session.svelte';

describe('quick 不在・置き手紙', () => {
  it('records a visit with the letter left, now, by this user', () => {
    expect(quickLetterRequest('p1', { letter_text: '', note: '' })).toEqual({
      person: 'p1', at: null, channel: 'visit', outcome: 'letter_left', note: '', observations: null, stage: null,
      letter_text: null, next_step: null, next_due: null, staff: [],
    });
    expect(quickLetterRequest('p1', { letter_text: ' また来週伺います ', note: '郵便受けに入れた' })).toMatchObject({
      letter_text: 'また来週伺います', note: '郵便受けに入れた',
    });
  });

  it('takes two taps from the person page', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    await loadReference();
    let reloaded = 0;
    render(Person, { props: { page: samplePage('p1'), reload: async () => void reloaded++ } });

    await fireEvent.click(screen.getByTestId('person-quick-letter')); // tap 1
    const sheet = await screen.findByTestId('quick-sheet');
    expect(sheet.textContent).toContain('訪問');
    expect(sheet.textContent).toContain('手紙を置いた');
    await fireEvent.click(screen.getByTestId('quick-save')); // tap 2

    await waitFor(() => expect(fake.callsOf('add_contact')).toHaveLength(1));
    expect(fake.callsOf('add_contact')[0]).toMatchObject({ person: 'p1', channel: 'visit', outcome: 'letter_left' });
    await waitFor(() => expect(screen.queryByTestId('quick-sheet')).toBeNull());
    expect(reloaded).toBe(1);
    expect(await screen.findByTestId('person-saved')).toBeTruthy();
  });

  it('keeps the sheet and what was typed when saving fails', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    await loadReference();
    render(Person, { props: { page: samplePage('p1'), reload: async () => {} } });
    await fireEvent.click(screen.getByTestId('person-quick-letter'));
    const text = (await screen.findByTestId('quick-letter-text')) as HTMLTextAreaElement;
    await fireEvent.input(text, { target: { value: '社協の田中です' } });
    fake.failNext('add_contact', { code: 'read_only_case', message: 'read only', message_ja: 'このケースは閲覧のみです。', field: null, bad_input: true });
    await fireEvent.click(screen.getByTestId('quick-save'));
    expect((await screen.findByTestId('quick-error')).textContent).toContain('このケースは閲覧のみです。');
    expect((screen.getByTestId('quick-letter-text') as HTMLTextAreaElement).value).toBe('社協の田中です');
  });

  it('hides write actions on a read-only case and says why', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    await loadReference();
    const page = samplePage('p1');
    page.read_only = true;
    render(Person, { props: { page, reload: async () => {} } });
    expect(screen.getByTestId('person-read-only')).toBeTruthy();
    expect(screen.queryByTestId('person-quick-letter')).toBeNull();
    expect(screen.queryByTestId('person-add-contact')).toBeNull();
  });
});
