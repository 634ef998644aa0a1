// Unit tests of the sync indicator component: offline banner, pending count, error, progress
// with the time left, and the sync-now and cancel commands.
import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import SyncIndicator from './SyncIndicator.svelte';
import { FakeBackend, sampleSync } from '../api/fake';
import { setBackend } from '../api/backend';

function show(view: ReturnType<typeof sampleSync>) {
  const fake = new FakeBackend();
  fake.sync = view;
  setBackend(fake.asBackend());
  render(SyncIndicator, { props: { pollMs: 60_000 } });
  return fake;
}

describe('sync indicator', () => {
  it('shows the offline banner and the pending count', async () => {
    show(sampleSync({ state: 'offline', pending: 3 }));
    expect(await screen.findByTestId('sync-offline-banner')).toBeTruthy();
    const pending = screen.getByTestId('sync-pending-count');
    expect(pending.getAttribute('data-count')).toBe('3');
    expect(pending.textContent).toContain('3');
    expect(screen.getByTestId('sync-indicator').getAttribute('data-state')).toBe('offline');
  });

  it('shows the plain-Japanese error', async () => {
    show(sampleSync({ state: 'error', error_code: 'server_refused', error_ja: 'サーバーが要求を受け付けませんでした。' }));
    expect((await screen.findByTestId('sync-error')).textContent).toBe('サーバーが要求を受け付けませんでした。');
    expect(screen.queryByTestId('sync-offline-banner')).toBeNull();
  });

  it('shows progress with done/total and the time left, and cancels', async () => {
    const fake = show(sampleSync({
      running: true, state: 'pending', pending: 12,
      progress: { phase: 'push', done: 340, total: 1200, eta_seconds: 95, first_sync: false, own_cases_ready: true },
    }));
    expect((await screen.findByTestId('sync-progress-count')).textContent).toContain('340 / 1200');
    expect(screen.getByTestId('sync-eta').textContent).toContain('約2分');
    expect(screen.queryByTestId('sync-now')).toBeNull();
    await fireEvent.click(screen.getByTestId('sync-cancel'));
    await waitFor(() => expect(fake.callsOf('cancel_sync')).toHaveLength(1));
  });

  it('shows no count for a step that has counted nothing yet', async () => {
    show(sampleSync({
      running: true, state: 'pending', pending: 0,
      progress: { phase: 'keys', done: 0, total: 0, eta_seconds: null, first_sync: true, own_cases_ready: false },
    }));
    expect((await screen.findByTestId('sync-progress')).getAttribute('data-phase')).toBe('keys');
    expect(screen.getByTestId('sync-progress').textContent).toContain('鍵の確認');
    expect(screen.queryByTestId('sync-progress-count')).toBeNull();
  });

  it('says whose changes are missing, and warns to contact IT when the server lied', async () => {
    show(sampleSync({
      missing: [{ device: 'd1', user_name: '山田 花子', count: 2, cases: 1 }],
      warnings: [{ kind: 'fork', user_name: '山田 花子', count: 1, last_at: '2026-12-02T08:15:00+09:00' }],
    }));
    const missing = await screen.findByTestId('sync-missing');
    expect(missing.textContent).toContain('山田 花子さんの端末からの変更が一部届いていません（2件）');
    expect(missing.getAttribute('data-count')).toBe('2');
    expect(screen.getByTestId('sync-integrity').textContent).toContain('情報システム担当に連絡してください');
  });

  it('shows nothing missing once it has arrived', async () => {
    show(sampleSync());
    await screen.findByTestId('sync-last');
    expect(screen.queryByTestId('sync-missing')).toBeNull();
    expect(screen.queryByTestId('sync-integrity')).toBeNull();
  });

  it('syncs now on request and shows the last sync', async () => {
    const fake = show(sampleSync());
    expect((await screen.findByTestId('sync-last')).textContent).toContain('2026年12月2日（水） 08:15');
    await fireEvent.click(screen.getByTestId('sync-now'));
    await waitFor(() => expect(fake.callsOf('sync_now')).toHaveLength(1));
  });
});
