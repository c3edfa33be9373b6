import { render } from 'preact';
import { App } from './App';
import './styles.css';

// The SDK names data streams with crypto.randomUUID(), which browsers only offer on secure origins (https,
// localhost). On a plain-http LAN address chat would fail without this stand-in.
if (globalThis.crypto && typeof globalThis.crypto.randomUUID !== 'function') {
  const c = globalThis.crypto;
  (c as { randomUUID?: () => string }).randomUUID = () => {
    const b = c.getRandomValues(new Uint8Array(16));
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
}

render(<App />, document.getElementById('app')!);
