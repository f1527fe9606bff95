/**
 * tessera: an embeddable, erasure-coded object store for Node.js.
 * This file is the public surface; everything else is internal.
 */
import { binding } from './binding';

export { TesseraError, AbortError } from './errors';
export { Store } from './store/store';
export type { StoreOpenOptions } from './store/store';
export type {
  GcOptions,
  GcProgress,
  GcReport,
  GcRunOptions,
  SegmentSpace,
  SpaceStats,
} from './gc/index';
export type { ChangeEvent, ChangesPage, WatchOptions } from './store/changes';
export type { RetentionRegistry } from './store/retention';
export type { OpStats, StoreOp, StoreStats } from './store/stats';
export type { BucketConfigKind, BucketConfigs } from './store/bucket_config';
export type { LifecycleRule, NormalizedRule as LifecycleRuleInfo } from './lifecycle/rules';
export type { LifecycleOptions, LifecycleReport, LifecycleRunner } from './lifecycle/runner';
export * as checksums from './checksum/index';
export type { ChecksumInput, ChecksumKernels } from './checksum/index';
export type { TesseraErrorOptions } from './errors';
export { ReedSolomon } from './ec/reed_solomon';
export type { EcBackend, ReedSolomonOptions } from './ec/reed_solomon';
export { startGateway, createGatewayHandler } from './gateway/server';
export {
  setBucketNotification,
  validateNotificationConfig,
} from './gateway/notifications/webhooks';
export type {
  NotificationConfig,
  WebhookNotifierOptions,
  WebhookTarget,
} from './gateway/notifications/webhooks';
export type {
  Gateway,
  GatewayOptions,
  GatewayHandler,
  GatewayHandlerOptions,
  ServerLimits,
} from './gateway/server';
export type { GatewayLimits } from './gateway/handlers/context';
export type { Credential, CredentialsProvider } from './gateway/auth/credentials';

/** Facts about the loaded native addon. */
export interface NativeInfo {
  /** Version compiled into the addon; equals the package version. */
  version: string;
  /** Node-API version the addon was built against. */
  napiVersion: number;
  /** CPU features detected at load, e.g. 'sse4.2 avx2 avx512bw gfni'. */
  cpuFeatures: string[];
}

export function nativeInfo(): NativeInfo {
  return {
    version: binding.version,
    napiVersion: binding.napiVersion,
    cpuFeatures: binding.cpuFeatures.split(' ').filter(Boolean),
  };
}
