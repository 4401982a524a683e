// The container images of the e2e node, built without a registry by e2e/scripts/build-images.sh
// into <cache>/images/, described there by images.json. Each image comes with an archive for
// `ctr -n k8s.io images import <archive>` that names the image with its `ref`.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { cacheRoot, repoRoot } from '../control-plane/paths.js';

/** The images build-images.sh knows, in build order. */
export const IMAGE_NAMES = ['node-base', 'pause', 'webhook', 'controller', 'sample-backend'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** One built image, as recorded in images.json. */
export interface ImageEntry {
  name: ImageName;
  /** Full reference: `<registry>/<repository>:<tag>`, e.g. localhost/kaos-tools/kaos-routing-webhook:dev-0123456789ab. */
  ref: string;
  /** Always `localhost`: the images exist only where they are imported. */
  registry: string;
  /** As in the chart's values (`webhook.image.repository`), e.g. kaos-tools/kaos-routing-webhook. */
  repository: string;
  /** `dev-<12 hex of the image ID>` for the apps and the sample backend; fixed for node-base and pause. */
  tag: string;
  /** Image ID (hex sha256 of the image config), identical for identical inputs. */
  id: string;
  /** docker-archive of the image, ready for `ctr -n k8s.io images import`. */
  archive: string;
  /** Uncompressed size of the image's layers. */
  sizeBytes: number;
  /** Seconds the last run of build-images.sh spent on this image (0 when it did not touch it). */
  builtSeconds: number;
  /** Whether the last run reused the image as it was. */
  cached: boolean;
  /** Seconds of the build that produced this image, and when it ended (ISO 8601). */
  lastBuiltSeconds?: number;
  lastBuiltAt?: string;
}

/** images.json as written by build-images.sh. */
export interface ImageManifest {
  schemaVersion: 1;
  generatedAt: string;
  /** buildah storage driver of the build cache (overlay, or vfs where overlay does not work). */
  storageDriver: string;
  storageRoot: string;
  images: ImageEntry[];
}

/** The script that builds the images and writes the manifest. */
export const buildImagesScript: string = join(repoRoot, 'e2e/scripts/build-images.sh');

/** Path of images.json: <cache>/images/images.json (see cacheRoot()). */
export function imageManifestPath(): string {
  return join(cacheRoot(), 'images', 'images.json');
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const show = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value));

/** Validates parsed images.json content; the error names the first bad field. */
export function parseImageManifest(json: unknown, source = 'images.json'): ImageManifest {
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new Error(`${source}: ${field} must be ${expected}, got ${show(value)}`);
  };
  if (!isRecord(json)) return fail('the document', 'an object', json);
  if (json['schemaVersion'] !== 1) fail('schemaVersion', '1', json['schemaVersion']);
  for (const key of ['generatedAt', 'storageDriver', 'storageRoot'] as const) {
    if (typeof json[key] !== 'string' || json[key] === '') fail(key, 'a non-empty string', json[key]);
  }
  const images = json['images'];
  if (!Array.isArray(images)) return fail('images', 'an array', images);
  const seen = new Set<string>();
  const entries = images.map((image: unknown, i): ImageEntry => {
    const at = (key: string): string => `images[${i}].${key}`;
    if (!isRecord(image)) return fail(`images[${i}]`, 'an object', image);
    const name = image['name'];
    if (typeof name !== 'string' || !(IMAGE_NAMES as readonly string[]).includes(name)) fail(at('name'), `one of ${IMAGE_NAMES.join(', ')}`, name);
    if (seen.has(name as string)) fail(at('name'), 'unique', name);
    seen.add(name as string);
    for (const key of ['ref', 'registry', 'repository', 'tag', 'archive'] as const) {
      if (typeof image[key] !== 'string' || image[key] === '') fail(at(key), 'a non-empty string', image[key]);
    }
    if (image['ref'] !== `${String(image['registry'])}/${String(image['repository'])}:${String(image['tag'])}`) {
      fail(at('ref'), `"<registry>/<repository>:<tag>" of this entry`, image['ref']);
    }
    if (typeof image['id'] !== 'string' || !/^[0-9a-f]{64}$/.test(image['id'])) fail(at('id'), '64 lowercase hex digits', image['id']);
    const sizeBytes = image['sizeBytes'];
    if (typeof sizeBytes !== 'number' || !Number.isInteger(sizeBytes) || sizeBytes <= 0) fail(at('sizeBytes'), 'a positive integer', sizeBytes);
    const builtSeconds = image['builtSeconds'];
    if (typeof builtSeconds !== 'number' || !Number.isFinite(builtSeconds) || builtSeconds < 0) fail(at('builtSeconds'), 'a number >= 0', builtSeconds);
    if (typeof image['cached'] !== 'boolean') fail(at('cached'), 'a boolean', image['cached']);
    const lastBuiltSeconds = image['lastBuiltSeconds'];
    if (lastBuiltSeconds !== undefined && (typeof lastBuiltSeconds !== 'number' || !(lastBuiltSeconds >= 0))) fail(at('lastBuiltSeconds'), 'a number >= 0 when present', lastBuiltSeconds);
    if (image['lastBuiltAt'] !== undefined && typeof image['lastBuiltAt'] !== 'string') fail(at('lastBuiltAt'), 'a string when present', image['lastBuiltAt']);
    return image as unknown as ImageEntry;
  });
  return { ...(json as unknown as ImageManifest), images: entries };
}

/** Reads and validates images.json, and checks that every archive it names exists. */
export function readImageManifest(path: string = imageManifestPath()): ImageManifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the image manifest ${path} (${(error as Error).message}); run e2e/scripts/build-images.sh`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not JSON (${(error as Error).message}); run e2e/scripts/build-images.sh`);
  }
  const manifest = parseImageManifest(json, path);
  manifest.images.forEach((image, i) => {
    if (!existsSync(image.archive)) throw new Error(`${path}: images[${i}].archive ${image.archive} (${image.name}) does not exist; run e2e/scripts/build-images.sh`);
  });
  return manifest;
}

/** The entry of one image; throws when the manifest has none (e.g. built with --only). */
export function findImage(manifest: ImageManifest, name: ImageName): ImageEntry {
  const image = manifest.images.find((entry) => entry.name === name);
  if (!image) throw new Error(`the image manifest has no ${name} image (has: ${manifest.images.map((entry) => entry.name).join(', ') || 'none'}); run e2e/scripts/build-images.sh`);
  return image;
}

/** Runs build-images.sh (progress lines go to log; cached images take seconds) and returns the manifest it wrote. */
export function buildImages(log: (msg: string) => void, options: { only?: readonly ImageName[] } = {}): Promise<ImageManifest> {
  const args = options.only && options.only.length > 0 ? ['--only', options.only.join(',')] : [];
  return new Promise((resolvePromise, reject) => {
    const child = execFile('bash', [buildImagesScript, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`build-images.sh ${args.join(' ')} failed: ${err.message}\n${stderr.split('\n').slice(-40).join('\n')}`));
        return;
      }
      const lines = stdout.trim().split('\n');
      try {
        resolvePromise(readImageManifest((lines[lines.length - 1] ?? '').trim() || imageManifestPath()));
      } catch (error) {
        reject(error as Error);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(line);
    });
  });
}
