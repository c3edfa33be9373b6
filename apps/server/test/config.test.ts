import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, loadConfig, parseCliArgs, ConfigError } from '../src/config/index.js';

const opts = (argv: string[]) => parseCliArgs(argv).options;

describe('configuration', () => {
  it('--dev gives LiveKit dev defaults', () => {
    const c = loadConfig(opts(['--dev']), {});
    expect(c.keys).toEqual({ devkey: 'secret' });
    expect(c.bind_addresses).toEqual(['127.0.0.1']);
    expect(c.port).toBe(7880);
    expect(c.rtc.tcp_port).toBe(7881);
    expect(c.rtc.udp_port).toBe(7882);
    expect(c.development).toBe(true);
  });

  it('reads a YAML file with LiveKit keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kite-cfg-'));
    const file = join(dir, 'kite.yaml');
    writeFileSync(
      file,
      `port: 7999
keys:
  key1: secret1
rtc:
  udp_port: 7900
  tcp_port: 7901
  port_range_start: 40000
  port_range_end: 41000
  node_ip: 10.0.0.5
  use_external_ip: false
turn:
  enabled: true
  domain: turn.example.com
  udp_port: 3478
  tls_port: 5349
  cert_file: /x.pem
  key_file: /x.key
redis:
  address: 127.0.0.1:6379
webhook:
  api_key: key1
  urls: [http://127.0.0.1:9000/hook]
room:
  auto_create: false
  empty_timeout: 60
  departure_timeout: 5
  max_participants: 10
logging:
  level: warn
`,
    );
    const c = loadConfig(opts(['--config', file]), {});
    expect(c).toMatchObject({
      port: 7999,
      keys: { key1: 'secret1' },
      rtc: { udp_port: 7900, tcp_port: 7901, port_range_start: 40000, node_ip: '10.0.0.5' },
      turn: { enabled: true, domain: 'turn.example.com', tls_port: 5349 },
      redis: { address: '127.0.0.1:6379' },
      webhook: { api_key: 'key1', urls: ['http://127.0.0.1:9000/hook'] },
      room: { auto_create: false, empty_timeout: 60, departure_timeout: 5, max_participants: 10 },
      logging: { level: 'warn' },
    });
  });

  it('flags and env override the file; --keys / LIVEKIT_KEYS supply keys', () => {
    const c = loadConfig(opts(['--config-body', 'port: 8000\nkeys: {a: b}', '--bind', '127.0.0.1', '--node-ip', '192.168.1.2', '--udp-port', '9000', '--redis-host', 'r:6379']), {});
    expect(c).toMatchObject({ port: 8000, bind_addresses: ['127.0.0.1'], rtc: { node_ip: '192.168.1.2', udp_port: 9000 }, redis: { address: 'r:6379' } });
    expect(loadConfig(opts([]), { LIVEKIT_KEYS: 'k2: s2' }).keys).toEqual({ k2: 's2' });
    expect(loadConfig(opts([]), { LIVEKIT_CONFIG: 'keys: {k3: s3}\nport: 1234' }).port).toBe(1234);
    // --dev does not add devkey when keys are configured
    expect(loadConfig(opts(['--dev', '--keys', 'mine: s']), {}).keys).toEqual({ mine: 's' });
  });

  it('rejects unknown keys and bad values, naming the key', () => {
    const bad: [string, RegExp][] = [
      ['keys: {a: b}\nprot: 1', /"prot": unknown key/],
      ['keys: {a: b}\nrtc: {udp_prot: 1}', /"rtc.udp_prot": unknown key/],
      ['keys: {a: b}\nport: 70000', /"port": must be an integer from 0 to 65535/],
      ['keys: {a: b}\nport: eighty', /"port": must be an integer/],
      ['keys: {a: b}\nrtc: {node_ip: not-an-ip}', /"rtc.node_ip": must be an IP address/],
      ['keys: {a: b}\nroom: {auto_create: maybe}', /"room.auto_create": must be true or false/],
      ['keys: {a: b}\nlogging: {level: loud}', /"logging.level": must be one of/],
      ['keys: {a: b}\nwebhook: {urls: [ftp://x]}', /"webhook.urls\[0\]": must be an http\(s\) URL/],
      ['keys: {a: b}\nwebhook: {urls: [http://x]}', /"webhook.api_key": is required/],
      ['keys: {a: b}\nwebhook: {api_key: c, urls: [http://x]}', /"webhook.api_key": "c" is not one of the configured keys/],
      ['keys: {a: b}\nrtc: {udp_port: "7882-7892"}', /"rtc.udp_port": port ranges are not supported/],
      ['port: 1', /"keys": at least one API key is required/],
      ['keys: {a: ""}', /"keys.a": secret must not be empty/],
      ['[a, b]', /must be a YAML map/],
      ['keys: [unclosed', /not valid YAML/],
    ];
    for (const [yaml, msg] of bad) {
      expect(() => loadConfig(opts(['--config-body', yaml]), {}), yaml).toThrow(ConfigError);
      expect(() => loadConfig(opts(['--config-body', yaml]), {}), yaml).toThrow(msg);
    }
  });

  it('rejects unknown flags and commands', () => {
    expect(() => parseCliArgs(['--devv'])).toThrow();
    expect(() => parseCliArgs(['serve-everything'])).toThrow(/unknown command/);
    expect(parseCliArgs(['generate-keys']).command).toBe('generate-keys');
  });

  it('createServer-style objects are validated the same way', () => {
    expect(() => buildConfig({ keys: { a: 'b' }, rtc: { bogus: 1 } } as never)).toThrow(/"rtc.bogus": unknown key/);
    expect(buildConfig({ keys: { a: 'b' } }).room.empty_timeout).toBe(300);
  });
});
