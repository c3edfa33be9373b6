// Room names, identities, invite links and the few values kept in localStorage. No DOM or SDK here beyond
// `location`/`localStorage` passed in or guarded, so the pure parts are unit-tested.

const ADJECTIVES = [
  'amber', 'bold', 'brisk', 'calm', 'clever', 'cosmic', 'crisp', 'daring', 'eager', 'fancy', 'gentle', 'golden',
  'happy', 'hidden', 'jolly', 'kind', 'lively', 'lucky', 'mellow', 'misty', 'noble', 'quiet', 'rapid', 'rosy',
  'shiny', 'silent', 'silver', 'sunny', 'swift', 'tidy', 'vivid', 'witty',
];
const COLORS = [
  'azure', 'coral', 'crimson', 'cyan', 'ember', 'indigo', 'ivory', 'jade', 'lemon', 'lilac', 'maple', 'mint',
  'ochre', 'olive', 'onyx', 'pearl', 'plum', 'ruby', 'sage', 'sky', 'teal', 'violet',
];
const NOUNS = [
  'badger', 'comet', 'dolphin', 'falcon', 'fox', 'harbor', 'heron', 'kite', 'lagoon', 'lantern', 'maple', 'meadow',
  'nebula', 'otter', 'panda', 'pebble', 'pine', 'raven', 'river', 'rocket', 'sparrow', 'summit', 'tiger', 'tulip',
  'valley', 'walrus', 'willow', 'zephyr',
];

/** A uniformly random integer in [0, n), from crypto when available (it is, even on insecure origins). */
export function randomInt(n: number): number {
  const c = globalThis.crypto;
  if (c?.getRandomValues) {
    const buf = new Uint32Array(1);
    c.getRandomValues(buf);
    return buf[0]! % n;
  }
  return Math.floor(Math.random() * n);
}

const pick = <T,>(list: readonly T[]): T => list[randomInt(list.length)]!;

/** Three words, dash-separated: "sunny-teal-otter". */
export function generateRoomName(): string {
  return `${pick(ADJECTIVES)}-${pick(COLORS)}-${pick(NOUNS)}`;
}

/** `n` random lowercase letters and digits. */
export function randomSuffix(n = 4): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/** "Zoë Ann O'Neil" → "zoe-ann-oneil" (ASCII, at most 24 characters; "guest" when nothing is left). */
export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 24)
    .replace(/-+$/g, '');
  return s || 'guest';
}

/** The participant identity: the name's slug plus a per-tab random suffix ("ada-lovelace-k3f9"). */
export function makeIdentity(name: string, tabSuffix: string): string {
  return `${slugify(name)}-${tabSuffix}`;
}

/**
 * Room names as the token endpoints accept them: letters, digits, '.', '_' and '-' (whitespace becomes a dash,
 * anything else is dropped), at most 64 characters.
 */
export function normalizeRoomName(raw: string): string {
  return raw
    .trim()
    .replace(/\s+/g, '-')
    .replace(/[^\p{L}\p{N}._-]/gu, '')
    .slice(0, 64);
}

/** The room an invite link names: `?room=` first, else the hash (`#room` or `#room=…`). */
export function roomFromLocation(search: string, hash: string): string {
  const q = new URLSearchParams(search).get('room');
  if (q && normalizeRoomName(q)) return normalizeRoomName(q);
  let h = hash.replace(/^#/, '');
  if (h.startsWith('room=')) h = h.slice(5);
  try {
    h = decodeURIComponent(h);
  } catch {
    // keep it as it is
  }
  return normalizeRoomName(h);
}

/** The invite link for `room`: this page (any old query or hash dropped) with `?room=`. */
export function inviteLink(href: string, room: string): string {
  const u = new URL(href);
  u.search = '';
  u.hash = '';
  u.searchParams.set('room', room);
  return u.toString();
}

/** Initials for an avatar: "Ada Lovelace" → "AL", "bob" → "B". */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = [...parts[0]!][0] ?? '';
  if (parts.length === 1) return first.toUpperCase();
  const lastWord = parts[parts.length - 1]!;
  // "Guest 07" → "G7": a number keeps its digits (up to two) rather than a lone "0".
  const last = /^\d+$/.test(lastWord) ? String(Number(lastWord)).slice(-2) : ([...lastWord][0] ?? '');
  return (first + last).toUpperCase();
}

/** A stable hue (0–359) for an identity, for avatar colours. */
export function hueFor(identity: string): number {
  let h = 0;
  for (let i = 0; i < identity.length; i++) h = (h * 31 + identity.charCodeAt(i)) >>> 0;
  return h % 360;
}

// ---------------------------------------------------------------------------------------------------------------
// Storage (quietly absent when the browser refuses it, e.g. some private modes)

const PREFIX = 'kite-meet:';

export function load(key: string, storage: 'local' | 'session' = 'local'): string | undefined {
  try {
    return (storage === 'local' ? localStorage : sessionStorage).getItem(PREFIX + key) ?? undefined;
  } catch {
    return undefined;
  }
}

export function save(key: string, value: string | undefined, storage: 'local' | 'session' = 'local'): void {
  try {
    const s = storage === 'local' ? localStorage : sessionStorage;
    if (value === undefined) s.removeItem(PREFIX + key);
    else s.setItem(PREFIX + key, value);
  } catch {
    // ignore
  }
}

/** This tab's random identity suffix (kept for the tab's life, so a reload rejoins as the same identity). */
export function tabSuffix(): string {
  let s = load('tab', 'session');
  if (!s) {
    s = randomSuffix(4);
    save('tab', s, 'session');
  }
  return s;
}
