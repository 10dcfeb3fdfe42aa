import type { EventContext, Message } from 'rhea';
import { acceptToken, ClaimError } from './claims.js';
import { notFound, RefusedError, type Namespace } from './namespace.js';

/** Checks that the entities an audience names exist (the service answers 404 on put-token). */
function checkAudienceEntities(namespace: Namespace, path: string): void {
  if (path === '') return;
  const [hubName = '', ...rest] = path.split('/');
  const hub = namespace.hubNamed(hubName);
  const groupIndex = rest.indexOf('consumergroups');
  const group = groupIndex >= 0 ? rest[groupIndex + 1] : undefined;
  if (group !== undefined && !hub.hasConsumerGroup(group)) throw notFound(`${hub.name}/ConsumerGroups/${group}`);
}

/** A request to the `$cbs` node: put-token grants the connection the audience's entity path. */
export function handleCbs(namespace: Namespace, context: EventContext, request: Message): void {
  const properties = (request.application_properties ?? {}) as Record<string, unknown>;
  if (properties.operation !== 'put-token') {
    namespace.reply(context, request, 400, `unsupported $cbs operation ${String(properties.operation)}`);
    return;
  }
  const audience = String(properties.name ?? '');
  try {
    const path = acceptToken(audience, request.body, properties.type);
    checkAudienceEntities(namespace, path);
    namespace.grant(context.connection, path);
    namespace.reply(context, request, 202, 'Accepted');
  } catch (error) {
    if (error instanceof ClaimError) {
      namespace.log('eventhubs.cbs.rejected', { reason: error.message });
      namespace.reply(context, request, 401, `InvalidSignature: ${error.message}`);
    } else if (error instanceof RefusedError) {
      namespace.reply(context, request, 404, error.message);
    } else throw error;
  }
}
