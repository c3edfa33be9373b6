// The app's screens: lobby → meeting → (leave) lobby, or → error screen when joining or the session fails.
import type { Room } from '@kite/client';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ErrorScreen } from './components/ErrorScreen';
import { PreJoin, type JoinRequest } from './components/PreJoin';
import { RoomView } from './components/RoomView';
import { Toasts, type ToastItem } from './components/Toasts';
import { copyText } from './lib/clipboard';
import { classifyError, type Failure } from './lib/errors';
import { inviteLink, makeIdentity, roomFromLocation, tabSuffix } from './lib/names';
import { MeetSession, type ToastKind } from './lib/session';
import { fetchToken } from './lib/token';

declare global {
  interface Window {
    /** For tests and the console: the current (or last) Room. */
    kiteMeet?: { room?: Room };
  }
}

type Screen = { kind: 'prejoin' } | { kind: 'room'; session: MeetSession } | { kind: 'error'; failure: Failure; retry?: JoinRequest };

const TOAST_MS = 4000;

export function App() {
  const [screen, setScreen] = useState<Screen>({ kind: 'prejoin' });
  const [joining, setJoining] = useState(false);
  const [toasts, setToasts] = useState<ToastItem[]>([]);
  const [manualCopy, setManualCopy] = useState<string>();
  const [lastRoom, setLastRoom] = useState(() => roomFromLocation(location.search, location.hash));
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const seq = useRef(0);
  const current = useRef<MeetSession | undefined>(undefined);

  const dismiss = useCallback((id: string) => {
    clearTimeout(timers.current.get(id));
    timers.current.delete(id);
    setToasts((list) => list.filter((t) => t.id !== id));
  }, []);

  const toast = useCallback(
    (text: string, kind: ToastKind = 'info', opts: { id?: string; sticky?: boolean } = {}) => {
      const id = opts.id ?? `t${++seq.current}`;
      const item: ToastItem = { id, text, kind, sticky: !!opts.sticky };
      setToasts((list) => [...list.filter((t) => t.id !== id), item].slice(-5));
      clearTimeout(timers.current.get(id));
      timers.current.delete(id);
      if (!item.sticky) timers.current.set(id, setTimeout(() => dismiss(id), TOAST_MS));
    },
    [dismiss],
  );

  const join = async (req: JoinRequest) => {
    setJoining(true);
    setLastRoom(req.room);
    const identity = makeIdentity(req.name, tabSuffix());
    let session: MeetSession | undefined;
    try {
      const { token, url } = await fetchToken(req.room, identity, req.name);
      const s = new MeetSession(req.room, { toast, ended: (f) => ended(s, f) }, { camera: req.cameraDevice, mic: req.micDevice });
      session = s;
      current.current = s;
      window.kiteMeet = { room: s.room };
      await s.connect(url, token, req);
      history.replaceState(history.state, '', inviteLink(location.href, req.room));
      setScreen({ kind: 'room', session: s });
    } catch (err) {
      req.camera?.stop();
      req.mic?.stop();
      if (current.current === session) current.current = undefined;
      setScreen({ kind: 'error', failure: classifyError(err), retry: { ...req, camera: undefined, mic: undefined } });
    } finally {
      setJoining(false);
    }
  };

  const ended = (s: MeetSession, f: Failure | undefined) => {
    if (current.current !== s) return;
    current.current = undefined;
    dismiss('reconnect');
    if (f) setScreen({ kind: 'error', failure: f, retry: undefined });
    else {
      setScreen({ kind: 'prejoin' });
      toast('You left the meeting', 'info');
    }
  };

  const copyInvite = async (link: string) => {
    if (await copyText(link)) toast('Invite link copied to the clipboard', 'success');
    else setManualCopy(link);
  };

  // Closing the tab leaves the room at once (the others see us go now, not after a timeout).
  useEffect(() => {
    const bye = () => void current.current?.room.disconnect();
    window.addEventListener('pagehide', bye);
    return () => window.removeEventListener('pagehide', bye);
  }, []);

  return (
    <>
      {screen.kind === 'prejoin' && <PreJoin initialRoom={lastRoom} joining={joining} onJoin={(r) => void join(r)} />}
      {screen.kind === 'room' && <RoomView session={screen.session} copyInvite={(l) => void copyInvite(l)} onLeave={() => void screen.session.leave()} />}
      {screen.kind === 'error' && (
        <ErrorScreen
          failure={screen.failure}
          onBack={() => setScreen({ kind: 'prejoin' })}
          onRetry={screen.retry && !joining ? () => void join(screen.retry!) : undefined}
        />
      )}
      <Toasts items={toasts} onDismiss={dismiss} />
      {manualCopy && <ManualCopy link={manualCopy} onClose={() => setManualCopy(undefined)} />}
    </>
  );
}

/** When the clipboard is out of reach: the link, selected, to copy by hand. */
function ManualCopy({ link, onClose }: { link: string; onClose: () => void }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    ref.current?.select();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-label="Invite link">
        <h2>Invite link</h2>
        <p class="muted-text">Copy this link and send it to the people you want to meet:</p>
        <input ref={ref} class="mono" readOnly value={link} data-testid="invite-link" onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <div class="modal-actions">
          <button type="button" class="button primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </div>
  );
}
