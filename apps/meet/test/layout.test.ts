import { describe, expect, it } from 'vitest';
import { bestFit, chooseStage, paginate, PAGE_SIZE, roomLayout, sideWidth, tileKey, type TileRef } from '../src/lib/layout';

const cam = (identity: string, local = false): TileRef => ({ identity, source: 'camera', local });
const screen = (identity: string, local = false): TileRef => ({ identity, source: 'screen_share', local });

describe('chooseStage', () => {
  const me = cam('me', true);
  it('puts our own camera on stage only when alone', () => {
    expect(chooseStage({ tiles: [me] })).toBe(me);
    expect(chooseStage({ tiles: [me, cam('ann'), cam('bob')] })?.identity).toBe('ann');
  });
  it('follows the active speaker (remote), not us', () => {
    expect(chooseStage({ tiles: [me, cam('ann'), cam('bob')], speaker: 'bob' })?.identity).toBe('bob');
    expect(chooseStage({ tiles: [me, cam('ann')], speaker: 'me' })?.identity).toBe('ann');
    expect(chooseStage({ tiles: [me, cam('ann')], speaker: 'gone' })?.identity).toBe('ann');
  });
  it('gives a screen share the stage over speakers; remote shares over ours; newest first', () => {
    const tiles = [me, cam('ann'), cam('bob'), screen('me', true), screen('ann'), screen('bob')];
    expect(tileKey(chooseStage({ tiles, speaker: 'ann', shares: ['bob', 'me', 'ann'] })!)).toBe('bob:screen_share');
    expect(tileKey(chooseStage({ tiles: [me, cam('ann'), screen('me', true)], speaker: 'ann', shares: ['me'] })!)).toBe('me:screen_share');
  });
  it('a pin wins while its tile exists', () => {
    const tiles = [me, cam('ann'), cam('bob'), screen('ann')];
    expect(tileKey(chooseStage({ tiles, pinned: 'bob:camera', shares: ['ann'] })!)).toBe('bob:camera');
    expect(tileKey(chooseStage({ tiles, pinned: 'zed:camera', shares: ['ann'] })!)).toBe('ann:screen_share');
  });
});

describe('paginate', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);
  it('pages of nine, clamped', () => {
    expect(PAGE_SIZE).toBe(9);
    expect(paginate(items, 0)).toEqual({ items: [0, 1, 2, 3, 4, 5, 6, 7, 8], page: 0, pageCount: 3 });
    expect(paginate(items, 2).items).toEqual([18, 19]);
    expect(paginate(items, 7).page).toBe(2);
    expect(paginate(items, -1).page).toBe(0);
    expect(paginate([], 3)).toEqual({ items: [], page: 0, pageCount: 1 });
  });
});

describe('bestFit', () => {
  it('one tile fills the width or the height', () => {
    expect(bestFit(1, 1600, 900, 0)).toMatchObject({ cols: 1, rows: 1, width: 1600, height: 900 });
    expect(bestFit(1, 1600, 450, 0)).toMatchObject({ cols: 1, width: 800, height: 450 });
  });
  it('a tall column stacks, a wide area spreads', () => {
    expect(bestFit(3, 300, 700, 8).cols).toBe(1);
    expect(bestFit(4, 1600, 900, 8)).toMatchObject({ cols: 2, rows: 2 });
    expect(bestFit(9, 1600, 900, 8)).toMatchObject({ cols: 3, rows: 3 });
  });
  it('every tile fits', () => {
    for (const [n, w, h] of [[9, 560, 600], [5, 340, 620], [7, 1000, 300]] as const) {
      const f = bestFit(n, w, h, 8);
      expect(f.cols * f.width + (f.cols - 1) * 8).toBeLessThanOrEqual(w);
      expect(f.rows * f.height + (f.rows - 1) * 8).toBeLessThanOrEqual(h);
      expect(f.cols * f.rows).toBeGreaterThanOrEqual(n);
    }
  });
  it('nothing to place, or no room', () => {
    expect(bestFit(0, 100, 100).width).toBe(0);
    expect(bestFit(3, 0, 100).width).toBe(0);
  });
  it('side column widths stay in range', () => {
    expect(sideWidth(0, 1200)).toBe(0);
    expect(sideWidth(2, 400)).toBe(200);
    expect(sideWidth(2, 5000)).toBe(340);
    expect(sideWidth(8, 1200)).toBe(432);
  });
});

describe('roomLayout', () => {
  it('landscape: a side column that shrinks to its tiles', () => {
    const l = roomLayout(3, 1256, 647, 8);
    expect(l.mode).toBe('side');
    expect(l.strip).toBe(l.fit.cols * l.fit.width + (l.fit.cols - 1) * 8);
    expect(l.stageWidth).toBeGreaterThan(900);
  });
  it('portrait: a strip under the stage', () => {
    const l = roomLayout(2, 744, 880, 8);
    expect(l.mode).toBe('bottom');
    expect(l.stageWidth).toBe(744);
    expect(l.fit.cols).toBe(2);
  });
  it('keeps room for the pager', () => {
    const l = roomLayout(9, 1256, 647, 8, 44);
    expect(l.fit.rows * l.fit.height + (l.fit.rows - 1) * 8).toBeLessThanOrEqual(647 - 44);
    expect(l.strip).toBeGreaterThanOrEqual(150);
  });
  it('alone: the stage has it all', () => {
    expect(roomLayout(0, 1000, 500)).toMatchObject({ strip: 0, stageWidth: 888.8888888888889 });
  });
});
