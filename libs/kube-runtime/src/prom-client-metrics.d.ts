// prom-client's individual default-metric collectors (CommonJS, untyped): each registers its
// metrics in the registry it is given.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const collect: (registry: Registry, config?: { eventLoopMonitoringPrecision?: number; prefix?: string; labels?: Record<string, string> }) => void;
  export default collect;
}
