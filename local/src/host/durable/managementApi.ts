import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { disabledReason, findFunction } from '../invoke.js';
import type { AppRegistry } from '../registry.js';
import { EVENT_NAMES, EventType, historyEvent, type HistoryEvent } from './history.js';
import { InstanceExistsError, invalidInstanceId, newInstanceId, notifyParent, releaseLocks, startInstance, type InstanceRow } from './instances.js';
import { entitySchedulerId, Outbox, parseSchedulerId } from './outbox.js';
import { rewindInstance, RewindRefusedError } from './rewind.js';
import { inTransaction } from './store.js';

const ACTIVE = new Set(['Pending', 'Running', 'Suspended', 'ContinuedAsNew']);
const PAGE_SIZE = 100;

/** URLs the extension hands to clients (`createCheckStatusResponse`), pointing at this host. */
export function managementUrls(origin: string, hubName: string, instanceId: string): Record<string, string> {
  const base = `${origin}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`;
  const query = `taskHub=${encodeURIComponent(hubName)}&connection=Storage`;
  return {
    id: instanceId,
    statusQueryGetUri: `${base}?${query}`,
    sendEventPostUri: `${base}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${base}/terminate?reason={text}&${query}`,
    rewindPostUri: `${base}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${base}?${query}`,
    restartPostUri: `${base}/restart?${query}`,
    suspendPostUri: `${base}/suspend?reason={text}&${query}`,
    resumePostUri: `${base}/resume?reason={text}&${query}`,
  };
}

/** The `durableClient` input binding data (`BindingHelper.cs`); `rpcBaseUrl` is what the JS client calls. */
export function durableClientData(origin: string, hubName: string): Record<string, unknown> {
  const base = `${origin}/runtime/webhooks/durabletask`;
  return {
    taskHubName: hubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}`,
    },
    managementUrls: managementUrls(origin, hubName, 'INSTANCEID'),
    baseUrl: base,
    requiredQueryStringParameters: '',
    rpcBaseUrl: `${origin}/durabletask/`,
  };
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The management HTTP API of the extension (`HttpApiHandler.cs`) under `/runtime/webhooks/durabletask/` and `/durabletask/`. */
export class ManagementApi {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly registry: AppRegistry,
    private readonly hubName: string,
    private readonly forget: (instanceId: string) => void,
  ) {}

  /** `path`: below the API's prefix, decoded as the web server decodes it (`decodeRequestPath`). */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL, path: string, body: Buffer): Promise<void> {
    const origin = `http://${request.headers.host ?? 'localhost'}`;
    const reply = await this.route(request.method ?? 'GET', path.split('/').filter(Boolean), url, body, origin, request.headers['content-type']);
    const headers = { ...(reply.headers ?? {}) };
    if (reply.body === undefined) {
      response.writeHead(reply.status, headers).end();
      return;
    }
    response.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(reply.body));
  }

  private async route(method: string, parts: string[], url: URL, body: Buffer, origin: string, contentType: string | undefined): Promise<Reply> {
    const [resource, a, b, c] = parts;
    if (resource === 'orchestrators' && method === 'POST' && a && parts.length <= 3) {
      const started = await this.start(a, b, body, origin);
      const timeout = Number(url.searchParams.get('timeout') ?? 0);
      if (started.status !== 202 || !(timeout > 0)) return started;
      const id = (started.body as { id: string }).id;
      return this.waitForCompletion(id, timeout * 1000, Number(url.searchParams.get('pollingInterval') ?? 1) * 1000, started);
    }
    if (resource === 'instances') {
      if (!a) {
        if (method === 'GET') return this.list(url);
        if (method === 'DELETE') return this.purgeBy(url);
      } else if (parts.length === 2) {
        if (method === 'GET') return this.status(a, url, origin);
        if (method === 'DELETE') return this.purge(a);
      } else if (method === 'POST' && b === 'raiseEvent' && c && parts.length === 4) {
        return this.raiseEvent(a, c, body, contentType);
      } else if (method === 'POST' && b === 'restart' && parts.length === 3) {
        return this.restart(a, url, origin);
      } else if (method === 'POST' && b === 'rewind' && parts.length === 3) {
        return this.rewind(a, url.searchParams.get('reason') ?? '');
      } else if (method === 'POST' && b && parts.length === 3) {
        return this.control(a, b, url.searchParams.get('reason') ?? '');
      }
    }
    if (resource === 'entities') {
      if (!a && method === 'GET') return this.listEntities(url);
      if (a && b !== undefined && parts.length === 3) {
        const key = b === '$' ? '' : b;
        if (method === 'GET') return this.readEntity(a, key);
        if (method === 'POST' || method === 'DELETE') return this.signalEntity(a, key, method === 'DELETE' ? 'delete' : (url.searchParams.get('op') ?? ''), body);
      }
    }
    return { status: 404, body: { message: 'No such management API route.' } };
  }

  private async start(name: string, requestedId: string | undefined, body: Buffer, origin: string): Promise<Reply> {
    const fn = findFunction(this.registry, 'orchestrationTrigger', name);
    if (!fn) {
      const disabled = disabledReason(this.registry, name);
      return { status: 400, body: { message: `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.${disabled ? ` ${disabled}` : ''}` } };
    }
    const instanceId = requestedId ?? newInstanceId();
    const invalid = invalidInstanceId(instanceId);
    if (invalid) return { status: 400, body: { message: invalid } };
    const text = body.toString('utf8').trim();
    let input: string | null = null;
    if (text) {
      try {
        input = JSON.stringify(JSON.parse(text));
      } catch {
        return { status: 400, body: { message: 'The request body is not valid JSON.' } };
      }
    }
    try {
      await inTransaction(this.pool, async (client) => {
        const outbox = new Outbox();
        await startInstance(client, outbox, { name: fn.name, instanceId, input });
        await outbox.flush(client, this.schema);
      });
    } catch (error) {
      if (error instanceof InstanceExistsError) return { status: 500, body: { message: error.message } };
      throw error;
    }
    this.forget(instanceId);
    const urls = managementUrls(origin, this.hubName, instanceId);
    return { status: 202, body: urls, headers: { Location: urls.statusQueryGetUri as string, 'Retry-After': '10' } };
  }

  /** createAndWaitOnNewInstance: 200 with the output if the instance ends in time, else the check-status reply. */
  private async waitForCompletion(id: string, timeoutMs: number, intervalMs: number, pending: Reply): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.instance(id);
      if (row && !ACTIVE.has(row.status)) return { status: 200, body: row.output === null ? null : JSON.parse(row.output) };
      if (Date.now() + intervalMs > deadline) return pending;
      await new Promise((resolve) => setTimeout(resolve, Math.max(50, intervalMs)));
    }
  }

  /** restart: a new run of the same orchestration and input, under a new id unless `restartWithNewInstanceId=false`. */
  private async restart(id: string, url: URL, origin: string): Promise<Reply> {
    const row = await this.instance(id);
    if (!row) return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
    const sameId = url.searchParams.get('restartWithNewInstanceId') === 'false';
    return this.start(row.name, sameId ? id : undefined, Buffer.from(row.input ?? ''), origin);
  }

  /** rewind (`HttpApiHandler.HandleRewindInstanceRequestAsync`): 404 unknown, 410 ended, 500 not failed, else 202. */
  private async rewind(id: string, reason: string): Promise<Reply> {
    try {
      const rewound = await inTransaction(this.pool, async (client) => {
        const outbox = new Outbox();
        const ids = await rewindInstance(client, outbox, id, reason);
        await outbox.flush(client, this.schema);
        return ids;
      });
      rewound.forEach((instanceId) => this.forget(instanceId));
      return { status: 202 };
    } catch (error) {
      if (error instanceof RewindRefusedError) return { status: error.status, body: { message: error.message } };
      throw error;
    }
  }

  private async instance(id: string): Promise<InstanceRow | undefined> {
    const { rows } = await this.pool.query<InstanceRow>('SELECT * FROM instances WHERE instance_id = $1', [id]);
    return rows[0];
  }

  private async status(id: string, url: URL, origin: string): Promise<Reply> {
    const row = await this.instance(id);
    if (!row) return { status: 404 };
    const payload = statusPayload(row, url.searchParams.get('showInput') !== 'false');
    if (url.searchParams.get('showHistory') === 'true') {
      const { rows } = await this.pool.query<{ event: string }>('SELECT event FROM history WHERE instance_id = $1 ORDER BY seq', [id]);
      payload.historyEvents = friendlyHistory(rows.map((r) => JSON.parse(r.event) as HistoryEvent), url.searchParams.get('showHistoryOutput') === 'true');
    }
    if (ACTIVE.has(row.status)) {
      return { status: 202, body: payload, headers: { Location: managementUrls(origin, this.hubName, id).statusQueryGetUri as string, 'Retry-After': '5' } };
    }
    const failedAs500 = row.status === 'Failed' && url.searchParams.get('returnInternalServerErrorOnFailure') === 'true';
    return { status: failedAs500 ? 500 : 200, body: payload };
  }

  private async list(url: URL): Promise<Reply> {
    const q = url.searchParams;
    const conditions: string[] = [];
    const values: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      values.push(value);
      conditions.push(sql.replace('?', `$${values.length}`));
    };
    if (q.get('createdTimeFrom')) add('created_at >= ?', new Date(q.get('createdTimeFrom') as string));
    if (q.get('createdTimeTo')) add('created_at <= ?', new Date(q.get('createdTimeTo') as string));
    if (q.get('runtimeStatus')) add('status = ANY(?)', (q.get('runtimeStatus') as string).split(',').map((s) => s.trim()).filter(Boolean));
    if (q.get('instanceIdPrefix')) add(`starts_with(instance_id, ?)`, q.get('instanceIdPrefix'));
    const top = Math.max(1, Math.min(1000, Number(q.get('top') ?? PAGE_SIZE) || PAGE_SIZE));
    const token = (url.searchParams.get('continuationToken') ?? '') || undefined;
    const offset = continuationOffset(token);
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const { rows } = await this.pool.query<InstanceRow>(
      `SELECT * FROM instances ${where} ORDER BY created_at, instance_id LIMIT ${top + 1} OFFSET ${offset}`,
      values,
    );
    const page = rows.slice(0, top).map((row) => statusPayload(row, q.get('showInput') !== 'false'));
    const headers: Record<string, string> = rows.length > top ? { 'x-ms-continuation-token': Buffer.from(String(offset + top)).toString('base64') } : {};
    return { status: 200, body: page, headers };
  }

  private async purge(id: string): Promise<Reply> {
    const deleted = await inTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM instances WHERE instance_id = $1', [id]);
      await client.query('DELETE FROM history WHERE instance_id = $1', [id]);
      await client.query('DELETE FROM inbox WHERE instance_id = $1', [id]);
      await client.query('DELETE FROM activity_queue WHERE instance_id = $1', [id]);
      return rowCount ?? 0;
    });
    this.forget(id);
    return deleted ? { status: 200, body: { instancesDeleted: deleted } } : { status: 404 };
  }

  private async purgeBy(url: URL): Promise<Reply> {
    const q = url.searchParams;
    const from = q.get('createdTimeFrom');
    if (!from) return { status: 400, body: { message: 'A createdTimeFrom query parameter is required.' } };
    const statuses = q.get('runtimeStatus')?.split(',').map((s) => s.trim()).filter(Boolean);
    const deleted = await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ instance_id: string }>(
        `DELETE FROM instances WHERE created_at >= $1 AND ($2::timestamptz IS NULL OR created_at <= $2)
           AND ($3::text[] IS NULL OR status = ANY($3)) RETURNING instance_id`,
        [new Date(from), q.get('createdTimeTo') ? new Date(q.get('createdTimeTo') as string) : null, statuses ?? null],
      );
      const ids = rows.map((r) => r.instance_id);
      for (const table of ['history', 'inbox', 'activity_queue']) await client.query(`DELETE FROM ${table} WHERE instance_id = ANY($1)`, [ids]);
      return ids;
    });
    deleted.forEach((id) => this.forget(id));
    return deleted.length ? { status: 200, body: { instancesDeleted: deleted.length } } : { status: 404 };
  }

  private async raiseEvent(id: string, name: string, body: Buffer, contentType: string | undefined): Promise<Reply> {
    const row = await this.instance(id);
    if (!row) return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
    if (!ACTIVE.has(row.status)) return { status: 410, body: { message: `Instance '${id}' is ${row.status}.` } };
    if (!contentType?.toLowerCase().startsWith('application/json')) return { status: 400, body: { message: 'Only application/json request content is supported' } };
    const text = body.toString('utf8');
    try {
      JSON.parse(text || 'null');
    } catch {
      return { status: 400, body: { message: 'Invalid JSON content.' } };
    }
    await inTransaction(this.pool, async (client) => {
      const outbox = new Outbox();
      outbox.inbox.push({ instanceId: id, executionId: null, event: historyEvent(EventType.EventRaised, { Name: name, Input: text || null }) });
      await outbox.flush(client, this.schema);
    });
    return { status: 202 };
  }

  /** terminate / suspend / resume, applied under the instance's row lock (waits for a running episode). */
  private async control(id: string, operation: string, reason: string): Promise<Reply> {
    if (!['terminate', 'suspend', 'resume'].includes(operation)) {
      // A bare string, as the extension answers it: the JS client makes it the error's message.
      return { status: 501, body: `The ${operation} operation is not supported by the local host's storage provider.` };
    }
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<InstanceRow>('SELECT * FROM instances WHERE instance_id = $1 FOR UPDATE', [id]);
      const row = rows[0];
      if (!row) return { status: 404, body: { message: `No instance with ID '${id}' found.` } };
      if (!ACTIVE.has(row.status)) return { status: 410, body: { message: `Instance '${id}' is ${row.status}.` } };
      const outbox = new Outbox();
      if (operation === 'terminate') {
        const output = JSON.stringify(reason);
        await client.query(`UPDATE instances SET status = 'Terminated', output = $2, updated_at = now() WHERE instance_id = $1`, [id, output]);
        await client.query(
          `INSERT INTO history (instance_id, seq, event) SELECT $1, coalesce(max(seq) + 1, 0), $2 FROM history WHERE instance_id = $1`,
          [id, JSON.stringify(historyEvent(EventType.ExecutionTerminated, { Input: reason }))],
        );
        await client.query('DELETE FROM inbox WHERE instance_id = $1', [id]);
        await releaseLocks(client, this.schema, id);
        notifyParent(outbox, row, { reason: `Orchestration terminated: ${reason}`, details: JSON.stringify({ message: reason }) });
      } else if (operation === 'suspend') {
        if (row.status !== 'Suspended') await client.query(`UPDATE instances SET status = 'Suspended', updated_at = now() WHERE instance_id = $1`, [id]);
      } else if (row.status === 'Suspended') {
        const hasHistory = await client.query('SELECT 1 FROM history WHERE instance_id = $1 LIMIT 1', [id]);
        await client.query(`UPDATE instances SET status = $2, updated_at = now() WHERE instance_id = $1`, [id, hasHistory.rowCount ? 'Running' : 'Pending']);
        await client.query(`SELECT pg_notify('${this.schema}_orchestrations', '')`);
      }
      await outbox.flush(client, this.schema);
      this.forget(id);
      return { status: 202 };
    });
  }

  private async readEntity(name: string, key: string): Promise<Reply> {
    const { rows } = await this.pool.query<{ state: string | null; entity_exists: boolean }>(
      'SELECT state, entity_exists FROM entities WHERE entity_id = $1',
      [entitySchedulerId(name, key)],
    );
    const row = rows[0];
    if (!row?.entity_exists) return { status: 404 };
    return { status: 200, body: row.state === null ? null : JSON.parse(row.state) };
  }

  private async listEntities(url: URL): Promise<Reply> {
    const prefix = url.searchParams.get('entityName');
    const { rows } = await this.pool.query<{ entity_id: string; state: string | null; updated_at: Date }>(
      `SELECT entity_id, state, updated_at FROM entities WHERE entity_exists AND ($1::text IS NULL OR name = lower($1)) ORDER BY entity_id`,
      [prefix],
    );
    const fetchState = url.searchParams.get('fetchState') === 'true';
    return {
      status: 200,
      body: rows.map((r) => {
        const id = parseSchedulerId(r.entity_id);
        return { entityId: { name: id.name, key: id.key }, lastOperationTime: r.updated_at.toISOString(), ...(fetchState ? { state: r.state === null ? null : JSON.parse(r.state) } : {}) };
      }),
    };
  }

  private async signalEntity(name: string, key: string, op: string, body: Buffer): Promise<Reply> {
    if (!findFunction(this.registry, 'entityTrigger', name)) {
      return { status: 400, body: { message: `The function '${name}' doesn't exist, is disabled, or is not an entity function.` } };
    }
    const text = body.toString('utf8').trim();
    if (text) {
      try {
        JSON.parse(text);
      } catch {
        return { status: 400, body: { message: 'Invalid JSON content.' } };
      }
    }
    await inTransaction(this.pool, async (client) => {
      const outbox = new Outbox();
      const message: Record<string, unknown> = { op, signal: true, id: newInstanceId() };
      if (text) message.input = text;
      outbox.entityMessages.push({ entityId: entitySchedulerId(name, key), message });
      await outbox.flush(client, this.schema);
    });
    return { status: 202 };
  }
}

function continuationOffset(token: string | undefined): number {
  if (!token) return 0;
  const value = Number(Buffer.from(token, 'base64').toString('utf8'));
  return Number.isInteger(value) && value >= 0 ? value : 0;
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `StatusResponsePayload`: input and output are always present (the JS client requires both). */
function statusPayload(row: InstanceRow, showInput: boolean): Record<string, unknown> {
  return {
    name: row.name,
    instanceId: row.instance_id,
    runtimeStatus: row.status,
    input: showInput && row.input !== null ? JSON.parse(row.input) : null,
    customStatus: row.custom_status === null ? null : JSON.parse(row.custom_status),
    output: row.output === null ? null : JSON.parse(row.output),
    createdTime: isoSeconds(row.created_at),
    lastUpdatedTime: isoSeconds(row.updated_at),
  };
}

/** The extension's "friendly" history: names for event types, scheduling events folded into their completions. */
function friendlyHistory(events: HistoryEvent[], showOutput: boolean): unknown[] {
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of events) if (e.EventId >= 0) scheduled.set(e.EventId, e);
  const hidden = new Set<number>([EventType.OrchestratorStarted, EventType.OrchestratorCompleted, EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated]);
  return events
    .filter((e) => !hidden.has(e.EventType))
    .map((e) => {
      const { EventType: type, EventId: _id, IsPlayed: _played, Result, ...rest } = e;
      const origin = scheduled.get((e.TaskScheduledId ?? e.TimerId ?? -2) as number);
      return {
        EventType: EVENT_NAMES[type] ?? String(type),
        ...rest,
        ...(origin ? { FunctionName: origin.Name, ScheduledTime: origin.Timestamp } : {}),
        ...(showOutput && Result !== undefined ? { Result } : {}),
      };
    });
}
