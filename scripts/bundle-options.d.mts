import type { BuildOptions, Plugin } from 'esbuild';

/** CommonJS dependencies call require(); the ESM bundle gets one. */
export declare const REQUIRE_BANNER: string;
/** Declares libs/* free of side effects for esbuild. */
export declare const pureLibraries: Plugin;
/** The options every image bundle of `app` is built with; add the entry points and where to write. */
export declare function imageBundleOptions(app: 'webhook' | 'controller'): BuildOptions;
