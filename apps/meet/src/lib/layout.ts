// The room's layout decisions, as pure functions over plain data (unit-tested): which tile takes the stage, how
// the others are paged, and how many columns fit a region.

export type TileSource = 'camera' | 'screen_share';

export interface TileRef {
  identity: string;
  source: TileSource;
  local: boolean;
}

export const PAGE_SIZE = 9;

export const tileKey = (t: Pick<TileRef, 'identity' | 'source'>): string => `${t.identity}:${t.source}`;

export interface StageInput {
  /** Every tile, in display order (local camera first, then remote cameras in join order, then screen shares). */
  tiles: TileRef[];
  /** A tile the user pinned (tileKey), if any. */
  pinned?: string;
  /** The remote identity that spoke last (sticky active speaker), if any. */
  speaker?: string;
  /** Identities sharing their screen, most recent first. */
  shares?: string[];
}

/**
 * The stage tile: a pinned tile; else a screen share (remote ones before our own, most recent first); else the
 * active speaker (remote: our own face is never the stage while others are here); else the first remote camera;
 * else our own camera (alone in the room).
 */
export function chooseStage({ tiles, pinned, speaker, shares = [] }: StageInput): TileRef | undefined {
  if (pinned) {
    const t = tiles.find((x) => tileKey(x) === pinned);
    if (t) return t;
  }
  const screens = tiles.filter((t) => t.source === 'screen_share');
  if (screens.length) {
    const rank = (t: TileRef) => (t.local ? 1_000 : 0) + (shares.includes(t.identity) ? shares.indexOf(t.identity) : 500);
    return [...screens].sort((a, b) => rank(a) - rank(b))[0];
  }
  const cameras = tiles.filter((t) => t.source === 'camera');
  if (speaker) {
    const t = cameras.find((x) => !x.local && x.identity === speaker);
    if (t) return t;
  }
  return cameras.find((t) => !t.local) ?? cameras[0];
}

export interface Page<T> {
  items: T[];
  page: number;
  pageCount: number;
}

/** Page `page` (clamped) of `items`, `size` per page. */
export function paginate<T>(items: T[], page: number, size = PAGE_SIZE): Page<T> {
  const pageCount = Math.max(1, Math.ceil(items.length / size));
  const p = Math.min(Math.max(0, page), pageCount - 1);
  return { items: items.slice(p * size, p * size + size), page: p, pageCount };
}

export interface GridFit {
  cols: number;
  rows: number;
  /** Tile size in px. */
  width: number;
  height: number;
}

/** The column count that gives `n` tiles of `aspect` (w/h) the largest size inside `width` × `height`. */
export function bestFit(n: number, width: number, height: number, gap = 8, aspect = 16 / 9): GridFit {
  if (n <= 0 || width <= 0 || height <= 0) return { cols: 1, rows: Math.max(n, 0), width: 0, height: 0 };
  let best: GridFit = { cols: 1, rows: n, width: 0, height: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    let w = (width - gap * (cols - 1)) / cols;
    let h = w / aspect;
    if (h * rows + gap * (rows - 1) > height) {
      h = (height - gap * (rows - 1)) / rows;
      w = h * aspect;
    }
    if (w > best.width + 0.5) best = { cols, rows, width: w, height: h };
  }
  return { ...best, width: Math.max(0, Math.floor(best.width)), height: Math.max(0, Math.floor(best.height)) };
}

/** The side column's width for `n` tiles beside the stage, in a main area `width` px wide. */
export function sideWidth(n: number, width: number): number {
  if (n <= 0) return 0;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  return Math.round(n <= 3 ? clamp(width * 0.24, 200, 340) : clamp(width * 0.36, 300, 560));
}

/** The strip's height for `n` tiles under the stage, in a main area `height` px tall. */
export function bottomHeight(n: number, height: number): number {
  if (n <= 0) return 0;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  return Math.round(n <= 3 ? clamp(height * 0.28, 120, 280) : clamp(height * 0.38, 180, 440));
}

/** Below this main-area width the layout stacks: stage on top, the others in one column under it (scrolling). */
export const NARROW_WIDTH = 700;

export interface RoomLayout {
  /** 'side': the others in a column right of the stage; 'bottom': in a strip under it. */
  mode: 'side' | 'bottom';
  fit: GridFit;
  /** The strip's width (side) or height (bottom), px, pager included. */
  strip: number;
  /** The stage tile's width (16:9), px. */
  stageWidth: number;
}

/**
 * Where the `n` other tiles go in a `width` × `height` main area: beside the stage or under it, whichever leaves the
 * stage bigger (landscape screens get a side column, portrait ones a bottom strip). The strip shrinks to what its
 * tiles need; `pager` px are kept for the page buttons.
 */
export function roomLayout(n: number, width: number, height: number, gap = 8, pager = 0): RoomLayout {
  const stage16x9 = (w: number, h: number) => Math.max(0, Math.min(w, (h * 16) / 9));
  if (n <= 0) return { mode: 'side', fit: bestFit(0, 0, 0, gap), strip: 0, stageWidth: stage16x9(width, height) };
  const minStrip = pager ? 150 : 0;

  const sideFit = bestFit(n, sideWidth(n, width), height - pager, gap);
  const side = Math.max(sideFit.cols * sideFit.width + (sideFit.cols - 1) * gap, minStrip);
  const sideLayout: RoomLayout = { mode: 'side', fit: sideFit, strip: side, stageWidth: stage16x9(width - side - gap, height) };

  const bottomFit = bestFit(n, width, bottomHeight(n, height) - pager, gap);
  const bottom = bottomFit.rows * bottomFit.height + (bottomFit.rows - 1) * gap + pager;
  const bottomLayout: RoomLayout = { mode: 'bottom', fit: bottomFit, strip: bottom, stageWidth: stage16x9(width, height - bottom - gap) };

  return bottomLayout.stageWidth > sideLayout.stageWidth * 1.05 ? bottomLayout : sideLayout;
}
