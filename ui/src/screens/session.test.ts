// Unit tests of the screens before unlock: enrollment (inspect, enroll, fingerprints, recovery
// code, approval; a server out of reach keeps everything typed and offers a retry) and the lock
// screen (wrong PIN with tries left, a disabled device, the offline key lease run out, IT's
// longer PIN).
import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Enroll from './Enroll.svelte';
import Lock from './Lock.svelte';
import { apiError, FakeBackend } from '../lib/api/fake';
import { setBackend } from '../lib/api/backend';
import { refreshStatus, session } from '../lib/session.svelte';

describe('enrollment', () => {
  it('shows the bundle, enrolls, and shows fingerprints, the recovery code and approval', async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'setup' };
    setBackend(fake.asBackend());
    render(Enroll);
    await fireEvent.input(screen.getByTestId('enroll-bundle'), { target: { value: '{"bundle":1}' } });
    await fireEvent.click(screen.getByTestId('enroll-inspect'));
    expect((await screen.findByTestId('enroll-info-user')).textContent).toBe('田中 由美');
    await fireEvent.input(screen.getByTestId('enroll-pin'), { target: { value: '482915' } });
    await fireEvent.input(screen.getByTestId('enroll-pin-repeat'), { target: { value: '482915' } });
    await fireEvent.click(screen.getByTestId('enroll-submit'));
    expect((await screen.findByTestId('enroll-sig-fingerprint')).textContent).toBe('K7QF 2M9X 4T8P 1LZC');
    expect(screen.getByTestId('enroll-kem-fingerprint').textContent).toBe('Q3VN 8D2R 6W1J 5HYB');
    expect(screen.getByTestId('enroll-recovery-code').textContent).toBe('RCV-4821-9937-1150');
    expect(fake.callsOf('enroll')).toEqual([{ bundle: '{"bundle":1}', pin: '482915', pin_repeat: '482915' }]);
    await fireEvent.click(screen.getByTestId('enroll-check-approval'));
    expect(await screen.findByTestId('enroll-approved')).toBeTruthy();
  });

  it('keeps everything typed and offers a retry when the server is out of reach', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    render(Enroll);
    await fireEvent.input(screen.getByTestId('enroll-bundle'), { target: { value: 'B' } });
    await fireEvent.click(screen.getByTestId('enroll-inspect'));
    await screen.findByTestId('enroll-info');
    await fireEvent.input(screen.getByTestId('enroll-pin'), { target: { value: '482915' } });
    await fireEvent.input(screen.getByTestId('enroll-pin-repeat'), { target: { value: '482915' } });
    fake.failNext('enroll', apiError('unreachable', 'サーバーに接続できません。'));
    await fireEvent.click(screen.getByTestId('enroll-submit'));
    expect((await screen.findByTestId('enroll-error')).textContent).toContain('サーバーに接続できません。');
    const submit = screen.getByTestId('enroll-submit');
    expect(submit.getAttribute('data-retry')).toBe('true');
    expect((screen.getByTestId('enroll-bundle') as HTMLTextAreaElement).value).toBe('B');
    expect((screen.getByTestId('enroll-pin') as HTMLInputElement).value).toBe('482915');
    await fireEvent.click(submit);
    expect(await screen.findByTestId('enroll-result')).toBeTruthy();
  });

  it('marks the bundle when it cannot be read', async () => {
    const fake = new FakeBackend();
    setBackend(fake.asBackend());
    render(Enroll);
    await fireEvent.input(screen.getByTestId('enroll-bundle'), { target: { value: 'x' } });
    fake.failNext('inspect_bundle', apiError('bad_bundle', '登録用データ（バンドル）が正しくありません。'));
    await fireEvent.click(screen.getByTestId('enroll-inspect'));
    expect((await screen.findByTestId('enroll-bundle-error')).textContent).toContain('正しくありません');
  });
});

describe('lock screen', () => {
  it('shows the message and the tries left after a wrong PIN', async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'locked' };
    setBackend(fake.asBackend());
    await refreshStatus();
    render(Lock);
    expect(screen.getByTestId('lock-user').textContent).toBe('田中 由美');
    for (const d of '123456') await fireEvent.click(screen.getByTestId(`lock-key-${d}`));
    fake.failNext('unlock', apiError('wrong_pin', 'PINが違います。あと4回間違えるとロックされます。', 'pin'));
    await fireEvent.click(screen.getByTestId('lock-submit'));
    expect((await screen.findByTestId('lock-error')).textContent).toContain('PINが違います');
    await waitFor(() => expect(screen.getByTestId('lock-attempts-left').textContent).toContain('4'));
    expect(fake.callsOf('unlock')).toEqual([{ pin: '123456' }]);
  });

  it('unlocks with the right PIN', async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'locked' };
    setBackend(fake.asBackend());
    await refreshStatus();
    render(Lock);
    for (const d of '482915') await fireEvent.click(screen.getByTestId(`lock-key-${d}`));
    await fireEvent.click(screen.getByTestId('lock-submit'));
    await waitFor(() => expect(session.status?.phase).toBe('unlocked'));
  });

  it('says IT must re-enable a disabled device and nothing is lost', async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'disabled' };
    setBackend(fake.asBackend());
    await refreshStatus();
    render(Lock);
    expect(screen.getByTestId('screen-disabled')).toBeTruthy();
    expect(screen.getByTestId('lock-disabled').textContent).toContain('情報システム担当');
    expect(screen.queryByTestId('lock-submit')).toBeNull();
  });

  it('a device past its offline key lease shows the lease screen, checks in and opens', async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'locked', lease_days: 14 };
    setBackend(fake.asBackend());
    await refreshStatus();
    render(Lock);
    for (const d of '482915') await fireEvent.click(screen.getByTestId(`lock-key-${d}`));
    fake.failNext('unlock', apiError('lease_expired', '最後にサーバーと接続してから14日が過ぎたため、記録を開けません。'));
    // The backend keeps the key and says so in the status.
    fake.status = { ...fake.status, phase: 'lease_expired' };
    await fireEvent.click(screen.getByTestId('lock-submit'));
    const notice = await screen.findByTestId('lease-expired');
    expect(notice.textContent).toContain('14日が過ぎたため');
    expect(notice.textContent).toContain('未送信の記録は端末に残っています');
    expect(screen.queryByTestId('lock-submit')).toBeNull();
    expect(screen.queryByTestId('lease-error')).toBeNull();
    // Out of reach first: the message, and the button stays for another try.
    fake.failNext('check_in', apiError('unreachable', 'サーバーに接続できません。'));
    await fireEvent.click(screen.getByTestId('lease-check-in'));
    expect((await screen.findByTestId('lease-error')).textContent).toContain('サーバーに接続できません');
    expect(session.status?.phase).toBe('lease_expired');
    await fireEvent.click(screen.getByTestId('lease-check-in'));
    await waitFor(() => expect(session.status?.phase).toBe('unlocked'));
    expect(fake.callsOf('check_in')).toHaveLength(2);
  });

  it('a revoked device stays on the lease screen with the reason', async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'lease_expired', lease_days: 3 };
    setBackend(fake.asBackend());
    await refreshStatus();
    render(Lock);
    expect(screen.getByTestId('screen-lease')).toBeTruthy();
    expect(screen.getByTestId('lease-expired').textContent).toContain('3日が過ぎたため');
    fake.failNext('check_in', apiError('server_refused', 'この端末は無効化されています。情報システム担当に連絡してください（未送信の記録は端末に残っています）。'));
    await fireEvent.click(screen.getByTestId('lease-check-in'));
    expect((await screen.findByTestId('lease-error')).textContent).toContain('無効化');
    expect(session.status?.phase).toBe('lease_expired');
  });

  it("asks for IT's longer PIN, changes it and opens", async () => {
    const fake = new FakeBackend();
    fake.status = { ...fake.status, phase: 'locked', pin_min_digits: 8 };
    setBackend(fake.asBackend());
    await refreshStatus();
    render(Lock);
    for (const d of '482915') await fireEvent.click(screen.getByTestId(`lock-key-${d}`));
    fake.failNext('unlock', apiError('pin_change_required', '情報システム担当の設定により、この端末のPINは8桁以上が必要です。', 'pin'));
    await fireEvent.click(screen.getByTestId('lock-submit'));
    expect((await screen.findByTestId('pin-change')).textContent).toContain('8桁以上');
    await fireEvent.input(screen.getByTestId('pin-change-current'), { target: { value: '482915' } });
    await fireEvent.input(screen.getByTestId('pin-change-new'), { target: { value: '48291537' } });
    await fireEvent.input(screen.getByTestId('pin-change-repeat'), { target: { value: '48291537' } });
    await fireEvent.click(screen.getByTestId('pin-change-submit'));
    await waitFor(() => expect(session.status?.phase).toBe('unlocked'));
    expect(fake.callsOf('change_pin')).toEqual([{ current: '482915', new_pin: '48291537', new_pin_repeat: '48291537' }]);
    expect(fake.callsOf('unlock')).toEqual([{ pin: '482915' }, { pin: '48291537' }]);
  });
});
