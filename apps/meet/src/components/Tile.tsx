// One participant tile: their camera or screen share (or an avatar), name, mic state, speaking ring and connection
// quality. The video element is attached only while the tile is rendered: tiles on other pages do not exist.
import { Track, type Participant } from '@kite/client';
import { useEffect, useRef } from 'preact/hooks';
import { hueFor, initials } from '../lib/names';
import { displayName } from '../lib/session';
import type { TileSource } from '../lib/layout';
import { MicOffIcon, PinIcon, ScreenIcon } from './icons';

export interface TileProps {
  participant: Participant;
  source: TileSource;
  role: 'stage' | 'grid';
  /** The simulcast layer asked for (remote videos), for display and tests. */
  layer?: 'high' | 'low';
  pinned: boolean;
  onPin?: () => void;
  style?: Record<string, string | number>;
}

const QUALITY_BARS: Record<string, number> = { excellent: 3, good: 2, poor: 1, lost: 0, unknown: 0 };

export function QualityBars({ quality }: { quality: string }) {
  const n = QUALITY_BARS[quality] ?? 0;
  return (
    <span class={`quality q-${quality}`} title={`Connection: ${quality}`} aria-label={`Connection quality: ${quality}`}>
      {[1, 2, 3].map((i) => (
        <i key={i} class={i <= n ? 'on' : ''} style={{ height: `${4 + i * 3}px` }} />
      ))}
    </span>
  );
}

export function Avatar({ name, identity, size }: { name: string; identity: string; size?: string }) {
  const hue = hueFor(identity);
  return (
    <span class="avatar" style={{ background: `linear-gradient(135deg, hsl(${hue} 55% 42%), hsl(${(hue + 40) % 360} 60% 32%))`, ...(size ? { '--avatar-size': size } : {}) }}>
      {initials(name)}
    </span>
  );
}

export function Tile({ participant: p, source, role, layer, pinned, onPin, style }: TileProps) {
  const pub = p.getTrackPublication(source === 'camera' ? Track.Source.Camera : Track.Source.ScreenShare);
  const track = pub?.track;
  const media = track?.mediaStreamTrack as MediaStreamTrack | undefined;
  const published = !!pub && !pub.isMuted && (!p.isLocal || media?.readyState !== 'ended');
  const showVideo = published && !!track;
  const micPub = p.getTrackPublication(Track.Source.Microphone);
  const micMuted = !micPub || micPub.isMuted;
  const name = displayName(p);
  const videoRef = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    const el = videoRef.current;
    if (!el || !track || !showVideo) return;
    el.defaultMuted = true; // the `muted` attribute too, not only the property
    track.attach(el);
    return () => {
      track.detach(el);
    };
  }, [track, showVideo, media]);

  const suffix = source === 'screen_share' ? (p.isLocal ? '(you, presenting)' : '(screen)') : p.isLocal ? '(you)' : '';
  const label = `${name} ${suffix}`.trim();
  const mirror = p.isLocal && source === 'camera';

  return (
    <div
      class={`tile tile-${role} src-${source}${p.isSpeaking && source === 'camera' ? ' speaking' : ''}${showVideo ? ' has-video' : ''}`}
      style={style}
      data-testid="tile"
      data-identity={p.identity}
      data-name={name}
      data-speaking={String(p.isSpeaking)}
      data-mic-muted={String(micMuted)}
      data-camera={published ? 'on' : 'off'}
      data-quality={p.connectionQuality}
      data-local={String(p.isLocal)}
      data-source={source}
      data-layer={layer}
      data-pinned={String(pinned)}
    >
      {showVideo ? (
        <video ref={videoRef} class={mirror ? 'mirror' : ''} autoplay muted playsInline />
      ) : (
        <div class="tile-placeholder">
          {source === 'screen_share' ? <ScreenIcon size={40} /> : <Avatar name={name} identity={p.identity} />}
        </div>
      )}
      <div class="tile-top">
        {onPin && (
          <button type="button" class={`tile-pin${pinned ? ' active' : ''}`} onClick={onPin} title={pinned ? 'Unpin' : 'Pin to stage'} aria-label={pinned ? `Unpin ${label}` : `Pin ${label}`}>
            <PinIcon size={16} />
          </button>
        )}
        <QualityBars quality={p.connectionQuality} />
      </div>
      <div class="tile-bottom">
        <span class="tile-label">
          {source === 'camera' && micMuted && (
            <span class="muted-icon" title="Microphone off" aria-label="Microphone off">
              <MicOffIcon size={14} />
            </span>
          )}
          {source === 'screen_share' && <ScreenIcon size={14} />}
          <span class="tile-name" data-testid="tile-name">
            {name}
          </span>
          {suffix && <span class="tile-suffix">{suffix}</span>}
        </span>
      </div>
    </div>
  );
}
