/**
 * The app's settings, each declared once, and the one module that reads process.env for the app.
 *
 * To add a setting: add ONE entry to `appSettings` below, where its key is its place in `Settings`:
 * `positiveInteger({ name: 'MY_SETTING', default: ENGINE_CONSTANT, description: '...' })` (or `text`, `optionalText`,
 * `nonNegativeInteger`, `share`, `boolean`, `httpUrl`; a default the engine also uses comes from the engine's constant,
 * e.g. src/engine/ingestPolicy.ts). Its type in `Settings`, its validation in `loadSettings` and its row in
 * `settingDefinitions` (which the infra test checks bicep against) all follow from that entry. A setting only the
 * Functions host reads goes in `hostSettings`; one read together with others (a connection) is a `group`.
 */
import {
  DEFAULT_CHUNK_BYTES, DEFAULT_MAX_CHUNKS_IN_FLIGHT, DEFAULT_MAX_CONCURRENT_COMMITS, DEFAULT_MAX_ERROR_ROWS, DEFAULT_MAX_REJECTED_SHARE,
  DEFAULT_UPLOAD_MAX_BYTES, DEFAULT_UPLOAD_PART_BYTES, DEFAULT_UPLOAD_ABANDON_HOURS, DEFAULT_UPLOAD_PARTS_PER_MINUTE, MAX_UPLOAD_PART_BYTES,
  MIN_UPLOAD_PART_BYTES, MIN_AUDIT_RETENTION_DAYS,
} from '../engine/index.js';

type ReadBy = 'host' | 'app' | 'host+app';

export interface SettingDefinition {
  readonly name: string;
  /** Required settings must be present in every deployment (in one of the forms in `satisfiedBy`). */
  readonly requirement: 'required' | 'optional';
  /** Who reads it: the Functions host (bindings, host.json), the app code, or both. */
  readonly readBy: ReadBy;
  readonly default?: string;
  readonly description: string;
  /**
   * Alternative sets of app-setting names; the setting is configured when every name of one set is present.
   * Connections accept a connection string (the bare name) or identity-based properties (`NAME__property`).
   */
  readonly satisfiedBy: readonly (readonly string[])[];
}

/** What an entry says; everything but name and description has a default (optional, read by the app). */
interface Declaration<D = string> {
  readonly name: string;
  readonly description: string;
  readonly requirement?: 'required' | 'optional';
  readonly readBy?: ReadBy;
  readonly default?: D;
  readonly satisfiedBy?: readonly (readonly string[])[];
}

function define(declaration: Declaration<string | number | boolean>): SettingDefinition {
  const { name, description, requirement = 'optional', readBy = 'app', satisfiedBy = [[name]] } = declaration;
  return { name, requirement, readBy, ...(declaration.default === undefined ? {} : { default: String(declaration.default) }), description, satisfiedBy };
}

/** One entry of `appSettings`: the settings it covers and how the app reads them into a value of type T. */
class Setting<T> {
  constructor(
    readonly definitions: readonly SettingDefinition[],
    readonly read: (reader: SettingReader) => T,
  ) {}
}

/** A setting read on its own; its default (typed like its value) comes with the declaration. */
function single<T extends string | number | boolean | undefined>(read: (reader: SettingReader, definition: SettingDefinition) => T) {
  return (declaration: Declaration<NonNullable<T>>): Setting<T> => {
    const definition = define(declaration);
    return new Setting([definition], (reader) => read(reader, definition));
  };
}

/** Settings read together into one value (a connection and its identity-based forms, a sign-in). */
function group<T>(definitions: Record<string, SettingDefinition>, read: (reader: SettingReader) => T): Setting<T> {
  return new Setting(Object.values(definitions), read);
}

const text = single((reader, definition) => reader.text(definition));
const optionalText = single((reader, definition): string | undefined => reader.optional(definition.name));
const positiveInteger = single((reader, definition) => reader.integer(definition, 1, 'a positive integer'));
const nonNegativeInteger = single((reader, definition) => reader.integer(definition, 0, 'a whole number, 0 or more'));
const auditRetentionDays = single((reader, definition) => reader.integer(definition, MIN_AUDIT_RETENTION_DAYS, `a whole number, ${MIN_AUDIT_RETENTION_DAYS} or more`));
const partBytes = single((reader, definition) =>
  reader.integer(definition, MIN_UPLOAD_PART_BYTES, `a whole number from ${MIN_UPLOAD_PART_BYTES} to ${MAX_UPLOAD_PART_BYTES}`, MAX_UPLOAD_PART_BYTES));
const share = single((reader, definition) => reader.share(definition));
const boolean = single((reader, definition) => reader.boolean(definition));
const httpUrl = single((reader, definition) => reader.requiredUrl(definition, ['https:', 'http:']));

/** Read by the Functions host only (bindings, host.json): declared for the bicep check, never loaded by the app. */
const hostSettings: readonly SettingDefinition[] = [
  define({
    name: 'AzureWebJobsStorage',
    requirement: 'required',
    readBy: 'host',
    description:
      'Storage of the Functions host and the Durable task hub. Locally `UseDevelopmentStorage=true`; on Azure ' +
      '`AzureWebJobsStorage__accountName` (or the three service URIs) with `__credential=managedidentity` and `__clientId`.',
    satisfiedBy: [
      ['AzureWebJobsStorage'],
      ['AzureWebJobsStorage__accountName'],
      ['AzureWebJobsStorage__blobServiceUri', 'AzureWebJobsStorage__queueServiceUri', 'AzureWebJobsStorage__tableServiceUri'],
    ],
  }),
  define({
    name: 'TASK_HUB_NAME',
    requirement: 'required',
    readBy: 'host',
    description: 'Durable task hub name (host.json `hubName: %TASK_HUB_NAME%`); the Durable Functions monitor uses the same name.',
  }),
  define({
    name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', readBy: 'host', default: '104857600',
    description: 'The Functions host refuses larger request bodies (413, text/plain): set to the 210 MB Azure accepts, above UPLOAD_PART_BYTES, so the app answers first.',
  }),
  define({
    name: 'AzureFunctionsJobHost',
    readBy: 'host',
    description:
      'host.json overrides. With the Durable Task Scheduler (bicep `durableTaskScheduler`): ' +
      '`__extensions__durableTask__storageProvider__type=azureManaged` and `__connectionStringName=DURABLE_TASK_SCHEDULER_CONNECTION_STRING`.',
  }),
  define({
    name: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING',
    readBy: 'host',
    description: 'The Durable Task Scheduler, when it is the storage provider: `Endpoint=<scheduler endpoint>;Authentication=ManagedIdentity;ClientID=<identity client id>` (no secret).',
  }),
  define({
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    readBy: 'host',
    description: 'Entra-authenticated telemetry on Azure: `ClientId=<identity client id>;Authorization=AAD` (local auth is off on the component).',
  }),
];

const uploadStorage = {
  connection: define({
    name: 'UploadStorage',
    requirement: 'required',
    description:
      'Blob storage the uploaded CSVs are read from: a connection string, or `UploadStorage__blobServiceUri` ' +
      '(or `__accountName`) with `__credential=managedidentity` and `__clientId`.',
    satisfiedBy: [['UploadStorage'], ['UploadStorage__blobServiceUri'], ['UploadStorage__accountName']],
  }),
};

const eventHubs = {
  connection: define({
    name: 'EventHubConnection',
    requirement: 'required',
    readBy: 'host+app',
    description:
      'Event Hubs namespace for upload events (producer in the app, trigger of matchAnalysis): a connection string, or ' +
      '`EventHubConnection__fullyQualifiedNamespace` with `__credential=managedidentity` and `__clientId`.',
    satisfiedBy: [['EventHubConnection'], ['EventHubConnection__fullyQualifiedNamespace']],
  }),
};

const postgres = {
  url: define({
    name: 'DATABASE_URL',
    requirement: 'required',
    description:
      'PostgreSQL connection string (local and dev). On Azure leave it unset and set PGHOST, PGDATABASE and PGUSER: ' +
      'the password is then a Microsoft Entra access token of the app identity.',
    satisfiedBy: [['DATABASE_URL'], ['PGHOST', 'PGDATABASE', 'PGUSER']],
  }),
  host: define({ name: 'PGHOST', description: 'PostgreSQL server host (used when DATABASE_URL is unset).' }),
  database: define({ name: 'PGDATABASE', description: 'PostgreSQL database name (with PGHOST).' }),
  user: define({ name: 'PGUSER', description: 'PostgreSQL role (with PGHOST); on Azure the Entra principal name of the app identity.' }),
  port: define({ name: 'PGPORT', default: 5432, description: 'PostgreSQL port (with PGHOST).' }),
  sslMode: define({
    name: 'PGSSLMODE',
    default: 'verify-full',
    description: 'TLS to PostgreSQL (with PGHOST): disable, require (encrypted, certificate not checked) or verify-full.',
  }),
  password: define({
    name: 'PGPASSWORD',
    description: 'Static PostgreSQL password (with PGHOST); when unset an Entra access token is used. Never set on Azure.',
  }),
  options: define({
    name: 'PGOPTIONS',
    description:
      'Startup options of every PostgreSQL session (with PGHOST). On Azure `-c role=bulkflow_app`: the identity\'s login acts only as ' +
      'the least-privilege role the migrations grant. With DATABASE_URL the URL carries them (`?options=...`).',
  }),
  clientId: define({
    name: 'AZURE_CLIENT_ID',
    description: 'Client id of the user-assigned managed identity whose Entra token is the PostgreSQL password.',
  }),
};

const dashboard = {
  authority: define({
    name: 'DASHBOARD_AUTHORITY',
    description: 'Where the dashboard signs people in (authorization code + PKCE): `https://login.microsoftonline.com/<tenant>`. Unset: no sign-in.',
  }),
  clientId: define({ name: 'DASHBOARD_CLIENT_ID', description: 'Client id the dashboard signs in as (the app registration, with a SPA redirect URI).' }),
  scope: define({
    name: 'DASHBOARD_SCOPE',
    description: 'Scope the dashboard asks for: the app registration\'s `<identifier URI>/user_impersonation` (on Azure `api://<tenant id>/<name>/user_impersonation`, azd\'s AZURE_API_SCOPE).',
  }),
};

/** Every setting the app code reads, in the shape `loadSettings` returns (and in the order it reports problems). */
const appSettings = {
  uploadStorage: group(uploadStorage, readBlobStorage),
  eventHubs: {
    connection: group(eventHubs, readEventHubs),
    eventHubName: text({
      name: 'EVENT_HUB_NAME', readBy: 'host+app', default: 'upload-events',
      description: 'Event hub that upload events go to (also `%EVENT_HUB_NAME%` in the matchAnalysis trigger, so the host needs it set).',
    }),
  },
  postgres: group(postgres, readPostgres),
  dbPoolMax: positiveInteger({ name: 'DB_POOL_MAX', default: 10, description: 'PostgreSQL connections per app instance.' }),
  migrateOnStart: boolean({
    name: 'DB_MIGRATE_ON_START',
    default: false,
    description:
      'true: the app applies pending migrations before its first query (a local database it administers). Never on Azure, where ' +
      'the predeploy hook migrates as the PostgreSQL administrator and the app\'s role may not change the schema.',
  }),
  ingest: {
    maxChunksInFlight: positiveInteger({
      name: 'INGEST_MAX_CHUNKS_IN_FLIGHT', default: DEFAULT_MAX_CHUNKS_IN_FLIGHT,
      description: 'Chunks one ingestion commits concurrently (its orchestrator\'s wave width).',
    }),
    maxConcurrentCommits: positiveInteger({
      name: 'INGEST_MAX_CONCURRENT_COMMITS', default: DEFAULT_MAX_CONCURRENT_COMMITS,
      description:
        'Chunk commits running at once across every upload and app instance, enforced by PostgreSQL ' +
        '(size it to the server, not to one instance).',
    }),
    chunkBytes: positiveInteger({ name: 'INGEST_CHUNK_BYTES', default: DEFAULT_CHUNK_BYTES, description: 'Target size of one chunk of the CSV, in bytes.' }),
    maxRejectedShare: share({
      name: 'INGEST_MAX_REJECTED_SHARE', default: DEFAULT_MAX_REJECTED_SHARE,
      description: 'Share of rejected rows (0..1) above which an upload is not activated.',
    }),
    maxErrorRows: positiveInteger({ name: 'INGEST_MAX_ERROR_ROWS', default: DEFAULT_MAX_ERROR_ROWS, description: 'Row errors kept per upload.' }),
  },
  matchNeedsActionDays: nonNegativeInteger({
    name: 'MATCH_NEEDS_ACTION_DAYS', default: 7,
    description: 'Days after a match record opened when a state whose side has recorded no initial action sees it under "needs your action" (0: at once).',
  }),
  // How long housekeeping keeps what it deletes, in the order it runs.
  cleanupRetentionHours: positiveInteger({ name: 'CLEANUP_RETENTION_HOURS', default: 24, description: 'Hours staged rows of unfinished uploads are kept.' }),
  uploadBlobRetentionHours: nonNegativeInteger({
    name: 'UPLOAD_BLOB_RETENTION_HOURS', default: 0,
    description: 'Hours an uploaded file is kept after its upload is final (complete, failed, superseded): 0 deletes it at once; otherwise the hourly housekeeping deletes it once the hours have passed. Status and row errors stay.',
  }),
  matchClosedRetentionDays: positiveInteger({
    name: 'MATCH_CLOSED_RETENTION_DAYS', default: 30,
    description: 'Days a closed match record (personal data of two states) is kept before housekeeping deletes it.',
  }),
  outboxRetentionDays: positiveInteger({
    name: 'OUTBOX_RETENTION_DAYS', default: 7,
    description: 'Days a delivered event (upload events, match announcements) is kept in the outbox before housekeeping purges it.',
  }),
  auditRetentionDays: auditRetentionDays({
    name: 'AUDIT_RETENTION_DAYS', default: 365,
    description: `Days an audit record (who read or changed which state's data) is kept before housekeeping deletes it; at least ${MIN_AUDIT_RETENTION_DAYS} (the database refuses less).`,
  }),
  durableHistoryRetentionDays: positiveInteger({ name: 'DURABLE_HISTORY_RETENTION_DAYS', default: 7, description: 'Days finished orchestration histories are kept before purge.' }),
  publicHostName: optionalText({
    name: 'WEBSITE_HOSTNAME',
    description: 'The app\'s host name, set by the platform (the local host sets it too): events name their data\'s JSON Schema (`dataschema`) on it. Unset: events carry no `dataschema`.',
  }),
  applicationInsightsConnectionString: optionalText({
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', readBy: 'host+app', description: 'Application Insights resource; telemetry is off when unset.',
  }),
  auth: {
    issuer: text({
      name: 'AUTH_ISSUER',
      requirement: 'required',
      description:
        'Issuer (`iss`) of the bearer tokens the API accepts. On Azure Entra ID v2: `https://login.microsoftonline.com/<tenant>/v2.0`; ' +
        'locally the stack fills it with its own issuer.',
    }),
    audience: text({
      name: 'AUTH_AUDIENCE', requirement: 'required', description: 'Audience (`aud`) the tokens must carry: on Azure the client id of the bulkflow app registration.',
    }),
    jwksUrl: httpUrl({
      name: 'AUTH_JWKS_URL', requirement: 'required',
      description: "The issuer's signing keys (JWKS). On Azure `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`.",
    }),
    rateLimitPerMinute: positiveInteger({
      name: 'API_RATE_LIMIT_PER_MINUTE', default: 60,
      description: 'Requests one caller (token object id) may make to the HTTP API per minute, across all instances; more get 429.',
    }),
  },
  uploads: {
    maxBytes: positiveInteger({
      name: 'UPLOAD_MAX_BYTES', default: DEFAULT_UPLOAD_MAX_BYTES, description: 'Largest file the upload API accepts, in parts (413 above).',
    }),
    partBytes: partBytes({
      name: 'UPLOAD_PART_BYTES', default: DEFAULT_UPLOAD_PART_BYTES,
      description:
        `Size of the parts of a resumable upload (${MIN_UPLOAD_PART_BYTES} to ${MAX_UPLOAD_PART_BYTES} bytes), and the largest file one PUT takes: ` +
        'every request stays far below the 210 MB Azure Functions accepts and ends well within its 230 s.',
    }),
    abandonHours: positiveInteger({
      name: 'UPLOAD_ABANDON_HOURS', default: DEFAULT_UPLOAD_ABANDON_HOURS,
      description: 'Hours a resumable upload may go without a request before housekeeping ends it and deletes its staged parts.',
    }),
    partsPerMinute: positiveInteger({
      name: 'UPLOAD_PARTS_PER_MINUTE', default: DEFAULT_UPLOAD_PARTS_PER_MINUTE,
      description: 'Parts one caller may send per minute: a budget of their own, so a large upload never spends API_RATE_LIMIT_PER_MINUTE (429 above).',
    }),
  },
  /** Sign-in of the dashboard; absent when not configured. */
  dashboard: group(dashboard, readDashboard),
};

interface Entries {
  readonly [key: string]: Setting<unknown> | Entries;
}

/** The value an entry loads: a setting's value, or an object of its entries' values where undefined ones are left out. */
type Loaded<E> = E extends Setting<infer T> ? T : E extends Entries ? LoadedEntries<E> : never;
type LoadedEntries<E> = Flat<
  { readonly [K in keyof E as undefined extends Loaded<E[K]> ? never : K]: Loaded<E[K]> } & {
    readonly [K in keyof E as undefined extends Loaded<E[K]> ? K : never]?: Exclude<Loaded<E[K]>, undefined>;
  }
>;
type Flat<T> = { [K in keyof T]: T[K] } & {};

/** The settings the app code reads, typed from their declarations in `appSettings`. */
export type Settings = Loaded<typeof appSettings>;

function definitionsOf(entries: Entries): SettingDefinition[] {
  return Object.values(entries).flatMap((entry) => (entry instanceof Setting ? entry.definitions : definitionsOf(entry)));
}

/** Every setting of a deployment, host's and app's: the list the infra consistency test checks bicep against. */
export const settingDefinitions: readonly SettingDefinition[] = [...hostSettings, ...definitionsOf(appSettings)];

export type Environment = Readonly<Record<string, string | undefined>>;

/** How the app authenticates a connection on Azure: the Functions host's identity-based connection properties. */
export interface IdentityOptions {
  /** `managedidentity` selects ManagedIdentityCredential; anything else DefaultAzureCredential. */
  readonly credential?: string;
  /** Client id of a user-assigned managed identity. */
  readonly clientId?: string;
}

export type BlobStorageConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | ({ readonly kind: 'identity'; readonly blobServiceUri: string } & IdentityOptions);

export type EventHubsConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | ({ readonly kind: 'identity'; readonly fullyQualifiedNamespace: string } & IdentityOptions);

export type SslMode = 'disable' | 'require' | 'verify-full';

export type PostgresSettings =
  | { readonly kind: 'url'; readonly url: string }
  | {
      readonly kind: 'entra';
      readonly host: string;
      readonly port: number;
      readonly database: string;
      readonly user: string;
      readonly sslMode: SslMode;
      /** A static password; when absent the password is an Entra access token. */
      readonly password?: string;
      /** User-assigned identity for the token (AZURE_CLIENT_ID). */
      readonly clientId?: string;
      /** Session startup options (PGOPTIONS), e.g. the role to act as. */
      readonly options?: string;
    };

export interface DashboardSettings {
  readonly authority: string;
  readonly clientId: string;
  readonly scope: string;
}

export class SettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid app settings:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

/** Reads and validates every setting the app code uses; reports all problems at once. */
export function loadSettings(env: Environment = process.env): Settings {
  const reader = new SettingReader(env);
  const settings = load(appSettings, reader) as Settings;
  if (reader.problems.length > 0) throw new SettingsError(reader.problems);
  return settings;
}

function load(entries: Entries, reader: SettingReader): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(entries)) {
    const value = entry instanceof Setting ? entry.read(reader) : load(entry, reader);
    if (value !== undefined) values[key] = value;
  }
  return values;
}

/** Collects problems instead of throwing at the first, so one deployment attempt shows every mistake. */
class SettingReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Environment) {}

  /** The value, `undefined` when unset or blank; identity properties (`X__y`) are read the same way. */
  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  /** The value or the declared default; an empty string (after recording a problem) when neither exists. */
  text(definition: SettingDefinition): string {
    const value = this.optional(definition.name) ?? definition.default;
    if (value === undefined) {
      this.problems.push(`${definition.name} is required: ${definition.description}`);
      return '';
    }
    return value;
  }

  integer(definition: SettingDefinition, min: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.text(definition);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${definition.name} must be ${what} (got "${raw}")`);
    }
    return value;
  }

  boolean(definition: SettingDefinition): boolean {
    const raw = this.text(definition).toLowerCase();
    if (raw !== 'true' && raw !== 'false') this.problems.push(`${definition.name} must be true or false (got "${raw}")`);
    return raw === 'true';
  }

  share(definition: SettingDefinition): number {
    const raw = this.text(definition);
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value) || value < 0 || value > 1) {
      this.problems.push(`${definition.name} must be a number from 0 to 1 (got "${raw}")`);
    }
    return value;
  }

  identity(connection: SettingDefinition): IdentityOptions {
    return {
      ...optional('credential', this.optional(`${connection.name}__credential`)),
      ...optional('clientId', this.optional(`${connection.name}__clientId`)),
    };
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (protocols.includes(parsed.protocol)) return raw;
    } catch {
      // reported below
    }
    this.problems.push(`${name} must be a ${protocols.join(' or ')} URL`);
    return undefined;
  }

  /** A URL that must be set: reports it missing or malformed, and gives '' then. */
  requiredUrl(definition: SettingDefinition, protocols: readonly string[]): string {
    if (this.optional(definition.name) === undefined) return this.text(definition);
    return this.url(definition.name, protocols) ?? '';
  }

  missing(definition: SettingDefinition): void {
    const forms = definition.satisfiedBy.map((set) => set.join(' + ')).join(', or ');
    this.problems.push(`${definition.name} is not configured: set ${forms}`);
  }
}

function readBlobStorage(reader: SettingReader): BlobStorageConnection {
  const { connection } = uploadStorage;
  const connectionString = reader.optional(connection.name);
  if (connectionString) {
    // Connection strings may hold keys: the message names the setting, never echoes its value.
    if (!/(^|;)\s*(UseDevelopmentStorage=true|BlobEndpoint=|AccountName=)/i.test(connectionString)) {
      reader.problems.push(`${connection.name} is not a storage connection string (expected AccountName=, BlobEndpoint= or UseDevelopmentStorage=true)`);
    }
    return { kind: 'connectionString', connectionString };
  }
  const accountName = reader.optional(`${connection.name}__accountName`);
  const blobServiceUri =
    reader.url(`${connection.name}__blobServiceUri`, ['https:', 'http:']) ??
    (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
  if (!blobServiceUri) {
    reader.missing(connection);
    return { kind: 'connectionString', connectionString: '' };
  }
  return { kind: 'identity', blobServiceUri, ...reader.identity(connection) };
}

function readEventHubs(reader: SettingReader): EventHubsConnection {
  const { connection } = eventHubs;
  const connectionString = reader.optional(connection.name);
  if (connectionString) {
    if (!/(^|;)\s*Endpoint=sb:\/\//i.test(connectionString)) {
      reader.problems.push(`${connection.name} is not an Event Hubs connection string (expected Endpoint=sb://...)`);
    }
    return { kind: 'connectionString', connectionString };
  }
  const fullyQualifiedNamespace = reader.optional(`${connection.name}__fullyQualifiedNamespace`);
  if (!fullyQualifiedNamespace) {
    reader.missing(connection);
    return { kind: 'connectionString', connectionString: '' };
  }
  if (fullyQualifiedNamespace.includes('/')) {
    reader.problems.push(`${connection.name}__fullyQualifiedNamespace must be a host name such as "<namespace>.servicebus.windows.net"`);
  }
  return { kind: 'identity', fullyQualifiedNamespace, ...reader.identity(connection) };
}

function readDashboard(reader: SettingReader): DashboardSettings | undefined {
  const authority = reader.url(dashboard.authority.name, ['https:', 'http:']);
  const clientId = reader.optional(dashboard.clientId.name);
  const scope = reader.optional(dashboard.scope.name);
  if (!authority && !clientId && !scope) return undefined;
  if (!authority || !clientId || !scope) {
    const names = Object.values(dashboard).map((definition) => definition.name);
    reader.problems.push(`the dashboard sign-in is partly configured: ${names.slice(0, -1).join(', ')} and ${names.at(-1)} go together`);
    return undefined;
  }
  return { authority: authority.replace(/\/+$/, ''), clientId, scope };
}

const sslModes: readonly SslMode[] = ['disable', 'require', 'verify-full'];

function readPostgres(reader: SettingReader): PostgresSettings {
  const url = reader.url(postgres.url.name, ['postgres:', 'postgresql:']);
  if (url) return { kind: 'url', url };
  const together = [postgres.host, postgres.database, postgres.user].map(({ name }) => ({ name, value: reader.optional(name) }));
  const [host, database, user] = together.map(({ value }) => value);
  if (!host || !database || !user) {
    if (host || database || user) {
      const absent = together.filter(({ value }) => !value).map(({ name }) => name);
      const names = together.map(({ name }) => name);
      reader.problems.push(`PostgreSQL is partly configured: ${absent.join(', ')} missing (${names.slice(0, -1).join(', ')} and ${names.at(-1)} go together)`);
    } else if (reader.optional(postgres.url.name) === undefined) {
      reader.missing(postgres.url);
    }
    return { kind: 'url', url: '' };
  }
  const port = reader.integer(postgres.port, 1, 'a positive integer');
  const sslMode = reader.text(postgres.sslMode) as SslMode;
  if (!sslModes.includes(sslMode)) reader.problems.push(`${postgres.sslMode.name} must be one of ${sslModes.join(', ')} (got "${sslMode}")`);
  return {
    kind: 'entra',
    host,
    port,
    database,
    user,
    sslMode,
    ...optional('password', reader.optional(postgres.password.name)),
    ...optional('clientId', reader.optional(postgres.clientId.name)),
    ...optional('options', reader.optional(postgres.options.name)),
  };
}

/** `{ key: value }` when the value exists, `{}` otherwise (exactOptionalPropertyTypes-friendly spreading). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
