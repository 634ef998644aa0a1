// Unit tests of the root: the phase decides the screen, the unlocked app starts on 今日の予定 with
// the sync indicator, and the idle lock closes the open record before locking.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import App from './App.svelte';
import { FakeBackend } from './lib/api/fake';
import { setBackend } from './lib/api/backend';
import type { Phase } from './lib/api/types';

function start(phase: Phase, over: Partial<FakeBackend['status']> = {}) {
  const fake = new FakeBackend();
  fake.status = { ...fake.status, phase, ...over };
  setBackend(fake.asBackend());
  render(App);
  return fake;
}

afterEach(() => {
  vi.useRealTimers();
  location.hash = '';
});

describe('app', () => {
  it.each([
    ['setup', 'screen-enroll'],
    ['locked', 'screen-lock'],
    ['disabled', 'screen-disabled'],
    ['unlocked', 'screen-today'],
  ] as const)('phase %s shows %s', async (phase, testid) => {
    start(phase);
    expect(await screen.findByTestId(testid)).toBeTruthy();
  });

  it('shows the sync indicator and navigation when unlocked', async () => {
    start('unlocked');
    expect(await screen.findByTestId('sync-indicator')).toBeTruthy();
    expect(screen.getByTestId('nav-cases')).toBeTruthy();
    expect(document.documentElement.lang).toBe('ja');
  });

  it('locks after the idle minutes, closing the open record first', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    location.hash = '#/person/p1';
    const fake = start('unlocked', { idle_lock_minutes: 1 });
    await screen.findByTestId('screen-person');
    await vi.advanceTimersByTimeAsync(61_000);
    expect(await screen.findByTestId('screen-lock')).toBeTruthy();
    const order = fake.calls.map((c) => c.command).filter((c) => c === 'close_person' || c === 'lock');
    expect(order).toEqual(['close_person', 'lock']);
  });

  it('shows an error and a retry when the status cannot be read', async () => {
    const fake = new FakeBackend();
    fake.failNext('status', { code: 'io', message: '', message_ja: 'ファイルの読み書きに失敗しました。', field: null, bad_input: false });
    setBackend(fake.asBackend());
    render(App);
    await waitFor(() => expect(screen.getByTestId('screen-start-error').textContent).toContain('ファイルの読み書きに失敗しました。'));
  });
});
