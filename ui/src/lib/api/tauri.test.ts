// Unit tests of the Tauri backend: every Backend method invokes the command of its name, with
// the request as `req` (or no argument).
import { describe, expect, it, vi } from 'vitest';

const invoke = vi.fn(async (..._args: unknown[]) => null);
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));

const { tauriBackend, TAURI_COMMANDS } = await import('./tauri');
const { FakeBackend } = await import('./fake');

describe('tauri backend', () => {
  it('has a command for every method of the interface', () => {
    const methods = Object.keys(new FakeBackend().asBackend()).sort();
    expect([...TAURI_COMMANDS].sort()).toEqual(methods);
  });

  it('passes the request as req', async () => {
    const b = tauriBackend();
    await b.add_contact({ person: 'p1', at: null, channel: 'visit', outcome: 'letter_left', note: '', observations: null, stage: null, letter_text: null, next_step: null, next_due: null, staff: [] });
    expect(invoke).toHaveBeenLastCalledWith('add_contact', { req: expect.objectContaining({ person: 'p1', channel: 'visit' }) });
    await b.status();
    expect(invoke).toHaveBeenLastCalledWith('status');
  });

  it('passes the rejection through unchanged', async () => {
    const err = { code: 'wrong_pin', message: 'wrong', message_ja: '違います', field: 'pin', bad_input: true };
    invoke.mockRejectedValueOnce(err);
    await expect(tauriBackend().unlock({ pin: '1' })).rejects.toBe(err);
  });
});
