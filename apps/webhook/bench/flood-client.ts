// The flood of overload.bench.ts in a process of its own, so encrypting its multi-MiB bodies does
// not delay the paced client that measures latency. argv[2]: JSON {port, connections, rounds}.
// Prints "sending" when it starts, then the FloodResult (and the CPU seconds it used) as one JSON line, and exits.
import { flood, largeReview } from './large-review.js';

const { port, connections, rounds } = JSON.parse(process.argv[2]!) as { port: number; connections: number; rounds: number };
const body = largeReview();
process.stdout.write('sending\n');
const cpu = process.cpuUsage();
const result = await flood({ port, body, connections, rounds, paths: ['/validate', '/mutate'] });
const used = process.cpuUsage(cpu);
process.stdout.write(`${JSON.stringify({ ...result, bodyBytes: Buffer.byteLength(body), cpuSeconds: (used.user + used.system) / 1e6 })}\n`);
