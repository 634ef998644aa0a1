// What the sync indicator shows, derived from the backend's SyncView.
import type { SyncProgress, SyncView } from './api/types';

/** The indicator's look: one tone at a time, most urgent first. */
export type SyncTone = 'running' | 'error' | 'offline' | 'pending' | 'synced' | 'never' | 'not_enrolled';

export interface SyncDisplay {
  tone: SyncTone;
  /** Show the offline banner. */
  offline: boolean;
  /** Records not yet on the server. */
  pending: number;
  /** The plain-Japanese error, when the last attempt failed. */
  error: string | null;
  /** A running sync's progress, when it reports one. */
  progress: {
    done: number;
    total: number;
    percent: number | null;
    eta: number | null;
    phase: SyncProgress['phase'];
    /** First sync, and the worker's own cases are already usable. */
    ownCasesReady: boolean;
  } | null;
  /** Records refused (kept aside). */
  refused: number;
  /** Devices whose changes are known to exist but have not arrived: whose, and how many. */
  missing: { name: string | null; count: number }[];
  /** The server was caught lying (a fork, a replay, a cursor rolled back): tell IT. */
  integrity: boolean;
  lastSuccess: string | null;
  /** The backend's one line. */
  message: string;
  /** "Sync now" makes sense (enrolled and not running). */
  canSync: boolean;
}

/** Derives the indicator from a SyncView. */
export function describeSync(v: SyncView): SyncDisplay {
  const state = v.state;
  const offline = state === 'offline';
  let tone: SyncTone;
  if (v.running) tone = 'running';
  else if (state === 'error') tone = 'error';
  else if (offline) tone = 'offline';
  else if (state === 'pending' || v.pending > 0) tone = state === 'never' ? 'never' : 'pending';
  else if (state === 'never') tone = 'never';
  else if (state === 'not_enrolled' || !v.enrolled) tone = 'not_enrolled';
  else tone = 'synced';
  const p = v.running ? v.progress : null;
  return {
    tone,
    offline,
    pending: v.pending,
    error: v.error_ja ?? null,
    progress: p
      ? {
          done: p.done,
          total: p.total,
          percent: p.total > 0 ? Math.min(100, Math.round((p.done / p.total) * 100)) : null,
          eta: p.eta_seconds ?? null,
          phase: p.phase,
          ownCasesReady: p.first_sync && p.own_cases_ready,
        }
      : null,
    refused: v.refused,
    missing: v.missing.filter((m) => m.count > 0).map((m) => ({ name: m.user_name ?? null, count: m.count })),
    integrity: v.warnings.length > 0,
    lastSuccess: v.last_success ?? null,
    message: v.message_ja,
    canSync: v.enrolled && !v.running,
  };
}

/** How often the indicator asks the backend. */
export const SYNC_POLL_MS = 2000;
