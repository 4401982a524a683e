// Where a process's resident memory is, for the benchmarks of both apps (bench:controller's
// accounting, ADR 0023; the webhook's memory probe, ADR 0008).
import { readFileSync, readlinkSync } from 'node:fs';

/** Resident memory of one process by kind of mapping, MB. */
export interface ResidentParts {
  /** Pages of its executable (node's or a Go binary's code and data), file-backed and shared with every process of that binary, but counted in each one's RSS. */
  binary: number;
  /** Shared libraries and other mapped files. */
  files: number;
  /** The brk heap: glibc malloc's main arena (OpenSSL, ICU, V8's and libuv's native allocations). */
  'brk heap': number;
  /** Anonymous mappings: V8's heap pages, malloc's other arenas and mmapped blocks, thread stacks, JIT code; Go's heap. */
  anonymous: number;
}

/** Splits the RSS of process `pid` by kind of mapping, from /proc/<pid>/smaps. */
export function residentParts(pid: number): ResidentParts {
  const parts: ResidentParts = { binary: 0, files: 0, 'brk heap': 0, anonymous: 0 };
  const executable = readlinkSync(`/proc/${pid}/exe`);
  let part: keyof ResidentParts = 'anonymous';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/);
    if (header) {
      const path = header[1]!.trim();
      part = path === executable ? 'binary' : path === '[heap]' ? 'brk heap' : path === '' || path.startsWith('[') ? 'anonymous' : 'files';
      continue;
    }
    const rss = line.match(/^Rss:\s+(\d+) kB/);
    if (rss) parts[part] += Number(rss[1]) / 1024;
  }
  return parts;
}
