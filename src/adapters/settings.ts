/**
 * The app's settings: the one module that reads process.env for the app. `settingDefinitions` is the
 * declarative list of every setting (the infra consistency test checks bicep against it);
 * `loadSettings` validates the ones the app code reads and returns them typed.
 */

export interface SettingDefinition {
  readonly name: string;
  /** Required settings must be present in every deployment (in one of the forms in `satisfiedBy`). */
  readonly requirement: 'required' | 'optional';
  /** Who reads it: the Functions host (bindings, host.json), the app code, or both. */
  readonly readBy: 'host' | 'app' | 'host+app';
  readonly default?: string;
  readonly description: string;
  /**
   * Alternative sets of app-setting names; the setting is configured when every name of one set is present.
   * Connections accept a connection string (the bare name) or identity-based properties (`NAME__property`).
   */
  readonly satisfiedBy: readonly (readonly string[])[];
}

function setting(
  definition: Omit<SettingDefinition, 'satisfiedBy'> & { satisfiedBy?: readonly (readonly string[])[] },
): SettingDefinition {
  return { ...definition, satisfiedBy: definition.satisfiedBy ?? [[definition.name]] };
}

export const settingDefinitions: readonly SettingDefinition[] = [
  setting({
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
  setting({
    name: 'TASK_HUB_NAME',
    requirement: 'required',
    readBy: 'host',
    description: 'Durable task hub name (host.json `hubName: %TASK_HUB_NAME%`); the Durable Functions monitor uses the same name.',
  }),
  setting({
    name: 'UploadStorage',
    requirement: 'required',
    readBy: 'app',
    description:
      'Blob storage the uploaded CSVs are read from: a connection string, or `UploadStorage__blobServiceUri` ' +
      '(or `__accountName`) with `__credential=managedidentity` and `__clientId`.',
    satisfiedBy: [['UploadStorage'], ['UploadStorage__blobServiceUri'], ['UploadStorage__accountName']],
  }),
  setting({
    name: 'EventHubConnection',
    requirement: 'required',
    readBy: 'host+app',
    description:
      'Event Hubs namespace for upload events (producer in the app, trigger of matchAnalysis): a connection string, or ' +
      '`EventHubConnection__fullyQualifiedNamespace` with `__credential=managedidentity` and `__clientId`.',
    satisfiedBy: [['EventHubConnection'], ['EventHubConnection__fullyQualifiedNamespace']],
  }),
  setting({
    name: 'EVENT_HUB_NAME',
    requirement: 'optional',
    readBy: 'host+app',
    default: 'upload-events',
    description: 'Event hub that upload events go to (also `%EVENT_HUB_NAME%` in the matchAnalysis trigger, so the host needs it set).',
  }),
  setting({
    name: 'DATABASE_URL',
    requirement: 'required',
    readBy: 'app',
    description:
      'PostgreSQL connection string (local and dev). On Azure leave it unset and set PGHOST, PGDATABASE and PGUSER: ' +
      'the password is then a Microsoft Entra access token of the app identity.',
    satisfiedBy: [['DATABASE_URL'], ['PGHOST', 'PGDATABASE', 'PGUSER']],
  }),
  setting({ name: 'PGHOST', requirement: 'optional', readBy: 'app', description: 'PostgreSQL server host (used when DATABASE_URL is unset).' }),
  setting({ name: 'PGDATABASE', requirement: 'optional', readBy: 'app', description: 'PostgreSQL database name (with PGHOST).' }),
  setting({
    name: 'PGUSER',
    requirement: 'optional',
    readBy: 'app',
    description: 'PostgreSQL role (with PGHOST); on Azure the Entra principal name of the app identity.',
  }),
  setting({ name: 'PGPORT', requirement: 'optional', readBy: 'app', default: '5432', description: 'PostgreSQL port (with PGHOST).' }),
  setting({
    name: 'PGSSLMODE',
    requirement: 'optional',
    readBy: 'app',
    default: 'verify-full',
    description: 'TLS to PostgreSQL (with PGHOST): disable, require (encrypted, certificate not checked) or verify-full.',
  }),
  setting({
    name: 'PGPASSWORD',
    requirement: 'optional',
    readBy: 'app',
    description: 'Static PostgreSQL password (with PGHOST); when unset an Entra access token is used. Never set on Azure.',
  }),
  setting({
    name: 'PGOPTIONS',
    requirement: 'optional',
    readBy: 'app',
    description:
      'Startup options of every PostgreSQL session (with PGHOST). On Azure `-c role=bulkflow_app`: the identity\'s login acts only as ' +
      'the least-privilege role the migrations grant. With DATABASE_URL the URL carries them (`?options=...`).',
  }),
  setting({
    name: 'DB_MIGRATE_ON_START',
    requirement: 'optional',
    readBy: 'app',
    default: 'false',
    description:
      'true: the app applies pending migrations before its first query (a local database it administers). Never on Azure, where ' +
      'the predeploy hook migrates as the PostgreSQL administrator and the app\'s role may not change the schema.',
  }),
  setting({
    name: 'AZURE_CLIENT_ID',
    requirement: 'optional',
    readBy: 'app',
    description: 'Client id of the user-assigned managed identity whose Entra token is the PostgreSQL password.',
  }),
  setting({ name: 'INGEST_MAX_CHUNKS_IN_FLIGHT', requirement: 'optional', readBy: 'app', default: '8', description: 'Chunks one ingestion commits concurrently (its orchestrator\'s wave width).' }),
  setting({
    name: 'INGEST_MAX_CONCURRENT_COMMITS', requirement: 'optional', readBy: 'app', default: '16',
    description: 'Chunk commits running at once across every upload and app instance, enforced by PostgreSQL (size it to the server, not to one instance).',
  }),
  setting({ name: 'INGEST_CHUNK_BYTES', requirement: 'optional', readBy: 'app', default: String(8 * 1024 * 1024), description: 'Target size of one chunk of the CSV, in bytes.' }),
  setting({ name: 'INGEST_MAX_REJECTED_SHARE', requirement: 'optional', readBy: 'app', default: '0.05', description: 'Share of rejected rows (0..1) above which an upload is not activated.' }),
  setting({ name: 'INGEST_MAX_ERROR_ROWS', requirement: 'optional', readBy: 'app', default: '10000', description: 'Row errors kept per upload.' }),
  setting({ name: 'DB_POOL_MAX', requirement: 'optional', readBy: 'app', default: '10', description: 'PostgreSQL connections per app instance.' }),
  setting({ name: 'CLEANUP_RETENTION_HOURS', requirement: 'optional', readBy: 'app', default: '24', description: 'Hours staged rows of unfinished uploads are kept.' }),
  setting({
    name: 'MATCH_CLOSED_RETENTION_DAYS', requirement: 'optional', readBy: 'app', default: '30',
    description: 'Days a closed match record (personal data of two states) is kept before housekeeping deletes it.',
  }),
  setting({
    name: 'UPLOAD_BLOB_RETENTION_HOURS', requirement: 'optional', readBy: 'app', default: '0',
    description: 'Hours an uploaded file is kept after its upload is final (complete, failed, superseded): 0 deletes it at once; otherwise the hourly housekeeping deletes it once the hours have passed. Status and row errors stay.',
  }),
  setting({
    name: 'OUTBOX_RETENTION_DAYS', requirement: 'optional', readBy: 'app', default: '7',
    description: 'Days a delivered event (upload events, match announcements) is kept in the outbox before housekeeping purges it.',
  }),
  setting({ name: 'DURABLE_HISTORY_RETENTION_DAYS', requirement: 'optional', readBy: 'app', default: '7', description: 'Days finished orchestration histories are kept before purge.' }),
  setting({
    name: 'AUTH_ISSUER',
    requirement: 'required',
    readBy: 'app',
    description:
      'Issuer (`iss`) of the bearer tokens the API accepts. On Azure Entra ID v2: `https://login.microsoftonline.com/<tenant>/v2.0`; ' +
      'locally the stack fills it with its own issuer.',
  }),
  setting({
    name: 'AUTH_AUDIENCE',
    requirement: 'required',
    readBy: 'app',
    description: 'Audience (`aud`) the tokens must carry: on Azure the client id of the bulkflow app registration.',
  }),
  setting({
    name: 'AUTH_JWKS_URL',
    requirement: 'required',
    readBy: 'app',
    description: "The issuer's signing keys (JWKS). On Azure `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`.",
  }),
  setting({
    name: 'API_RATE_LIMIT_PER_MINUTE', requirement: 'optional', readBy: 'app', default: '60',
    description: 'Requests one caller (token object id) may make to the HTTP API per minute, across all instances; more get 429.',
  }),
  setting({
    name: 'UPLOAD_MAX_BYTES', requirement: 'optional', readBy: 'app', default: String(4 * 1024 ** 3),
    description: 'Largest file the upload API accepts, in parts (413 above).',
  }),
  setting({
    name: 'UPLOAD_PART_BYTES', requirement: 'optional', readBy: 'app', default: String(64 * 1024 ** 2),
    description:
      'Size of the parts of a resumable upload (64 KiB to 100 MiB), and the largest file a single PUT takes: each request stays far below ' +
      'the 210 MB Azure Functions accepts and ends well within its 230 s.',
  }),
  setting({
    name: 'UPLOAD_ABANDON_HOURS', requirement: 'optional', readBy: 'app', default: '24',
    description: 'Hours a resumable upload may go without a request before housekeeping ends it and deletes its staged parts.',
  }),
  setting({
    name: 'UPLOAD_PARTS_PER_MINUTE', requirement: 'optional', readBy: 'app', default: '240',
    description: 'Parts one caller may send per minute: their own budget, so a large upload never spends API_RATE_LIMIT_PER_MINUTE (429 above).',
  }),
  setting({
    name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', requirement: 'optional', readBy: 'host', default: '104857600',
    description: 'The Functions host refuses larger request bodies (413, text/plain); set to the 210 MB Azure accepts, above UPLOAD_PART_BYTES, so the app answers first.',
  }),
  setting({
    name: 'DASHBOARD_AUTHORITY', requirement: 'optional', readBy: 'app',
    description: 'Where the dashboard signs people in (authorization code + PKCE): `https://login.microsoftonline.com/<tenant>`. Unset: no sign-in.',
  }),
  setting({ name: 'DASHBOARD_CLIENT_ID', requirement: 'optional', readBy: 'app', description: 'Client id the dashboard signs in as (the app registration, with a SPA redirect URI).' }),
  setting({ name: 'DASHBOARD_SCOPE', requirement: 'optional', readBy: 'app', description: 'Scope the dashboard asks for: `api://<client id>/user_impersonation`.' }),
  setting({
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    requirement: 'optional',
    readBy: 'host+app',
    description: 'Application Insights resource; telemetry is off when unset.',
  }),
  setting({
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    requirement: 'optional',
    readBy: 'host',
    description: 'Entra-authenticated telemetry on Azure: `ClientId=<identity client id>;Authorization=AAD` (local auth is off on the component).',
  }),
];

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

export interface Settings {
  readonly uploadStorage: BlobStorageConnection;
  readonly eventHubs: { readonly connection: EventHubsConnection; readonly eventHubName: string };
  readonly postgres: PostgresSettings;
  readonly dbPoolMax: number;
  readonly migrateOnStart: boolean;
  readonly ingest: {
    readonly maxChunksInFlight: number;
    readonly maxConcurrentCommits: number;
    readonly chunkBytes: number;
    readonly maxRejectedShare: number;
    readonly maxErrorRows: number;
  };
  readonly cleanupRetentionHours: number;
  readonly matchClosedRetentionDays: number;
  readonly durableHistoryRetentionDays: number;
  readonly uploadBlobRetentionHours: number;
  readonly outboxRetentionDays: number;
  readonly applicationInsightsConnectionString?: string;
  readonly auth: {
    readonly issuer: string;
    readonly audience: string;
    readonly jwksUrl: string;
    readonly rateLimitPerMinute: number;
  };
  readonly uploads: {
    readonly maxBytes: number;
    readonly partBytes: number;
    readonly abandonHours: number;
    readonly partsPerMinute: number;
  };
  /** Sign-in of the dashboard; absent when not configured. */
  readonly dashboard?: { readonly authority: string; readonly clientId: string; readonly scope: string };
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
  const settings: Settings = {
    uploadStorage: readBlobStorage(reader),
    eventHubs: { connection: readEventHubs(reader), eventHubName: reader.text('EVENT_HUB_NAME') },
    postgres: readPostgres(reader),
    dbPoolMax: reader.positiveInteger('DB_POOL_MAX'),
    migrateOnStart: reader.boolean('DB_MIGRATE_ON_START'),
    ingest: {
      maxChunksInFlight: reader.positiveInteger('INGEST_MAX_CHUNKS_IN_FLIGHT'),
      maxConcurrentCommits: reader.positiveInteger('INGEST_MAX_CONCURRENT_COMMITS'),
      chunkBytes: reader.positiveInteger('INGEST_CHUNK_BYTES'),
      maxRejectedShare: reader.share('INGEST_MAX_REJECTED_SHARE'),
      maxErrorRows: reader.positiveInteger('INGEST_MAX_ERROR_ROWS'),
    },
    cleanupRetentionHours: reader.positiveInteger('CLEANUP_RETENTION_HOURS'),
    matchClosedRetentionDays: reader.positiveInteger('MATCH_CLOSED_RETENTION_DAYS'),
    durableHistoryRetentionDays: reader.positiveInteger('DURABLE_HISTORY_RETENTION_DAYS'),
    uploadBlobRetentionHours: reader.nonNegativeInteger('UPLOAD_BLOB_RETENTION_HOURS'),
    outboxRetentionDays: reader.positiveInteger('OUTBOX_RETENTION_DAYS'),
    ...optional('applicationInsightsConnectionString', reader.optional('APPLICATIONINSIGHTS_CONNECTION_STRING')),
    auth: {
      issuer: reader.text('AUTH_ISSUER'),
      audience: reader.text('AUTH_AUDIENCE'),
      jwksUrl: reader.requiredUrl('AUTH_JWKS_URL', ['https:', 'http:']),
      rateLimitPerMinute: reader.positiveInteger('API_RATE_LIMIT_PER_MINUTE'),
    },
    uploads: {
      maxBytes: reader.positiveInteger('UPLOAD_MAX_BYTES'),
      partBytes: reader.integerIn('UPLOAD_PART_BYTES', MIN_PART_BYTES, MAX_PART_BYTES),
      abandonHours: reader.positiveInteger('UPLOAD_ABANDON_HOURS'),
      partsPerMinute: reader.positiveInteger('UPLOAD_PARTS_PER_MINUTE'),
    },
    ...optional('dashboard', readDashboard(reader)),
  };
  if (reader.problems.length > 0) throw new SettingsError(reader.problems);
  return settings;
}

/** Parts stay far below the 210 MB request limit of Azure Functions (and its 230 s to answer). */
export const MIN_PART_BYTES = 64 * 1024;
export const MAX_PART_BYTES = 100 * 1024 ** 2;

const definitionsByName = new Map(settingDefinitions.map((definition) => [definition.name, definition]));

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
  text(name: string): string {
    const value = this.optional(name) ?? definitionsByName.get(name)?.default;
    if (value === undefined) {
      this.problems.push(`${name} is required: ${definitionsByName.get(name)?.description ?? ''}`.trim());
      return '';
    }
    return value;
  }

  positiveInteger(name: string): number {
    return this.integer(name, 1, 'a positive integer');
  }

  nonNegativeInteger(name: string): number {
    return this.integer(name, 0, 'a whole number, 0 or more');
  }

  integerIn(name: string, min: number, max: number): number {
    return this.integer(name, min, `a whole number from ${min} to ${max}`, max);
  }

  private integer(name: string, min: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.text(name);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be ${what} (got "${raw}")`);
    }
    return value;
  }

  boolean(name: string): boolean {
    const raw = this.text(name).toLowerCase();
    if (raw !== 'true' && raw !== 'false') this.problems.push(`${name} must be true or false (got "${raw}")`);
    return raw === 'true';
  }

  share(name: string): number {
    const raw = this.text(name);
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value) || value < 0 || value > 1) {
      this.problems.push(`${name} must be a number from 0 to 1 (got "${raw}")`);
    }
    return value;
  }

  identity(prefix: string): IdentityOptions {
    return {
      ...optional('credential', this.optional(`${prefix}__credential`)),
      ...optional('clientId', this.optional(`${prefix}__clientId`)),
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
  requiredUrl(name: string, protocols: readonly string[]): string {
    if (this.optional(name) === undefined) return this.text(name);
    return this.url(name, protocols) ?? '';
  }

  missing(name: string): void {
    const definition = definitionsByName.get(name);
    const forms = definition?.satisfiedBy.map((set) => set.join(' + ')).join(', or ') ?? name;
    this.problems.push(`${name} is not configured: set ${forms}`);
  }
}

function readBlobStorage(reader: SettingReader): BlobStorageConnection {
  const connectionString = reader.optional('UploadStorage');
  if (connectionString) {
    // Connection strings may hold keys: the message names the setting, never echoes its value.
    if (!/(^|;)\s*(UseDevelopmentStorage=true|BlobEndpoint=|AccountName=)/i.test(connectionString)) {
      reader.problems.push('UploadStorage is not a storage connection string (expected AccountName=, BlobEndpoint= or UseDevelopmentStorage=true)');
    }
    return { kind: 'connectionString', connectionString };
  }
  const accountName = reader.optional('UploadStorage__accountName');
  const blobServiceUri =
    reader.url('UploadStorage__blobServiceUri', ['https:', 'http:']) ??
    (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
  if (!blobServiceUri) {
    reader.missing('UploadStorage');
    return { kind: 'connectionString', connectionString: '' };
  }
  return { kind: 'identity', blobServiceUri, ...reader.identity('UploadStorage') };
}

function readEventHubs(reader: SettingReader): EventHubsConnection {
  const connectionString = reader.optional('EventHubConnection');
  if (connectionString) {
    if (!/(^|;)\s*Endpoint=sb:\/\//i.test(connectionString)) {
      reader.problems.push('EventHubConnection is not an Event Hubs connection string (expected Endpoint=sb://...)');
    }
    return { kind: 'connectionString', connectionString };
  }
  const fullyQualifiedNamespace = reader.optional('EventHubConnection__fullyQualifiedNamespace');
  if (!fullyQualifiedNamespace) {
    reader.missing('EventHubConnection');
    return { kind: 'connectionString', connectionString: '' };
  }
  if (fullyQualifiedNamespace.includes('/')) {
    reader.problems.push('EventHubConnection__fullyQualifiedNamespace must be a host name such as "<namespace>.servicebus.windows.net"');
  }
  return { kind: 'identity', fullyQualifiedNamespace, ...reader.identity('EventHubConnection') };
}

function readDashboard(reader: SettingReader): Settings['dashboard'] {
  const authority = reader.url('DASHBOARD_AUTHORITY', ['https:', 'http:']);
  const clientId = reader.optional('DASHBOARD_CLIENT_ID');
  const scope = reader.optional('DASHBOARD_SCOPE');
  if (!authority && !clientId && !scope) return undefined;
  if (!authority || !clientId || !scope) {
    reader.problems.push('the dashboard sign-in is partly configured: DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID and DASHBOARD_SCOPE go together');
    return undefined;
  }
  return { authority: authority.replace(/\/+$/, ''), clientId, scope };
}

const sslModes: readonly SslMode[] = ['disable', 'require', 'verify-full'];

function readPostgres(reader: SettingReader): PostgresSettings {
  const url = reader.url('DATABASE_URL', ['postgres:', 'postgresql:']);
  if (url) return { kind: 'url', url };
  const host = reader.optional('PGHOST');
  const database = reader.optional('PGDATABASE');
  const user = reader.optional('PGUSER');
  if (!host || !database || !user) {
    if (host || database || user) {
      const absent = [['PGHOST', host], ['PGDATABASE', database], ['PGUSER', user]].filter(([, value]) => !value);
      reader.problems.push(`PostgreSQL is partly configured: ${absent.map(([name]) => name).join(', ')} missing (PGHOST, PGDATABASE and PGUSER go together)`);
    } else if (reader.optional('DATABASE_URL') === undefined) {
      reader.missing('DATABASE_URL');
    }
    return { kind: 'url', url: '' };
  }
  const port = reader.positiveInteger('PGPORT');
  const sslMode = reader.text('PGSSLMODE') as SslMode;
  if (!sslModes.includes(sslMode)) reader.problems.push(`PGSSLMODE must be one of ${sslModes.join(', ')} (got "${sslMode}")`);
  return {
    kind: 'entra',
    host,
    port,
    database,
    user,
    sslMode,
    ...optional('password', reader.optional('PGPASSWORD')),
    ...optional('clientId', reader.optional('AZURE_CLIENT_ID')),
    ...optional('options', reader.optional('PGOPTIONS')),
  };
}

/** `{ key: value }` when the value exists, `{}` otherwise (exactOptionalPropertyTypes-friendly spreading). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
