import { Room } from '@kite/client';
import type { RefObject } from 'preact';
import { useEffect, useLayoutEffect, useReducer, useState } from 'preact/hooks';
import type { MeetSession } from './session';

/** Re-renders the caller whenever the session reports a change; returns a counter that changes with it. */
export function useSession(session: MeetSession): number {
  const [version, bump] = useReducer((n: number, _: void) => n + 1, 0);
  useEffect(() => session.subscribe(() => bump()), [session]);
  return version;
}

export interface Size {
  width: number;
  height: number;
}

/** The content-box size of an element, kept up to date with a ResizeObserver. */
export function useElementSize(ref: RefObject<HTMLElement | null>): Size {
  const [size, setSize] = useState<Size>({ width: 0, height: 0 });
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => {
      const r = el.getBoundingClientRect();
      setSize((s) => (Math.round(s.width) === Math.round(r.width) && Math.round(s.height) === Math.round(r.height) ? s : { width: r.width, height: r.height }));
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return size;
}

export interface DeviceLists {
  videoinput: MediaDeviceInfoLike[];
  audioinput: MediaDeviceInfoLike[];
  audiooutput: MediaDeviceInfoLike[];
}

export interface MediaDeviceInfoLike {
  deviceId: string;
  label: string;
  kind: string;
}

const EMPTY: DeviceLists = { videoinput: [], audioinput: [], audiooutput: [] };

/**
 * The capture devices (Room.getLocalDevices), listed again on `devicechange` and whenever `refresh` changes — call
 * it with a value that changes once permission was granted, when labels become available.
 */
export function useDevices(refresh: unknown): DeviceLists {
  const [lists, setLists] = useState<DeviceLists>(EMPTY);
  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const all = await Room.getLocalDevices();
        if (!alive) return;
        const pick = (kind: string) => all.filter((d) => d.kind === kind && d.deviceId !== '' && d.deviceId !== 'communications');
        setLists({ videoinput: pick('videoinput'), audioinput: pick('audioinput'), audiooutput: pick('audiooutput') });
      } catch {
        // no mediaDevices (insecure origin): nothing to list
      }
    };
    void load();
    navigator.mediaDevices?.addEventListener?.('devicechange', load);
    return () => {
      alive = false;
      navigator.mediaDevices?.removeEventListener?.('devicechange', load);
    };
  }, [refresh]);
  return lists;
}

/** A 0–1 input level for an audio track (for a mic meter); 0 when none. */
export function useAudioLevel(track: MediaStreamTrack | undefined): number {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (!track || track.readyState !== 'live') {
      setLevel(0);
      return;
    }
    let ctx: AudioContext | undefined;
    let raf = 0;
    try {
      ctx = new AudioContext();
      const src = ctx.createMediaStreamSource(new MediaStream([track]));
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 512;
      src.connect(analyser);
      const data = new Uint8Array(analyser.fftSize);
      let last = 0;
      const tick = (t: number) => {
        raf = requestAnimationFrame(tick);
        if (t - last < 60) return;
        last = t;
        analyser.getByteTimeDomainData(data);
        let sum = 0;
        for (const v of data) sum += ((v - 128) / 128) ** 2;
        const rms = Math.sqrt(sum / data.length);
        setLevel(Math.min(1, rms * 4));
      };
      raf = requestAnimationFrame(tick);
      // Autoplay rules may start it suspended: any click resumes it.
      const resume = () => void ctx?.resume().catch(() => undefined);
      document.addEventListener('pointerdown', resume, { once: true });
    } catch {
      // no Web Audio: no meter
    }
    return () => {
      cancelAnimationFrame(raf);
      void ctx?.close().catch(() => undefined);
    };
  }, [track]);
  return level;
}
