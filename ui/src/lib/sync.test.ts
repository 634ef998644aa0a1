// Unit tests of the sync indicator's states derived from SyncView.
import { describe, expect, it } from 'vitest';
import { describeSync } from './sync';
import { sampleSync } from './api/fake';

describe('sync indicator states', () => {
  it('synced', () => {
    const d = describeSync(sampleSync());
    expect(d.tone).toBe('synced');
    expect(d.offline).toBe(false);
    expect(d.canSync).toBe(true);
  });

  it('offline with pending records', () => {
    const d = describeSync(sampleSync({ state: 'offline', pending: 3 }));
    expect(d.tone).toBe('offline');
    expect(d.offline).toBe(true);
    expect(d.pending).toBe(3);
  });

  it('pending', () => {
    expect(describeSync(sampleSync({ state: 'pending', pending: 2 })).tone).toBe('pending');
  });

  it('error with the plain-Japanese message', () => {
    const d = describeSync(sampleSync({ state: 'error', error_code: 'server_refused', error_ja: 'サーバーが受け付けませんでした。' }));
    expect(d.tone).toBe('error');
    expect(d.error).toBe('サーバーが受け付けませんでした。');
  });

  it('running with progress and the time left', () => {
    const d = describeSync(sampleSync({
      running: true, state: 'pending', pending: 5,
      progress: { phase: 'pull', done: 250, total: 1000, eta_seconds: 90, first_sync: false, own_cases_ready: true },
    }));
    expect(d.tone).toBe('running');
    expect(d.canSync).toBe(false);
    expect(d.progress).toEqual({ done: 250, total: 1000, percent: 25, eta: 90, phase: 'pull', ownCasesReady: false });
  });

  it('running without a known total or pace', () => {
    const d = describeSync(sampleSync({
      running: true, progress: { phase: 'keys', done: 0, total: 0, eta_seconds: null, first_sync: true, own_cases_ready: false },
    }));
    expect(d.progress?.percent).toBeNull();
    expect(d.progress?.eta).toBeNull();
  });
});
