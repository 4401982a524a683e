// The esbuild options of the apps' image bundles: used by scripts/bundle-app.mjs to build them and
// by the tests that check what those bundles hold and do, so the two cannot drift apart.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const librariesRoot = `${resolve(repositoryRoot, 'libs')}/`;

/** CommonJS dependencies (winston, express) call require(); the ESM bundle gets one. */
export const REQUIRE_BANNER = "import { createRequire as __kaosCreateRequire } from 'node:module'; const require = __kaosCreateRequire(import.meta.url);";

/**
 * Declares the project's libraries (libs/*) free of side effects, as they are by design (no I/O,
 * nothing registered at import), so esbuild leaves out a library module none of whose exports an
 * app uses, with the packages only it imports: without this the controller's bundle carried the
 * webhook's Ajv validators (ADR 0023). What `"sideEffects": false` in a package.json would say;
 * the libraries have no package.json of their own.
 */
export const pureLibraries = {
  name: 'kaos-pure-libraries',
  setup(build) {
    build.onResolve({ filter: /^(@kaos\/|\.\.?\/)/ }, async (args) => {
      if (args.pluginData === pureLibraries.name) return undefined;
      if (!args.path.startsWith('@kaos/') && !args.importer.startsWith(librariesRoot)) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: pureLibraries.name });
      if (resolved.errors.length > 0 || !resolved.path.startsWith(librariesRoot)) return undefined;
      return { path: resolved.path, sideEffects: false };
    });
  },
};

/** The options every image bundle of `app` is built with; add the entry points and where to write. */
export function imageBundleOptions(app) {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // Smaller code is less memory: the bundle source and its compiled functions live in the heap.
    minify: true,
    // Readable stack traces without source maps in memory (ADR 0008).
    keepNames: true,
    tsconfig: resolve(repositoryRoot, `apps/${app}/tsconfig.json`),
    banner: { js: REQUIRE_BANNER },
    plugins: [pureLibraries],
  };
}
