// The real backend: each method invokes the Tauri command of the same name with `{ req }`.
import { invoke } from '@tauri-apps/api/core';
import type { Backend } from './backend';

type AnyFn = (req?: unknown) => Promise<unknown>;

// Commands that take no argument; every other command takes one argument named `req`.
const NO_ARG = new Set<keyof Backend>([
  'status', 'check_approval', 'check_in', 'lock', 'reference', 'conflicts', 'drafts', 'sync_status',
  'sync_now', 'cancel_sync',
]);

const COMMANDS: (keyof Backend)[] = [
  'status', 'inspect_bundle', 'enroll', 'check_approval', 'unlock', 'check_in', 'lock', 'change_pin',
  'reference', 'instrument_form', 'score', 'caseload', 'search', 'open_person', 'refresh_person',
  'close_person',
  'access_log', 'conflicts', 'today', 'add_person', 'edit_person', 'add_contact', 'edit_contact',
  'add_assessment', 'add_plan', 'edit_plan', 'move_plan', 'plan_meeting', 'save_household',
  'add_meeting', 'add_consent', 'withdraw_consent', 'share_case', 'resolve_conflict',
  'save_draft', 'draft', 'drafts', 'discard_draft', 'sync_status', 'sync_now', 'cancel_sync',
];

function command(name: keyof Backend): AnyFn {
  return NO_ARG.has(name) ? () => invoke(name) : (req?: unknown) => invoke(name, { req });
}

/** Builds the Tauri backend. */
export function tauriBackend(): Backend {
  const impl: Record<string, AnyFn> = {};
  for (const name of COMMANDS) impl[name] = command(name);
  return impl as unknown as Backend;
}

/** The command list, exported so a test can check it names every method of `Backend`. */
export const TAURI_COMMANDS: readonly (keyof Backend)[] = COMMANDS;
