import { readFile } from 'node:fs/promises';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './delivery.js';

/** One Event Grid subscription, mirroring the one infra/bicep creates for the storage system topic. */
export interface LocalSubscription {
  name: string;
  /** Function that receives the events through the Event Grid webhook route. */
  functionName: string;
  /** App setting holding the storage connection string whose blobs are watched. */
  storageConnection: string;
  includedEventTypes: string[];
  subjectBeginsWith: string;
  subjectEndsWith: string;
  /** As bicep's `retryPolicy`; Event Grid's defaults (30 attempts, 1440 minutes) when absent. */
  retryPolicy?: { maxDeliveryAttempts: number; eventTimeToLiveInMinutes: number };
  /** As bicep's dead-letter destination: a container of the storage the setting names. Without it, given-up events are dropped. */
  deadLetter?: { storageConnection: string; container: string };
}

const CONTAINER_PREFIX = /^\/blobServices\/default\/containers\/([^/]+)\//;

export async function readSubscriptions(path: string): Promise<LocalSubscription[]> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as { subscriptions?: LocalSubscription[] };
  const subscriptions = parsed.subscriptions ?? [];
  for (const subscription of subscriptions) {
    if (!subscription.functionName || !subscription.storageConnection) {
      throw new Error(`${path}: subscription ${subscription.name ?? '?'} needs functionName and storageConnection`);
    }
    containerOf(subscription);
  }
  return subscriptions;
}

/** Local storage has no system topic, so a subscription must name its container in subjectBeginsWith. */
export function containerOf(subscription: LocalSubscription): string {
  const match = CONTAINER_PREFIX.exec(subscription.subjectBeginsWith);
  if (!match) {
    throw new Error(`subscription ${subscription.name}: subjectBeginsWith must start with /blobServices/default/containers/NAME/`);
  }
  return match[1]!;
}

export function matches(subscription: LocalSubscription, eventType: string, subject: string): boolean {
  return (
    subscription.includedEventTypes.includes(eventType) &&
    subject.startsWith(subscription.subjectBeginsWith) &&
    subject.toLowerCase().endsWith(subscription.subjectEndsWith.toLowerCase())
  );
}

/** The subscription's retry policy for delivery (Event Grid's defaults when it sets none). */
export function retryPolicyOf(subscription: LocalSubscription): RetryPolicy {
  const policy = subscription.retryPolicy;
  return policy ? { maxDeliveryAttempts: policy.maxDeliveryAttempts, eventTimeToLiveMs: policy.eventTimeToLiveInMinutes * 60_000 } : DEFAULT_RETRY_POLICY;
}
