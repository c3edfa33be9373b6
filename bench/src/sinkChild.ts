// Benchmark child: a UDP socket that receives and drops.
import { createSocket } from 'node:dgram';
const s = createSocket('udp4');
let n = 0;
s.on('message', () => n++);
s.bind(0, '127.0.0.1', () => process.send!({ port: s.address().port }));
process.on('disconnect', () => process.exit(0));
void n;
