// A control plane with the real node: what `npm run up` runs in production mode and what the
// e2e tests that need pods share. The bridge comes first (the API server listens on it), then the
// plane, then containerd with the images imported, the kubelet and kube-proxy.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { startControlPlane, type ControlPlane } from '../control-plane/index.js';
import { deleteBridge, NodeBusyError, prepareNodeNetwork, StrayBridgeError, startNode, stopNodeFromState, readNodeState, type NodeImage, type NodeOwner, type RealNode } from './index.js';

/** Options of startNodeCluster. */
export interface NodeClusterOptions {
  owner: NodeOwner;
  /** The plane's work directory; the node's is `<workDir>/node`. */
  workDir: string;
  /** Remove workDir on stop. Default false. */
  removeWorkDir?: boolean;
  /** Components outlive this process (npm run up). Default false. */
  detached?: boolean;
  crdPaths?: string[];
  gatewayApiBundle?: string;
  /** The pod sandbox image, and the archives to import (the pause image among them). */
  pauseImage: string;
  images: NodeImage[];
  log?: (message: string) => void;
  /**
   * How long to wait for a node another live process runs (one fits per machine) before giving up.
   * Default 0: refuse at once. Test files that each need the node set it, so they take turns.
   */
  waitForNodeMs?: number;
}

/** A control plane and its node. */
export interface NodeCluster {
  cp: ControlPlane;
  node: RealNode;
  /** Stops the node (pods first, host restored), then the plane. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the bridge, the control plane bound to it, and the node; resolves when the node is Ready. */
export async function startNodeCluster(options: NodeClusterOptions): Promise<NodeCluster> {
  const log = options.log ?? (() => {});
  const network = await takeNodeNetwork(options, log);
  let cp: ControlPlane;
  try {
    cp = await startControlPlane({
      workDir: options.workDir,
      removeWorkDir: false,
      detached: options.detached ?? false,
      crdPaths: options.crdPaths ?? [],
      ...(options.gatewayApiBundle ? { gatewayApiBundle: options.gatewayApiBundle } : {}),
      nodeNetwork: network.controlPlane,
      log,
    });
  } catch (error) {
    const state = readNodeState();
    if (state) await stopNodeFromState(state, undefined, log);
    throw error;
  }
  let node: RealNode;
  try {
    node = await startNode(cp, network, { pauseImage: options.pauseImage, images: options.images, detached: options.detached ?? false, log });
  } catch (error) {
    await cp.stop();
    await deleteBridge(log);
    throw error;
  }
  let stopped = false;
  return {
    cp,
    node,
    async stop() {
      if (stopped) return;
      stopped = true;
      let nodeStopped = false;
      try {
        await node.stop({ keepBridge: true });
        nodeStopped = true;
      } finally {
        try {
          await cp.stop();
        } finally {
          await deleteBridge(log);
          // A node that did not stop cleanly may still have mounts there; keep its logs too.
          if (options.removeWorkDir && nodeStopped) await rm(options.workDir, { recursive: true, force: true });
        }
      }
    },
  };
}

/** prepareNodeNetwork, waiting up to `waitForNodeMs` while another live process runs the node. */
async function takeNodeNetwork(options: NodeClusterOptions, log: (message: string) => void) {
  const deadline = Date.now() + (options.waitForNodeMs ?? 0);
  // A node's owner deletes the bridge last, after its API server: give it a minute to get there.
  let strayBridgeSince: number | undefined;
  for (let announced = false; ; ) {
    try {
      return await prepareNodeNetwork({ owner: options.owner, workDir: join(options.workDir, 'node'), log });
    } catch (error) {
      if (error instanceof StrayBridgeError) strayBridgeSince ??= Date.now();
      const stillStopping = error instanceof StrayBridgeError && Date.now() - strayBridgeSince! < 60_000;
      if (!(error instanceof NodeBusyError || stillStopping) || Date.now() >= deadline) throw error;
      if (!announced) log(`${error.message}; waiting up to ${Math.round((deadline - Date.now()) / 1000)} s`);
      announced = true;
      await sleep(2_000);
    }
  }
}

/** What the node needs from build-images.sh's manifest. */
export interface BuiltImages {
  images: Array<{ name: string; ref: string; archive: string }>;
}

/** The reference of the built image called `name` (webhook, controller, sample-backend, pause). */
export function imageRef(manifest: BuiltImages, name: string): string {
  const image = manifest.images.find((candidate) => candidate.name === name);
  if (!image) throw new Error(`the image manifest has no image "${name}" (has: ${manifest.images.map((i) => i.name).join(', ')}); run bash e2e/scripts/build-images.sh`);
  return image.ref;
}

/** The archives a node imports: every built image but the base the others are built from. */
export function nodeImages(manifest: BuiltImages): NodeImage[] {
  return manifest.images.filter((image) => image.name !== 'node-base').map(({ ref, archive }) => ({ ref, archive }));
}
