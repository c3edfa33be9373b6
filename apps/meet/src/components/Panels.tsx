// The side panels (chat, participants), the device settings popover and the remote audio players.
import { Track, type RemoteTrack } from '@kite/client';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useDevices, type MediaDeviceInfoLike } from '../lib/hooks';
import { displayName, type MeetSession } from '../lib/session';
import { Avatar, QualityBars } from './Tile';
import { CameraIcon, CameraOffIcon, CloseIcon, MicIcon, MicOffIcon, ScreenIcon, SendIcon } from './icons';

function PanelHeader({ title, onClose }: { title: string; onClose: () => void }) {
  return (
    <header class="panel-header">
      <h2>{title}</h2>
      <button type="button" class="icon-button" onClick={onClose} aria-label={`Close ${title.toLowerCase()}`} title="Close">
        <CloseIcon size={18} />
      </button>
    </header>
  );
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function ChatPanel({ session, onClose }: { session: MeetSession; onClose: () => void }) {
  const [text, setText] = useState('');
  const listRef = useRef<HTMLOListElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const messages = session.chat;

  useEffect(() => {
    session.setChatOpen(true);
    inputRef.current?.focus();
    return () => session.setChatOpen(false);
  }, [session]);

  // Keep the newest message in view (unless the reader scrolled up).
  const last = messages[messages.length - 1];
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const nearBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    if (nearBottom || last?.local) el.scrollTop = el.scrollHeight;
  }, [messages.length, last?.text]);

  const send = (e?: Event) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t) return;
    setText('');
    void session.sendChat(t);
    inputRef.current?.focus();
  };

  return (
    <aside class="panel" data-testid="chat" aria-label="Chat">
      <PanelHeader title="Chat" onClose={onClose} />
      <ol class="chat-list" ref={listRef}>
        {messages.length === 0 && <li class="empty">No messages yet. Say hello!</li>}
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const grouped = prev && prev.from === m.from && m.ts - prev.ts < 60_000;
          return (
            <li key={m.key} class={`chat-message${m.local ? ' mine' : ''}${grouped ? ' grouped' : ''}${m.failed ? ' failed' : ''}`} data-testid="chat-message" data-from={m.from}>
              {!grouped && (
                <div class="chat-meta">
                  <span class="chat-from">{m.local ? 'You' : m.name}</span>
                  <time>{timeFmt.format(m.ts)}</time>
                </div>
              )}
              <div class="chat-text">{m.text}</div>
              {m.failed && <div class="chat-error">Not sent</div>}
            </li>
          );
        })}
      </ol>
      <form class="chat-form" onSubmit={send}>
        <textarea
          ref={inputRef}
          data-testid="chat-input"
          rows={1}
          maxLength={2000}
          placeholder="Send a message"
          aria-label="Message"
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
          }}
        />
        <button type="submit" class="send-button" data-testid="chat-send" disabled={!text.trim()} aria-label="Send" title="Send">
          <SendIcon size={18} />
        </button>
      </form>
    </aside>
  );
}

export function ParticipantsPanel({ session, onClose }: { session: MeetSession; onClose: () => void }) {
  const people = session.participants();
  return (
    <aside class="panel" aria-label="Participants">
      <PanelHeader title={`Participants (${people.length})`} onClose={onClose} />
      <ul class="people" data-testid="participant-list">
        {people.map((p) => {
          const mic = p.getTrackPublication(Track.Source.Microphone);
          const cam = p.getTrackPublication(Track.Source.Camera);
          const micOn = !!mic && !mic.isMuted;
          const camOn = p.isLocal ? session.cameraOn : !!cam && !cam.isMuted;
          return (
            <li key={p.identity} class={`person${p.isSpeaking ? ' speaking' : ''}`} data-testid="participant-item" data-identity={p.identity}>
              <Avatar name={displayName(p)} identity={p.identity} size="32px" />
              <span class="person-name">
                {displayName(p)}
                {p.isLocal && <span class="muted-text"> (you)</span>}
              </span>
              <span class="person-icons">
                {p.isScreenShareEnabled && (
                  <span title="Sharing screen" class="accent-text">
                    <ScreenIcon size={16} />
                  </span>
                )}
                <span title={camOn ? 'Camera on' : 'Camera off'} class={camOn ? '' : 'off'}>
                  {camOn ? <CameraIcon size={16} /> : <CameraOffIcon size={16} />}
                </span>
                <span title={micOn ? 'Microphone on' : 'Microphone off'} class={micOn ? '' : 'off'}>
                  {micOn ? <MicIcon size={16} /> : <MicOffIcon size={16} />}
                </span>
                <QualityBars quality={p.connectionQuality} />
              </span>
            </li>
          );
        })}
      </ul>
    </aside>
  );
}

export function DeviceSelect({
  label,
  devices,
  value,
  onChange,
  testId,
  disabled,
}: {
  label: string;
  devices: MediaDeviceInfoLike[];
  value: string | undefined;
  onChange: (id: string) => void;
  testId?: string;
  disabled?: boolean;
}) {
  const known = devices.some((d) => d.deviceId === value);
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      <select data-testid={testId} value={known ? value : ''} disabled={disabled || devices.length === 0} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {!known && <option value="">{devices.length ? 'Default' : 'No device found'}</option>}
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
      </select>
    </label>
  );
}

const canPickOutput = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export function SettingsPopover({ session, onClose, output, onOutput }: { session: MeetSession; onClose: () => void; output: string | undefined; onOutput: (id: string) => void }) {
  const devices = useDevices(session.cameraOn || session.micOn);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onDown = (e: PointerEvent) => {
      const t = e.target as Element;
      if (!ref.current?.contains(t) && !t.closest?.('[data-settings-toggle]')) onClose();
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    document.addEventListener('pointerdown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [onClose]);
  return (
    <div class="popover" ref={ref} role="dialog" aria-label="Device settings" data-testid="settings">
      <h3>Devices</h3>
      <DeviceSelect label="Camera" testId="camera-select" devices={devices.videoinput} value={session.currentDevice('videoinput')} onChange={(id) => void session.switchDevice('videoinput', id)} />
      <DeviceSelect label="Microphone" testId="mic-select" devices={devices.audioinput} value={session.currentDevice('audioinput')} onChange={(id) => void session.switchDevice('audioinput', id)} />
      {canPickOutput && devices.audiooutput.length > 0 && <DeviceSelect label="Speaker" testId="speaker-select" devices={devices.audiooutput} value={output} onChange={onOutput} />}
    </div>
  );
}

/** Plays one remote audio track (every remote microphone plays, whatever page its tile is on). */
function AudioTrack({ track, sinkId }: { track: RemoteTrack; sinkId?: string }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    track.attach(el);
    return () => {
      track.detach(el);
    };
  }, [track]);
  useEffect(() => {
    const el = ref.current as (HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> }) | null;
    if (el?.setSinkId && sinkId !== undefined) void el.setSinkId(sinkId).catch(() => undefined);
  }, [sinkId, track]);
  return <audio ref={ref} autoplay />;
}

export function RemoteAudio({ session, sinkId }: { session: MeetSession; sinkId?: string }) {
  const tracks: RemoteTrack[] = [];
  for (const p of session.room.remoteParticipants.values()) {
    for (const pub of p.trackPublications.values()) if (pub.kind === Track.Kind.Audio && pub.track) tracks.push(pub.track);
  }
  return (
    <div class="audio-sink" aria-hidden="true">
      {tracks.map((t) => (
        <AudioTrack key={t.sid} track={t} sinkId={sinkId} />
      ))}
    </div>
  );
}
