// The meeting: header, stage + paged tiles, side panels and the controls bar.
import { ConnectionState, Track, type Participant, type RemoteTrackPublication } from '@kite/client';
import type { JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useElementSize, useSession } from '../lib/hooks';
import { chooseStage, NARROW_WIDTH, paginate, roomLayout, tileKey, type TileRef } from '../lib/layout';
import { inviteLink } from '../lib/names';
import type { MeetSession, VideoRole } from '../lib/session';
import { ChatPanel, ParticipantsPanel, RemoteAudio, SettingsPopover } from './Panels';
import { Tile } from './Tile';
import {
  CameraIcon,
  CameraOffIcon,
  ChatIcon,
  ChevronLeftIcon,
  ChevronRightIcon,
  KiteLogo,
  LeaveIcon,
  LinkIcon,
  MicIcon,
  MicOffIcon,
  ScreenIcon,
  SettingsIcon,
  UsersIcon,
} from './icons';

export interface RoomViewProps {
  session: MeetSession;
  copyInvite: (link: string) => void;
  onLeave: () => void;
}

type PanelKind = 'chat' | 'people' | null;

const GAP = 8;
const PAGER_HEIGHT = 44;

export function RoomView({ session, copyInvite, onLeave }: RoomViewProps) {
  useSession(session);
  const room = session.room;
  const [panel, setPanel] = useState<PanelKind>(null);
  const [pinned, setPinned] = useState<string | undefined>();
  const [page, setPage] = useState(0);
  const [settings, setSettings] = useState(false);
  const [sinkId, setSinkId] = useState<string | undefined>();
  const mainRef = useRef<HTMLDivElement>(null);
  const size = useElementSize(mainRef);

  // Tiles: every camera (ours first, then in join order), then every screen share.
  const people = session.participants();
  const byIdentity = new Map<string, Participant>(people.map((p) => [p.identity, p]));
  const refs: TileRef[] = people.map((p) => ({ identity: p.identity, source: 'camera', local: p.isLocal }));
  for (const p of people) if (p.getTrackPublication(Track.Source.ScreenShare)) refs.push({ identity: p.identity, source: 'screen_share', local: p.isLocal });

  const stage = chooseStage({ tiles: refs, pinned, speaker: session.speaker, shares: session.shares });
  const others = refs.filter((t) => t !== stage);
  const pg = paginate(others, page);

  useEffect(() => {
    if (pg.page !== page) setPage(pg.page);
  }, [pg.page, page]);
  useEffect(() => {
    if (pinned && !refs.some((t) => tileKey(t) === pinned)) setPinned(undefined);
  });

  // Layers: the stage gets the high layer, small tiles the low one, everything off-page nothing at all.
  const roles = new Map<RemoteTrackPublication, VideoRole>();
  const remotePub = (t: TileRef) => (t.local ? undefined : session.remote(t.identity)?.getTrackPublication(t.source === 'camera' ? Track.Source.Camera : Track.Source.ScreenShare));
  const stagePub = stage && remotePub(stage);
  if (stagePub) roles.set(stagePub, 'high');
  for (const t of pg.items) {
    const pub = remotePub(t);
    if (pub) roles.set(pub, 'low');
  }
  useEffect(() => session.applyVideoRoles(roles));

  // Geometry: wide screens put the others in a column beside the stage, sized to fit; narrow ones stack.
  const narrow = size.width > 0 && size.width < NARROW_WIDTH;
  const n = pg.items.length;
  const layout = narrow ? undefined : roomLayout(n, size.width, size.height, GAP, pg.pageCount > 1 ? PAGER_HEIGHT : 0);
  const fit = layout?.fit;
  const strip = layout && n > 0 ? layout.strip : 0;
  const stageStyle = !layout || !strip ? undefined : layout.mode === 'side' ? { right: `${strip + GAP}px` } : { bottom: `${strip + GAP}px` };
  const stripStyle = !layout ? undefined : layout.mode === 'side' ? { width: `${strip}px` } : { height: `${strip}px` };

  const togglePin = (t: TileRef) => setPinned((cur) => (cur === tileKey(t) ? undefined : tileKey(t)));
  const closePanel = useCallback(() => setPanel(null), []);
  const closeSettings = useCallback(() => setSettings(false), []);
  const link = inviteLink(location.href, session.roomName);
  const reconnecting = room.state === ConnectionState.Reconnecting || room.state === ConnectionState.SignalReconnecting;
  const alone = room.remoteParticipants.size === 0;

  const renderTile = (t: TileRef, role: 'stage' | 'grid') => {
    const p = byIdentity.get(t.identity)!;
    const style = role === 'grid' && fit ? { width: `${fit.width}px`, height: `${fit.height}px` } : undefined;
    return (
      <Tile
        key={tileKey(t)}
        participant={p}
        source={t.source}
        role={role}
        layer={t.local ? undefined : role === 'stage' ? 'high' : 'low'}
        pinned={pinned === tileKey(t)}
        onPin={people.length > 1 || t.source === 'screen_share' ? () => togglePin(t) : undefined}
        style={style}
      />
    );
  };

  return (
    <div class={`room${panel ? ' with-panel' : ''}`} data-testid="room" data-state={room.state}>
      <header class="topbar">
        <div class="brand">
          <KiteLogo size={24} />
          <div class="room-title">
            <span class="room-name" title={session.roomName}>
              {session.roomName}
            </span>
            <span class="room-sub">
              {people.length} {people.length === 1 ? 'participant' : 'participants'}
              {reconnecting && <span class="badge warn">Reconnecting…</span>}
            </span>
          </div>
        </div>
        <button type="button" class="button ghost" data-testid="copy-invite" onClick={() => copyInvite(link)} title={link}>
          <LinkIcon size={18} />
          <span class="hide-narrow">Copy invite link</span>
        </button>
      </header>

      <div class="room-body">
        <main class={`stage-area${narrow ? ' narrow' : ` strip-${layout?.mode ?? 'side'}`}`} ref={mainRef}>
          <div class="stage" data-testid="stage" style={stageStyle}>
            {stage && renderTile(stage, 'stage')}
            {alone && (
              <div class="alone-card">
                <p>You're the only one here.</p>
                <button type="button" class="button primary small" onClick={() => copyInvite(link)}>
                  <LinkIcon size={16} /> Copy invite link
                </button>
              </div>
            )}
          </div>
          {n > 0 && (
            <div class="side" style={stripStyle}>
              <div class="grid" style={fit ? { gridTemplateColumns: `repeat(${fit.cols}, ${fit.width}px)`, gap: `${GAP}px` } : undefined}>
                {pg.items.map((t) => renderTile(t, 'grid'))}
              </div>
              {pg.pageCount > 1 && (
                <div class="pager">
                  <button type="button" class="icon-button" data-testid="page-prev" disabled={pg.page === 0} onClick={() => setPage(pg.page - 1)} aria-label="Previous page">
                    <ChevronLeftIcon size={18} />
                  </button>
                  <span class="pager-label">
                    {pg.page + 1} / {pg.pageCount}
                  </span>
                  <button type="button" class="icon-button" data-testid="page-next" disabled={pg.page >= pg.pageCount - 1} onClick={() => setPage(pg.page + 1)} aria-label="Next page">
                    <ChevronRightIcon size={18} />
                  </button>
                </div>
              )}
            </div>
          )}
        </main>
        {panel === 'chat' && <ChatPanel session={session} onClose={closePanel} />}
        {panel === 'people' && <ParticipantsPanel session={session} onClose={closePanel} />}
      </div>

      <footer class="controls">
        <div class="controls-group">
          <ControlButton
            testId="toggle-mic"
            on={session.micOn}
            busy={session.busy.has('mic')}
            label={session.micOn ? 'Mute' : 'Unmute'}
            icon={session.micOn ? <MicIcon /> : <MicOffIcon />}
            danger={!session.micOn}
            onClick={() => void session.toggleMic()}
          />
          <ControlButton
            testId="toggle-camera"
            on={session.cameraOn}
            busy={session.busy.has('camera')}
            label={session.cameraOn ? 'Stop video' : 'Start video'}
            icon={session.cameraOn ? <CameraIcon /> : <CameraOffIcon />}
            danger={!session.cameraOn}
            onClick={() => void session.toggleCamera()}
          />
          <ControlButton
            testId="toggle-screen"
            on={session.screenOn}
            busy={session.busy.has('screen')}
            label={session.screenOn ? 'Stop sharing' : 'Share screen'}
            icon={<ScreenIcon />}
            active={session.screenOn}
            onClick={() => void session.toggleScreen()}
          />
          <div class="popover-anchor">
            <ControlButton testId="toggle-settings" on={settings} label="Settings" icon={<SettingsIcon />} active={settings} onClick={() => setSettings((s) => !s)} settingsToggle />
            {settings && <SettingsPopover session={session} onClose={closeSettings} output={sinkId} onOutput={setSinkId} />}
          </div>
          <ControlButton
            testId="toggle-chat"
            on={panel === 'chat'}
            label="Chat"
            icon={<ChatIcon />}
            active={panel === 'chat'}
            badge={panel !== 'chat' && session.unread > 0 ? String(session.unread) : undefined}
            onClick={() => setPanel((p) => (p === 'chat' ? null : 'chat'))}
          />
          <ControlButton
            testId="toggle-participants"
            on={panel === 'people'}
            label="People"
            icon={<UsersIcon />}
            active={panel === 'people'}
            badge={String(people.length)}
            badgeQuiet
            onClick={() => setPanel((p) => (p === 'people' ? null : 'people'))}
          />
        </div>
        <button type="button" class="button danger leave" data-testid="leave" onClick={onLeave}>
          <LeaveIcon size={18} />
          <span>Leave</span>
        </button>
      </footer>

      <RemoteAudio session={session} sinkId={sinkId} />
    </div>
  );
}

function ControlButton(props: {
  testId: string;
  on: boolean;
  label: string;
  icon: JSX.Element;
  onClick: () => void;
  busy?: boolean;
  danger?: boolean;
  active?: boolean;
  badge?: string;
  badgeQuiet?: boolean;
  settingsToggle?: boolean;
}) {
  const cls = `control${props.danger ? ' danger' : ''}${props.active ? ' active' : ''}${props.busy ? ' busy' : ''}`;
  return (
    <button
      type="button"
      class={cls}
      data-testid={props.testId}
      data-enabled={String(props.on)}
      aria-pressed={props.on}
      aria-label={props.label}
      title={props.label}
      disabled={props.busy}
      onClick={props.onClick}
      {...(props.settingsToggle ? { 'data-settings-toggle': '' } : {})}
    >
      <span class="control-icon">
        {props.icon}
        {props.badge && <span class={`control-badge${props.badgeQuiet ? ' quiet' : ''}`}>{props.badge}</span>}
      </span>
      <span class="control-label">{props.label}</span>
    </button>
  );
}
