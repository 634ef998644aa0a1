// Unit tests of the person page's lifetime: opened on enter, closed on leave, and closed before
// the app locks.
import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import PersonScope from './PersonScope.svelte';
import { FakeBackend } from '../../lib/api/fake';
import { setBackend } from '../../lib/api/backend';
import { loadReference, lockNow, refreshStatus } from '../../lib/session.svelte';

describe('person page lifetime', () => {
  it('opens on enter and closes on leave', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    await loadReference();
    const view = render(PersonScope, { props: { route: { name: 'person', id: 'p1' } } });
    expect(await screen.findByTestId('screen-person')).toBeTruthy();
    expect(fake.callsOf('open_person')).toEqual([{ id: 'p1' }]);
    view.unmount();
    await waitFor(() => expect(fake.callsOf('close_person')).toHaveLength(1));
  });

  it('closes the page before locking', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    await refreshStatus();
    await loadReference();
    render(PersonScope, { props: { route: { name: 'person', id: 'p1' } } });
    await screen.findByTestId('screen-person');
    await lockNow();
    const order = fake.calls.map((c) => c.command).filter((c) => c === 'close_person' || c === 'lock');
    expect(order).toEqual(['close_person', 'lock']);
  });

  it('shows the error and a retry when the person cannot be opened', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    await loadReference();
    fake.failNext('open_person', { code: 'unknown_person', message: '', message_ja: '指定された対象者が見つかりません。', field: 'person', bad_input: true });
    render(PersonScope, { props: { route: { name: 'person', id: 'nobody' } } });
    expect((await screen.findByTestId('person-open-error')).textContent).toContain('指定された対象者が見つかりません。');
    expect(screen.getByTestId('person-open-retry')).toBeTruthy();
  });
});
