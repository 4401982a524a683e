// images.json as written by build-images.sh is accepted; a bad one is refused with an error that
// names the field; readImageManifest finds missing files and archives.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { findImage, imageManifestPath, parseImageManifest, readImageManifest } from './manifest.js';

const ID = 'a1ed764ef811'.padEnd(64, '0');

function entry(name: string, archive: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    ref: `localhost/kaos/${name}:dev-a1ed764ef811`,
    registry: 'localhost',
    repository: `kaos/${name}`,
    tag: 'dev-a1ed764ef811',
    id: ID,
    archive,
    sizeBytes: 214_000_000,
    builtSeconds: 2.6,
    cached: true,
    lastBuiltSeconds: 109.2,
    lastBuiltAt: '2026-11-30T03:38:47.000Z',
    ...overrides,
  };
}

function manifest(images: Record<string, unknown>[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 1, generatedAt: '2026-11-30T03:39:04.248Z', storageDriver: 'overlay', storageRoot: '/cache/images/storage', images, ...overrides };
}

describe('image manifest', () => {
  let dir = '';
  let archive = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kaos-images-'));
    archive = join(dir, 'webhook.tar');
    await writeFile(archive, 'not really an archive');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts what build-images.sh writes and finds an image by name', () => {
    const parsed = parseImageManifest(manifest([entry('webhook', '/x/webhook.tar'), entry('pause', '/x/pause.tar', { tag: '3.10', ref: 'localhost/kaos/pause:3.10' })]));
    expect(parsed.images.map((image) => image.name)).toEqual(['webhook', 'pause']);
    expect(findImage(parsed, 'pause').ref).toBe('localhost/kaos/pause:3.10');
    expect(() => findImage(parsed, 'controller')).toThrow('has no controller image (has: webhook, pause)');
  });

  it.each([
    ['schemaVersion', manifest([], { schemaVersion: 2 }), 'schemaVersion must be 1, got 2'],
    ['storageDriver', manifest([], { storageDriver: '' }), 'storageDriver must be a non-empty string, got ""'],
    ['images', manifest([], { images: {} }), 'images must be an array, got {}'],
    ['name', manifest([entry('webhok', '/x')]), 'images[0].name must be one of node-base, pause, webhook, controller, sample-backend, got "webhok"'],
    ['duplicate name', manifest([entry('webhook', '/x'), entry('webhook', '/y')]), 'images[1].name must be unique, got "webhook"'],
    ['ref', manifest([entry('webhook', '/x', { ref: 'localhost/kaos/webhook:latest' })]), 'images[0].ref must be "<registry>/<repository>:<tag>" of this entry'],
    ['archive', manifest([entry('webhook', '/x', { archive: undefined })]), 'images[0].archive must be a non-empty string, got nothing'],
    ['id', manifest([entry('webhook', '/x', { id: 'sha256:abc' })]), 'images[0].id must be 64 lowercase hex digits, got "sha256:abc"'],
    ['sizeBytes', manifest([entry('webhook', '/x', { sizeBytes: '214MB' })]), 'images[0].sizeBytes must be a positive integer, got "214MB"'],
    ['builtSeconds', manifest([entry('webhook', '/x', { builtSeconds: -1 })]), 'images[0].builtSeconds must be a number >= 0, got -1'],
    ['cached', manifest([entry('webhook', '/x', { cached: 'yes' })]), 'images[0].cached must be a boolean, got "yes"'],
  ])('refuses a bad %s, naming the field', (_field, json, message) => {
    expect(() => parseImageManifest(json, 'test.json')).toThrow(`test.json: ${message}`);
  });

  it('refuses a document that is not an object', () => {
    expect(() => parseImageManifest([], 'test.json')).toThrow('test.json: the document must be an object, got []');
  });

  it('reads a manifest file and checks its archives', async () => {
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify(manifest([entry('webhook', archive)])));
    expect(findImage(readImageManifest(good), 'webhook').archive).toBe(archive);

    const missingArchive = join(dir, 'missing-archive.json');
    await writeFile(missingArchive, JSON.stringify(manifest([entry('webhook', join(dir, 'gone.tar'))])));
    expect(() => readImageManifest(missingArchive)).toThrow(`images[0].archive ${join(dir, 'gone.tar')} (webhook) does not exist`);

    const notJson = join(dir, 'not-json.json');
    await writeFile(notJson, '{"schemaVersion": 1,');
    expect(() => readImageManifest(notJson)).toThrow(`${notJson}: not JSON`);

    expect(() => readImageManifest(join(dir, 'absent.json'))).toThrow('run e2e/scripts/build-images.sh');
  });

  it('keeps the manifest in the shared cache', () => {
    const saved = process.env['KAOS_E2E_CACHE'];
    process.env['KAOS_E2E_CACHE'] = '/somewhere/cache';
    try {
      expect(imageManifestPath()).toBe('/somewhere/cache/images/images.json');
    } finally {
      if (saved === undefined) delete process.env['KAOS_E2E_CACHE'];
      else process.env['KAOS_E2E_CACHE'] = saved;
    }
  });
});
