// The lobby: name, room, camera/microphone preview with device pickers, join with camera or mic off.
import { createLocalAudioTrack, createLocalVideoTrack, type LocalAudioTrack, type LocalTrack, type LocalVideoTrack } from '@kite/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useAudioLevel, useDevices } from '../lib/hooks';
import { generateRoomName, load, normalizeRoomName, save } from '../lib/names';
import { DeviceSelect } from './Panels';
import { Avatar } from './Tile';
import { CameraIcon, CameraOffIcon, KiteLogo, MicIcon, MicOffIcon } from './icons';

export interface JoinRequest {
  name: string;
  room: string;
  cameraOn: boolean;
  micOn: boolean;
  /** Preview tracks handed over to the room (published as they are). */
  camera?: LocalVideoTrack;
  mic?: LocalAudioTrack;
  cameraDevice?: string;
  micDevice?: string;
}

export interface PreJoinProps {
  initialRoom: string;
  joining: boolean;
  onJoin: (req: JoinRequest) => void;
}

function describeMediaError(err: unknown): string {
  const e = err as Error;
  switch (e?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Permission denied. Allow access in the browser to preview.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No device found.';
    case 'NotReadableError':
      return 'The device is in use by another application.';
    default:
      return typeof navigator.mediaDevices === 'undefined' ? 'Media devices need a secure (https) page.' : e?.message || String(err);
  }
}

/** A preview track for `kind` while `on`, recaptured when the device changes; stopped unless handed over. */
function usePreviewTrack<T extends LocalTrack>(on: boolean, deviceId: string | undefined, create: (deviceId?: string) => Promise<T>, handedOver: { current: Set<LocalTrack> }) {
  const [track, setTrack] = useState<T>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    setTrack(undefined);
    setError(undefined);
    if (!on) return;
    let cancelled = false;
    let created: T | undefined;
    create(deviceId).then(
      (t) => {
        if (cancelled) {
          t.stop();
          return;
        }
        created = t;
        setTrack(t);
      },
      (err: unknown) => !cancelled && setError(describeMediaError(err)),
    );
    return () => {
      cancelled = true;
      if (created && !handedOver.current.has(created)) created.stop();
    };
  }, [on, deviceId]);
  return { track, error };
}

export function PreJoin({ initialRoom, joining, onJoin }: PreJoinProps) {
  const [name, setName] = useState(() => load('name') ?? '');
  const [room, setRoom] = useState(() => initialRoom || generateRoomName());
  const [cameraOn, setCameraOn] = useState(true);
  const [micOn, setMicOn] = useState(true);
  const [cameraDevice, setCameraDevice] = useState(() => load('cameraDevice'));
  const [micDevice, setMicDevice] = useState(() => load('micDevice'));
  const [nameError, setNameError] = useState(false);
  const handedOver = useRef(new Set<LocalTrack>());
  const videoRef = useRef<HTMLVideoElement>(null);
  const nameRef = useRef<HTMLInputElement>(null);

  const video = usePreviewTrack(cameraOn, cameraDevice, (deviceId) => createLocalVideoTrack(deviceId ? { deviceId } : {}), handedOver);
  const audio = usePreviewTrack(micOn, micDevice, (deviceId) => createLocalAudioTrack(deviceId ? { deviceId } : {}), handedOver);
  // Labels and ids are only listed once a capture was allowed: list again when a preview starts.
  const devices = useDevices(`${!!video.track}/${!!audio.track}`);
  const level = useAudioLevel(audio.track?.mediaStreamTrack as MediaStreamTrack | undefined);

  useEffect(() => {
    const el = videoRef.current;
    const t = video.track;
    if (!el || !t) return;
    el.defaultMuted = true;
    t.attach(el);
    return () => {
      t.detach(el);
    };
  }, [video.track]);

  useEffect(() => {
    if (!name) nameRef.current?.focus();
  }, []);

  const liveDevice = (t: LocalTrack | undefined) => (t?.mediaStreamTrack as MediaStreamTrack | undefined)?.getSettings?.().deviceId;

  const submit = (e: Event) => {
    e.preventDefault();
    if (joining) return;
    const n = name.trim().slice(0, 64);
    if (!n) {
      setNameError(true);
      nameRef.current?.focus();
      return;
    }
    const r = normalizeRoomName(room) || generateRoomName();
    setRoom(r);
    save('name', n);
    const camera = cameraOn ? video.track : undefined;
    const mic = micOn ? audio.track : undefined;
    if (camera) handedOver.current.add(camera);
    if (mic) handedOver.current.add(mic);
    onJoin({ name: n, room: r, cameraOn, micOn, camera, mic, cameraDevice: cameraDevice ?? liveDevice(camera), micDevice: micDevice ?? liveDevice(mic) });
  };

  const chooseCamera = (id: string) => {
    setCameraDevice(id || undefined);
    save('cameraDevice', id || undefined);
  };
  const chooseMic = (id: string) => {
    setMicDevice(id || undefined);
    save('micDevice', id || undefined);
  };

  return (
    <div class="prejoin-screen" data-testid="prejoin">
      <div class="prejoin">
        <section class="preview-pane">
          <div class={`preview${video.track ? ' live' : ''}`}>
            <video ref={videoRef} class="mirror" data-testid="preview-video" autoplay muted playsInline />
            {!video.track && (
              <div class="preview-off">
                {name.trim() ? <Avatar name={name} identity={name.trim().toLowerCase()} size="88px" /> : <CameraOffIcon size={40} />}
                <span>{cameraOn ? (video.error ?? 'Starting camera…') : 'Camera is off'}</span>
              </div>
            )}
            <div class="preview-controls">
              <button
                type="button"
                class={`round${micOn ? '' : ' off'}`}
                data-testid="toggle-mic"
                data-enabled={String(micOn)}
                aria-pressed={micOn}
                aria-label={micOn ? 'Turn microphone off' : 'Turn microphone on'}
                title={micOn ? 'Turn microphone off' : 'Turn microphone on'}
                disabled={joining}
                onClick={() => setMicOn((v) => !v)}
              >
                {micOn ? <MicIcon /> : <MicOffIcon />}
              </button>
              <button
                type="button"
                class={`round${cameraOn ? '' : ' off'}`}
                data-testid="toggle-camera"
                data-enabled={String(cameraOn)}
                aria-pressed={cameraOn}
                aria-label={cameraOn ? 'Turn camera off' : 'Turn camera on'}
                title={cameraOn ? 'Turn camera off' : 'Turn camera on'}
                disabled={joining}
                onClick={() => setCameraOn((v) => !v)}
              >
                {cameraOn ? <CameraIcon /> : <CameraOffIcon />}
              </button>
            </div>
            {micOn && audio.track && (
              <div class="mic-meter" aria-label="Microphone level" title="Microphone level">
                {[0, 1, 2, 3, 4, 5, 6, 7].map((i) => (
                  <i key={i} class={level * 8 > i ? 'on' : ''} />
                ))}
              </div>
            )}
          </div>
          {micOn && audio.error && <p class="hint error">Microphone: {audio.error}</p>}
          <div class="device-row">
            <DeviceSelect label="Camera" testId="camera-select" devices={devices.videoinput} value={cameraDevice ?? liveDevice(video.track)} onChange={chooseCamera} disabled={joining} />
            <DeviceSelect label="Microphone" testId="mic-select" devices={devices.audioinput} value={micDevice ?? liveDevice(audio.track)} onChange={chooseMic} disabled={joining} />
          </div>
        </section>

        <form class="join-pane" onSubmit={submit}>
          <div class="brand big">
            <KiteLogo size={36} />
            <div>
              <h1>Kite Meet</h1>
              <p class="muted-text">Video meetings on Kite</p>
            </div>
          </div>
          <label class="field">
            <span class="field-label">Your name</span>
            <input
              ref={nameRef}
              data-testid="name-input"
              class={nameError ? 'invalid' : ''}
              type="text"
              autocomplete="name"
              maxLength={64}
              placeholder="e.g. Ada Lovelace"
              value={name}
              disabled={joining}
              onInput={(e) => {
                setName((e.target as HTMLInputElement).value);
                setNameError(false);
              }}
            />
            {nameError && <span class="hint error">Enter a name so others know who you are.</span>}
          </label>
          <label class="field">
            <span class="field-label">Room</span>
            <div class="input-with-button">
              <input
                data-testid="room-input"
                type="text"
                maxLength={64}
                spellcheck={false}
                autocapitalize="off"
                placeholder="room name"
                value={room}
                disabled={joining}
                onInput={(e) => setRoom((e.target as HTMLInputElement).value)}
              />
              <button type="button" class="button ghost small" onClick={() => setRoom(generateRoomName())} disabled={joining} title="Generate a new room name">
                New
              </button>
            </div>
            <span class="hint">Share the room name or the invite link to meet others.</span>
          </label>
          <button type="submit" class="button primary join" data-testid="join-button" disabled={joining}>
            {joining ? <span class="spinner" aria-hidden="true" /> : null}
            {joining ? 'Joining…' : 'Join meeting'}
          </button>
          <p class="hint center">
            {cameraOn ? 'Camera on' : 'Camera off'} · {micOn ? 'microphone on' : 'microphone off'}
          </p>
        </form>
      </div>
    </div>
  );
}
