import { describe, expect, it } from 'vitest';
import { generateRoomName, hueFor, initials, inviteLink, makeIdentity, normalizeRoomName, randomSuffix, roomFromLocation, slugify } from '../src/lib/names';

describe('names', () => {
  it('generates three-word room names', () => {
    for (let i = 0; i < 20; i++) expect(generateRoomName()).toMatch(/^[a-z]+-[a-z]+-[a-z]+$/);
  });
  it('slugs names into identities with a per-tab suffix', () => {
    expect(slugify("Zoë Ann O'Neil")).toBe('zoe-ann-oneil');
    expect(slugify('  !!! ')).toBe('guest');
    expect(slugify('a'.repeat(40))).toHaveLength(24);
    expect(makeIdentity('Ada Lovelace', 'k3f9')).toBe('ada-lovelace-k3f9');
    expect(randomSuffix(4)).toMatch(/^[a-z2-9]{4}$/);
  });
  it('reads the room from ?room= or the hash', () => {
    expect(roomFromLocation('?room=team%20sync', '')).toBe('team-sync');
    expect(roomFromLocation('', '#daily-standup')).toBe('daily-standup');
    expect(roomFromLocation('', '#room=caf%C3%A9')).toBe('café');
    expect(roomFromLocation('?room=a', '#b')).toBe('a');
    expect(roomFromLocation('', '')).toBe('');
    expect(normalizeRoomName('  x  y ')).toBe('x-y');
    expect(normalizeRoomName('team/sync#1?')).toBe('teamsync1');
    expect(normalizeRoomName('Café_2.0')).toBe('Café_2.0');
  });
  it('builds invite links on the current page', () => {
    expect(inviteLink('http://host:7880/meet/?room=old#frag', 'new room')).toBe('http://host:7880/meet/?room=new+room');
    expect(inviteLink('http://localhost:5173/', 'a-b-c')).toBe('http://localhost:5173/?room=a-b-c');
  });
  it('initials and colours', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('bob')).toBe('B');
    expect(initials('Guest 07')).toBe('G7');
    expect(initials('Jean-Luc de la Tour')).toBe('JT');
    expect(initials('  ')).toBe('?');
    expect(hueFor('x')).toBe(hueFor('x'));
    expect(hueFor('x')).toBeLessThan(360);
  });
});
