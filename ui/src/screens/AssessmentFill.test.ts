// Unit tests of the assessment form: each answer is scored by the backend, the partial total
// is shown as "so far", and the self-harm alert shows as soon as item 10 is answered.
import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import AssessmentFill from './AssessmentFill.svelte';
import { FakeBackend, samplePage } from '../lib/api/fake';
import { setBackend } from '../lib/api/backend';
import { loadReference } from '../lib/session.svelte';

async function setup() {
  const fake = new FakeBackend();
  setBackend(fake.asBackend());
  await loadReference();
  let done = 0;
  render(AssessmentFill, { props: { page: samplePage('p3'), instrument: 'epds', done: async () => void done++, back: '#/person/p3' } });
  await screen.findAllByTestId('assessment-item');
  return { fake, done: () => done };
}

describe('assessment form', () => {
  it('scores after each answer and shows the partial total as so far', async () => {
    const { fake } = await setup();
    await waitFor(() => expect(fake.callsOf('score')).toHaveLength(1));
    await fireEvent.click(screen.getByTestId('assessment-item-1-2'));
    await waitFor(() => expect(fake.callsOf('score')).toHaveLength(2));
    const last = fake.callsOf('score')[1] as { instrument: string; answers: (string | null)[] };
    expect(last.instrument).toBe('epds');
    expect(last.answers).toEqual(['2', null, null, null, null, null, null, null, null, null]);
    expect((await screen.findByTestId('assessment-partial')).textContent).toContain('2');
    expect(screen.getByTestId('assessment-incomplete')).toBeTruthy();
    expect(screen.queryByTestId('assessment-total')).toBeNull();
  });

  it('shows the self-harm alert as soon as item 10 is answered', async () => {
    await setup();
    expect(screen.queryByTestId('assessment-alert')).toBeNull();
    await fireEvent.click(screen.getByTestId('assessment-item-10-0')); // item 10 is reverse scored: 3 points
    const alert = await screen.findByTestId('assessment-alert');
    expect(alert.getAttribute('data-key')).toBe('self_harm');
    expect(alert.getAttribute('role')).toBe('alert');
  });

  it('shows the complete total and the band, and saves the answers', async () => {
    const { fake, done } = await setup();
    for (let n = 1; n <= 10; n++) await fireEvent.click(screen.getByTestId(`assessment-item-${n}-1`));
    await waitFor(() => expect(screen.getByTestId('assessment-total')).toBeTruthy());
    // Items 1, 2, 4 give 1 point each; the reverse-scored others give 2: 3 + 14 = 17.
    expect(screen.getByTestId('assessment-total').textContent).toBe('17');
    expect(screen.getByTestId('assessment-band').getAttribute('data-key')).toBe('possible_depression');
    await fireEvent.click(screen.getByTestId('assessment-save'));
    await waitFor(() => expect(done()).toBe(1));
    expect(fake.callsOf('add_assessment')[0]).toMatchObject({ person: 'p3', instrument: 'epds', answers: Array(10).fill('1') });
    expect(fake.callsOf('discard_draft')).toContainEqual({ key: 'assessment:p3:epds' });
  });
});
