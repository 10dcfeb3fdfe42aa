import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { APP_ROLE } from '../../local/src/appDatabase.js';
import { AZURE_MAX_REQUEST_BYTES } from '../../local/src/host/httpBody.js';
import { MAX_UPLOAD_PART_BYTES } from '../../src/engine/index.js';
import { settingDefinitions, type SettingDefinition } from '../../src/adapters/settings.js';
import { loadApp } from '../../local/src/host/registry.js';
import { JURISDICTIONS } from '../../src/engine/jurisdictions.js';
import { functionNames, triggerContracts } from '../../src/functionNames.js';
import { httpRoutes } from '../../src/functions/httpRoutes.js';
import {
  appSettings,
  bicepFiles,
  literal,
  moduleBlock,
  params,
  property,
  read,
  readBicep,
  resources,
  root,
  variable,
} from './bicepText.js';

const main = readBicep('infra/bicep/main.bicep');
const functionApp = readBicep('infra/bicep/modules/functionApp.bicep');
const subscription = readBicep('infra/bicep/modules/eventGridSubscription.bicep');
const bicepAppSettings = appSettings(functionApp);
const settingNames = new Set(bicepAppSettings.map((setting) => setting.name));
const roles = JSON.parse(read('infra/bicep/roles.json')) as Record<string, string>;

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}
const appSource = sourceFiles(join(root, 'src'))
  .filter((file) => !file.includes(`${join('src', 'local')}`) && !file.includes(join('src', 'cli')))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');
const hostJson = read('host.json');

function satisfied(definition: SettingDefinition, present: ReadonlySet<string>): boolean {
  return definition.satisfiedBy.some((names) => names.every((name) => present.has(name)));
}

describe('function app settings in bicep agree with src/adapters/settings.ts', () => {
  it('sets every required setting in one of its accepted forms', () => {
    const unset = settingDefinitions.filter((d) => d.requirement === 'required' && !satisfied(d, settingNames)).map((d) => d.name);
    expect(unset).toEqual([]);
  });

  it('sets every %SETTING% the host resolves in host.json and trigger bindings', () => {
    const referenced = new Set([...`${hostJson}\n${appSource}`.matchAll(/%(\w+)%/g)].map((match) => match[1]!));
    expect(referenced.size).toBeGreaterThan(0);
    expect([...referenced].filter((name) => !settingNames.has(name))).toEqual([]);
  });

  it('configures every binding connection identity-based, with the app identity', () => {
    const connections = new Set([
      ...[...appSource.matchAll(/connection:\s*'(\w+)'/g)].map((match) => match[1]!),
      ...[...hostJson.matchAll(/"connectionName":\s*"(\w+)"/g)].map((match) => match[1]!),
    ]);
    expect(connections).toContain(triggerContracts.matchAnalysis.connection);
    for (const connection of connections) {
      const definition = settingDefinitions.find((d) => d.name === connection);
      expect(definition, `${connection} is declared in settings.ts`).toBeDefined();
      expect(satisfied(definition!, settingNames), `${connection} is set in bicep`).toBe(true);
    }
    for (const connection of ['AzureWebJobsStorage', 'UploadStorage', 'EventHubConnection']) {
      expect(settingNames.has(connection), `${connection} is not a connection string`).toBe(false);
      const value = (property: string) => bicepAppSettings.find((s) => s.name === `${connection}__${property}`)?.value;
      expect(value('credential')).toBe("'managedidentity'");
      expect(value('clientId')).toBe('identityClientId');
    }
  });

  it('sets nothing the app does not declare (typos would silently fall back to defaults)', () => {
    const declared = new Set(settingDefinitions.map((d) => d.name));
    const undeclared = [...settingNames].filter((name) => !declared.has(name) && !declared.has(name.split('__')[0]!));
    expect(undeclared).toEqual([]);
  });

  it('sets none of the settings Flex Consumption rejects', () => {
    const rejected = /^(FUNCTIONS_WORKER_RUNTIME|FUNCTIONS_EXTENSION_VERSION|WEBSITE_RUN_FROM_PACKAGE|WEBSITE_CONTENT\w*|WEBSITE_NODE_DEFAULT_VERSION|SCM_DO_BUILD_DURING_DEPLOYMENT)$/;
    expect([...settingNames].filter((name) => rejected.test(name))).toEqual([]);
  });

  it('connects to PostgreSQL as the app identity, which is not an administrator: a group of deployers is', () => {
    const value = (name: string) => bicepAppSettings.find((s) => s.name === name)?.value;
    expect(value('PGUSER')).toBe('identityName');
    expect(value('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(value('PGSSLMODE')).toBe("'verify-full'");
    expect(moduleBlock(main, 'modules/functionApp.bicep')).toMatch(/identityName: identity\.outputs\.name/);
    const postgresModule = moduleBlock(main, 'modules/postgres.bicep');
    expect(postgresModule).not.toMatch(/identity\.outputs|principalId/);
    expect(postgresModule).toMatch(/adminGroupId: empty\(postgresAdminGroupId\) \? adminGroup!\.outputs\.id : postgresAdminGroupId$/m);
    expect(moduleBlock(main, 'modules/adminGroup.bicep')).toMatch(/deployerPrincipalId: principalId$/m);
    const postgres = readBicep('infra/bicep/modules/postgres.bicep');
    expect(property(postgres, 'passwordAuth')).toBe("'Disabled'");
    expect(property(postgres, 'activeDirectoryAuth')).toBe("'Enabled'");
    // Every extension a migration creates is allow-listed on the server (Flexible Server refuses others).
    const created = readdirSync(join(root, 'migrations')).flatMap((file) =>
      [...read(`migrations/${file}`).matchAll(/CREATE EXTENSION IF NOT EXISTS (\w+)/gi)].map((match) => match[1]!.toUpperCase()));
    expect(created).toContain('PGCRYPTO');
    const allowList = resources(postgres).find((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/configurations' && property(r.body, 'name') === "'azure.extensions'");
    expect(literal(property(allowList!.body, 'value'))!.split(',')).toEqual(expect.arrayContaining(created));
    const admins = resources(postgres).filter((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/administrators');
    expect(admins).toHaveLength(1);
    expect(property(admins[0]!.body, 'name')).toBe('adminGroupId');
    expect(property(admins[0]!.body, 'principalName')).toBe('adminGroupName');
    expect(property(admins[0]!.body, 'principalType')).toBe("'Group'");
    // The database is the predeploy hook's (as the administrator group), never ARM's (owned by azuresu).
    expect(resources(postgres).filter((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/databases')).toEqual([]);
    expect(read('infra/hooks/predeploy.mjs')).toMatch(/CREATE DATABASE \$\{admin\.escapeIdentifier\(database\)\}/);
  });

  it('acts as the migrations\' least-privilege role and never migrates on Azure (the predeploy hook does)', () => {
    const value = (name: string) => bicepAppSettings.find((s) => s.name === name)?.value;
    expect(value('PGOPTIONS')).toBe(`'-c role=${APP_ROLE}'`);
    expect(settingNames.has('DB_MIGRATE_ON_START')).toBe(false);
    expect(settingDefinitions.find((d) => d.name === 'DB_MIGRATE_ON_START')?.default).toBe('false');
    expect(read('infra/hooks/predeploy.mjs')).toMatch(new RegExp(`^export const appRole = '${APP_ROLE}';$`, 'm'));
    expect(readdirSync(join(root, 'migrations')).some((file) => read(`migrations/${file}`).includes(`CREATE ROLE ${APP_ROLE} NOLOGIN`))).toBe(true);
  });

  it('ships a local settings example that satisfies every required setting with local stand-ins', () => {
    const local = JSON.parse(read('local.settings.example.json')) as { Values: Record<string, string> };
    const present = new Set(Object.keys(local.Values));
    expect(settingDefinitions.filter((d) => d.requirement === 'required' && !satisfied(d, present)).map((d) => d.name)).toEqual([]);
    expect(local.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(local.Values.DATABASE_URL).toBe('');
  });
});

describe('bearer tokens on Azure', () => {
  it('validates tokens of this tenant\'s Entra ID issued for the app registration the deployment creates', () => {
    const value = (name: string) => bicepAppSettings.find((s) => s.name === name)?.value;
    expect(value('AUTH_ISSUER')).toBe("'${authority}/v2.0'");
    expect(value('AUTH_JWKS_URL')).toBe("'${authority}/discovery/v2.0/keys'");
    expect(value('AUTH_AUDIENCE')).toBe('authClientId');
    expect(value('DASHBOARD_CLIENT_ID')).toBe('authClientId');
    // The host's limit sits above every request the app takes, so the app's own 413 (naming the resumable route) is
    // what a caller gets; and at Azure's documented 210 MB, which the local host enforces by default.
    expect(value('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT')).toBe('string(210 * 1024 * 1024)');
    expect(210 * 1024 * 1024).toBe(AZURE_MAX_REQUEST_BYTES);
    expect(value('UPLOAD_PART_BYTES')).toBe('string(uploadPartBytes)');
    expect(functionApp).toMatch(/@maxValue\(104857600\)\nparam uploadPartBytes int/);
    expect(MAX_UPLOAD_PART_BYTES).toBe(104857600);
    expect(variable(functionApp, 'authority')).toBe("'${environment().authentication.loginEndpoint}${tenant().tenantId}'");
    expect(moduleBlock(main, 'modules/functionApp.bicep')).toMatch(/authClientId: appRegistration\.outputs\.clientId/);
  });

  it('declares an app role per state and the operator role, each for people and applications, and requires an assignment', () => {
    const registration = readBicep('infra/bicep/modules/appRegistration.bicep');
    expect(registration).toMatch(/value: 'State\.\$\{toUpper\(state\)\}'/);
    expect(registration).toMatch(/value: 'Operator\.Read'/);
    expect(registration).toMatch(/value: 'Operator\.Admin'/);
    expect(registration.match(/allowedMemberTypes: \['User', 'Application'\]/g)).toHaveLength(2);
    expect(registration).toMatch(/requestedAccessTokenVersion: 2/);
    expect(registration).toMatch(/appRoleAssignmentRequired: true/);
    // One role per jurisdiction the app serves (src/engine/jurisdictions.ts), no more, no fewer.
    const states = [.../param states array = \[([^\]]+)\]/.exec(main)![1]!.matchAll(/'([^']*)'/g)].map((match) => match[1]!);
    expect(states).toEqual([...JURISDICTIONS]);
  });
});

describe('triggers and their wiring', () => {
  it('subscribes the real starter function with the filters the starter expects', () => {
    const contract = triggerContracts.blobCreatedStarter;
    expect(literal(variable(subscription, 'starterFunctionName'))).toBe(functionNames.blobCreatedStarter);
    const sub = resources(subscription).find((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions')!;
    expect(property(sub.body, 'endpointType')).toBe("'AzureFunction'");
    expect(property(sub.body, 'resourceId')).toBe("'${app.id}/functions/${starterFunctionName}'");
    expect(property(sub.body, 'eventDeliverySchema')).toBe("'EventGridSchema'");
    expect(property(sub.body, 'includedEventTypes')).toBe(`['${contract.eventType}']`);
    expect(literal(property(sub.body, 'subjectBeginsWith'))).toBe(contract.subjectBeginsWith);
    expect(literal(property(sub.body, 'subjectEndsWith'))).toBe(contract.subjectEndsWith);
    expect(contract.subjectBeginsWith).toContain(`/containers/${contract.uploadsContainer}/`);
    expect(literal(variable(main, 'uploadsContainerName'))).toBe(contract.uploadsContainer);
    expect(property(sub.body, 'maxDeliveryAttempts')?.replace(/,.*/, '')).toMatch(/^\d+$/);
    expect(sub.body).toMatch(/deadLetterWithResourceIdentity/);
    expect(literal(variable(main, 'deadLetterContainerName'))).toBe('eventgrid-deadletter');
    // The local Event Grid (eventgrid.local.json) retries and dead-letters with the same policy and container.
    const local = (JSON.parse(read('eventgrid.local.json')) as { subscriptions: Array<{ functionName: string; retryPolicy: object; deadLetter: { container: string } }> })
      .subscriptions.find((s) => s.functionName === functionNames.blobCreatedStarter)!;
    expect(property(sub.body, 'retryPolicy')).toBe(`{ maxDeliveryAttempts: ${(local.retryPolicy as { maxDeliveryAttempts: number }).maxDeliveryAttempts}, eventTimeToLiveInMinutes: ${(local.retryPolicy as { eventTimeToLiveInMinutes: number }).eventTimeToLiveInMinutes} }`);
    expect(local.deadLetter.container).toBe(literal(variable(main, 'deadLetterContainerName')));
    expect(read('infra/hooks/postdeploy.mjs')).toMatch(new RegExp(`^export const starterFunctionName = '${functionNames.blobCreatedStarter}';$`, 'm'));
  });

  it('creates the hub and consumer group the matchAnalysis trigger reads', () => {
    const eventHubModule = moduleBlock(main, 'modules/eventHubs.bicep');
    expect(literal(property(eventHubModule, 'consumerGroupName'))).toBe(triggerContracts.matchAnalysis.consumerGroup);
    const hubName = literal(variable(main, 'eventHubName'));
    expect(hubName).toBe(settingDefinitions.find((d) => d.name === 'EVENT_HUB_NAME')!.default);
    expect(bicepAppSettings.find((s) => s.name === 'EVENT_HUB_NAME')?.value).toBe('eventHubName');
    // The hubs the local endpoint creates carry the same consumer groups, a state notifier's among them.
    const localHub = (JSON.parse(read('eventhubs.local.json')) as { hubs: Record<string, { consumerGroups: string[] }> }).hubs[hubName!]!;
    const notifierGroup = literal(property(eventHubModule, 'notificationConsumerGroupName'));
    expect(notifierGroup).toBe('match-notifications');
    expect(localHub.consumerGroups).toEqual(expect.arrayContaining([triggerContracts.matchAnalysis.consumerGroup, notifierGroup]));
    const hubResources = resources(readBicep('infra/bicep/modules/eventHubs.bicep'));
    expect(hubResources.filter((r) => r.type === 'Microsoft.EventHub/namespaces/eventhubs/consumergroups').map((r) => property(r.body, 'name')))
      .toEqual(['consumerGroupName', 'notificationConsumerGroupName']);
    const mainParams = params(main);
    expect(mainParams.find((p) => p.name === 'eventHubPartitionCount')?.defaultValue).toBe('4');
    expect(mainParams.find((p) => p.name === 'eventHubRetentionDays')?.defaultValue).toBe('1');
  });

  it('runs Durable on the Azure Storage provider with the hub name from TASK_HUB_NAME, quietly logged', () => {
    const host = JSON.parse(hostJson);
    expect(host.extensions.durableTask.hubName).toBe('%TASK_HUB_NAME%');
    expect(host.extensions.durableTask.storageProvider.type).toBe('AzureStorage');
    expect(host.extensions.durableTask.tracing).toEqual({ traceInputsAndOutputs: false, traceReplayEvents: false });
    expect(host.extensionBundle.version).toBe('[4.*, 5.0.0)');
    expect(host.logging.applicationInsights.samplingSettings.isEnabled).toBe(true);
    for (const category of ['DurableTask.Core', 'DurableTask.AzureStorage', 'Host.Triggers.DurableTask', 'Function']) {
      expect(host.logging.logLevel[category], category).toBe('Warning');
    }
    expect(functionApp).toMatch(/alwaysReady: \[\{ name: 'durable', instanceCount: durableAlwaysReady \}\]/);
    expect(variable(main, 'durableAlwaysReady')).toBe('1');
  });

  it('switches to the Durable Task Scheduler only when asked, through app settings over host.json, identity only', () => {
    const file = JSON.parse(read('infra/bicep/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(file.parameters.durableTaskScheduler?.value).toBe('${DURABLE_TASK_SCHEDULER}');
    expect(params(main).find((p) => p.name === 'durableTaskScheduler')?.defaultValue).toBe('false');
    expect(params(main).find((p) => p.name === 'durableTaskSchedulerSku')?.defaultValue).toBe("'Consumption'");
    expect(main).toMatch(/^module durableTask 'modules\/durableTaskScheduler\.bicep' = if \(durableTaskScheduler\) \{$/m);
    expect(moduleBlock(main, 'modules/functionApp.bicep')).toMatch(/durableTaskSchedulerEndpoint: durableTaskScheduler \? durableTask!\.outputs\.endpoint : ''/);
    const setting = (name: string) => bicepAppSettings.find((s) => s.name === name)?.value;
    expect(setting('AzureFunctionsJobHost__extensions__durableTask__storageProvider__type')).toBe("'azureManaged'");
    expect(setting('AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName')).toBe("'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'");
    // The connection names the endpoint and the app identity: no key.
    expect(setting('DURABLE_TASK_SCHEDULER_CONNECTION_STRING')).toBe("'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'");
    expect(functionApp).toMatch(/var durableTaskSettings = empty\(durableTaskSchedulerEndpoint\) \? \[\] : \[/);
    // The task hub carries the hub name the host uses (TASK_HUB_NAME); host.json keeps Azure Storage for everything else.
    const dts = readBicep('infra/bicep/modules/durableTaskScheduler.bicep');
    expect(moduleBlock(main, 'modules/durableTaskScheduler.bicep')).toMatch(/taskHubName: taskHubName/);
    expect(dts).toMatch(/resource taskHub 'Microsoft\.DurableTask\/schedulers\/taskHubs@[^']+' = \{\n  parent: scheduler\n  name: taskHubName/);
  });

  it('declares each function name once, as its own value', () => {
    expect(Object.entries(functionNames).every(([key, value]) => key === value)).toBe(true);
  });

  it.skipIf(!existsSync(join(root, 'src', 'app.ts')))('registers every function under its name: those of src/functionNames.ts and the rows of the route table', async () => {
    // The app's registrations as the Functions host captures them (the compiled app: npm test builds first).
    const { functions } = await loadApp(root);
    expect(functions.map((fn) => fn.name).sort()).toEqual([...Object.values(functionNames), ...Object.keys(httpRoutes)].sort());
  });
});

describe('role assignments', () => {
  interface Assignment {
    file: string;
    principal: string;
    role: string;
    scopeType: string;
  }

  const assignments: Assignment[] = bicepFiles().flatMap((file) => {
    const bicep = readBicep(file);
    const declared = resources(bicep);
    return declared
      .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')
      .map((r) => {
        const scope = property(r.body, 'scope') ?? '(none)';
        return {
          file: file.replace('infra/bicep/', ''),
          principal: property(r.body, 'principalId') ?? '(none)',
          role: /roles\.(\w+)|'Microsoft\.Authorization\/roleDefinitions', (\w+Role)\)/.exec(property(r.body, 'roleDefinitionId') ?? '')?.slice(1).find(Boolean) ?? '(not from roles.json)',
          scopeType: declared.find((d) => d.symbol === scope)?.type ?? `(not a resource: ${scope})`,
        };
      });
  });

  // Who holds which role where, and why: anything broader or extra fails the test.
  const account = 'Microsoft.Storage/storageAccounts';
  const container = 'Microsoft.Storage/storageAccounts/blobServices/containers';
  const expected: Record<string, Array<[role: string, scopeType: string]>> = {
    // host storage + Flex package (blob owner), Durable queues and tables, events out and in, telemetry via Entra.
    'modules/storage.bicep appPrincipalId': [
      ['storageBlobDataOwner', account],
      ['storageQueueDataContributor', account],
      ['storageTableDataContributor', account],
      // personal data: the uploads container of the other account only
      ['storageBlobDataContributor', container],
    ],
    'modules/eventHubs.bicep appPrincipalId': [
      ['eventHubsDataSender', 'Microsoft.EventHub/namespaces/eventhubs'],
      ['eventHubsDataReceiver', 'Microsoft.EventHub/namespaces/eventhubs'],
    ],
    'modules/monitoring.bicep appPrincipalId': [['monitoringMetricsPublisher', 'Microsoft.Insights/components']],
    // Only when the deployer asked (allowUserIdentityPrincipal): the task hub, the uploads and dead-letter containers.
    'modules/storage.bicep deployerPrincipalId': [
      ['storageBlobDataContributor', account],
      ['storageQueueDataContributor', account],
      ['storageTableDataContributor', account],
      ['storageBlobDataContributor', container],
      ['storageBlobDataContributor', container],
    ],
    // Event Grid only writes dead letters, into one container.
    'modules/eventGridTopic.bicep topic.identity.principalId': [['storageBlobDataContributor', container]],
    // The Durable Task Scheduler (when chosen): the app works its task hub; operators read it in the dashboard.
    'modules/durableTaskScheduler.bicep appPrincipalId': [['durableTaskDataContributor', 'Microsoft.DurableTask/schedulers/taskHubs']],
    'modules/durableTaskScheduler.bicep readerId': [['durableTaskDataReader', 'Microsoft.DurableTask/schedulers/taskHubs']],
    // The monitor's host runs on the account (blob owner); queues and tables read-only unless it may act.
    'modules/dfmon.bicep identity.properties.principalId': [
      ['storageBlobDataOwner', account],
      ['queueRole', account],
      ['tableRole', account],
    ],
  };

  it('grants each identity exactly the roles its code needs, each on a resource, never wider', () => {
    const actual: Record<string, Array<[string, string]>> = {};
    for (const a of assignments) (actual[`${a.file} ${a.principal}`] ??= []).push([a.role, a.scopeType]);
    expect(actual).toEqual(expected);
  });

  it('passes the app identity and the deployer to the modules as the principals the roles name', () => {
    for (const module of ['storage', 'eventHubs', 'monitoring']) {
      expect(moduleBlock(main, `modules/${module}.bicep`)).toMatch(/appPrincipalId: identity\.outputs\.principalId/);
    }
    // Deployer data roles are opt-in (allowUserIdentityPrincipal, off by default).
    expect(moduleBlock(main, 'modules/storage.bicep')).toMatch(/deployerPrincipalId: allowUserIdentityPrincipal \? principalId : ''$/m);
    expect(params(main).find((p) => p.name === 'allowUserIdentityPrincipal')?.defaultValue).toBe('false');
    // The monitor's roles: readers unless readOnly is false (the default is true), and an allow-list it cannot run without.
    const dfmon = readBicep('infra/bicep/modules/dfmon.bicep');
    expect(variable(dfmon, 'queueRole')).toBe('readOnly ? roles.storageQueueDataReader : roles.storageQueueDataContributor');
    expect(variable(dfmon, 'tableRole')).toBe('readOnly ? roles.storageTableDataReader : roles.storageTableDataContributor');
    expect(params(main).find((p) => p.name === 'dfMonReadOnly')?.defaultValue).toBe('true');
    expect(dfmon).toMatch(/@minLength\(3\)\nparam allowedUserNames string/);
    expect(appSettings(dfmon).find((s) => s.name === 'DFM_MODE')?.value).toBe("readOnly ? 'ReadOnly' : ''");
  });

  it('assigns nothing at subscription or resource-group scope and uses only data-plane roles from roles.json', () => {
    expect(main).not.toMatch(/Microsoft\.Authorization\/roleAssignments/);
    for (const file of bicepFiles()) {
      expect(readBicep(file), file).not.toMatch(/scope:\s*(subscription|resourceGroup)\(\)/);
    }
    const broad = ['8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'b24988ac-6180-42a0-ab88-20f7382dd24c', '17d1049b-9a84-46fb-8f53-869881c3d3ab'];
    expect(Object.values(roles).filter((id) => broad.includes(id))).toEqual([]);
  });
});

describe('private network (VNET_ENABLED)', () => {
  const network = readBicep('infra/bicep/modules/network.bicep');
  const endpoints = [...network.matchAll(/^module (\w+) 'privateEndpoint\.bicep' = \{\n([\s\S]*?)^\}/gm)].map((match) => ({
    target: property(match[2]!, 'targetId'),
    groupId: literal(property(match[2]!, 'groupId')),
    zone: property(match[2]!, 'zoneId'),
  }));

  it('is one switch from azd\'s environment, off by default', () => {
    const file = JSON.parse(read('infra/bicep/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(file.parameters.vnetEnabled?.value).toBe('${VNET_ENABLED}');
    expect(params(main).find((p) => p.name === 'vnetEnabled')?.defaultValue).toBe('false');
    expect(main).toMatch(/^module network 'modules\/network\.bicep' = if \(vnetEnabled\) \{$/m);
  });

  it('gives every endpoint the app uses a private endpoint with its DNS zone', () => {
    // Host storage: blob, queue and table (Functions host, Durable task hub, package); uploads: blob; Event Hubs; PostgreSQL.
    expect(endpoints.map((e) => `${e.target} ${e.groupId}`).sort()).toEqual([
      'eventHubsNamespaceId namespace',
      'postgresServerId postgresqlServer',
      'storageAccountId blob',
      'storageAccountId queue',
      'storageAccountId table',
      'uploadsStorageAccountId blob',
    ]);
    for (const endpoint of endpoints) expect(endpoint.zone, endpoint.groupId).toMatch(/^\w+Zone\.outputs\.id$/);
    const networkModule = moduleBlock(main, 'modules/network.bicep');
    expect(networkModule).toMatch(/storageAccountId: storage\.outputs\.id$/m);
    expect(networkModule).toMatch(/uploadsStorageAccountId: storage\.outputs\.uploadsId$/m);
    expect(networkModule).toMatch(/postgresServerId: postgres\.outputs\.id$/m);
    // The app's outbound traffic goes through the delegated subnet.
    expect(moduleBlock(main, 'modules/functionApp.bicep')).toMatch(/appSubnetId: vnetEnabled \? network!\.outputs\.appSubnetId : ''$/m);
    expect(functionApp).toMatch(/virtualNetworkSubnetId: empty\(appSubnetId\) \? null : appSubnetId/);
    expect(network).toMatch(/serviceName: 'Microsoft\.App\/environments'/);
  });

  it('closes the public endpoints it replaces, keeping the trusted-service bypass Event Grid needs', () => {
    const account = readBicep('infra/bicep/modules/storageAccount.bicep');
    expect(property(account, 'publicNetworkAccess')).toBe("vnetEnabled ? 'Disabled' : 'Enabled'");
    expect(account).toMatch(/networkAcls: \{ bypass: 'AzureServices', defaultAction: vnetEnabled \? 'Deny' : 'Allow' \}/);
    expect(property(readBicep('infra/bicep/modules/eventHubs.bicep'), 'publicNetworkAccess')).toBe("vnetEnabled ? 'Disabled' : 'Enabled'");
    for (const module of ['storage', 'eventHubs', 'postgres']) expect(moduleBlock(main, `modules/${module}.bicep`)).toMatch(/^\s+vnetEnabled: vnetEnabled$/m);
    // PostgreSQL: no Azure-wide rule with the network; its public endpoint admits only what predeploy opens.
    const rule = resources(readBicep('infra/bicep/modules/postgres.bicep')).find((r) => r.symbol === 'allowAzureServices')!;
    expect(read('infra/bicep/modules/postgres.bicep')).toMatch(/^resource allowAzureServices '[^']+' = if \(!vnetEnabled\) \{$/m);
    expect(rule.body).toMatch(/startIpAddress: '0\.0\.0\.0', endIpAddress: '0\.0\.0\.0'/);
  });
});

describe('parameters and secrets', () => {
  it('has a valid parameters file covering every parameter without a default, and nothing else', () => {
    const file = JSON.parse(read('infra/bicep/main.parameters.json')) as { parameters: Record<string, { value: unknown }> };
    const declared = params(main);
    const supplied = Object.keys(file.parameters);
    expect(declared.filter((p) => !p.hasDefault && !supplied.includes(p.name)).map((p) => p.name)).toEqual([]);
    expect(supplied.filter((name) => !declared.some((p) => p.name === name))).toEqual([]);
  });

  it('puts no key, password or secret in any setting, parameter or template', () => {
    const secretish = /AccountKey=|SharedAccessKey=|SharedAccessSignature|listKeys\(|listConnectionStrings\(|@secure\(\)|password|secret/i;
    for (const file of bicepFiles()) {
      for (const setting of appSettings(readBicep(file))) {
        expect(`${setting.name}=${setting.value}`, file).not.toMatch(secretish);
      }
      // Outside settings only the word in `passwordAuth: 'Disabled'` may appear.
      expect(readBicep(file).replace(/passwordAuth: 'Disabled'/g, ''), file).not.toMatch(secretish);
    }
    expect(read('infra/bicep/main.parameters.json')).not.toMatch(secretish);
    expect(read('azure.yaml')).not.toMatch(secretish);
    expect(read('host.json')).not.toMatch(secretish);
  });

  it('points azure.yaml at infra/bicep, with every hook run by the one Node script on both Windows and POSIX', () => {
    const azureYaml = read('azure.yaml');
    expect(azureYaml).toMatch(/^\s+path: infra\/bicep$/m);
    expect(azureYaml).toMatch(/^\s+host: function$/m);
    const script = read('infra/hooks/azd.mjs');
    expect(azureYaml).toMatch(/^    remoteBuild: true$/m);
    for (const hook of ['preprovision', 'predeploy', 'postdeploy', 'postdown']) {
      const block = new RegExp(`^  ${hook}:\\n((?:    .*\\n|      .*\\n)+)`, 'm').exec(azureYaml)?.[1];
      expect(block, hook).toBeDefined();
      for (const [platform, shell] of [['posix', 'sh'], ['windows', 'pwsh']]) {
        const variant = new RegExp(`^    ${platform}:\\n((?:      .*\\n)+)`, 'm').exec(block!)?.[1];
        expect(variant, `${hook} ${platform}`).toBeDefined();
        expect(variant).toMatch(new RegExp(`^      shell: ${shell}$`, 'm'));
        expect(variant).toMatch(new RegExp(`^      run: node infra/hooks/azd\\.mjs ${hook}$`, 'm'));
        expect(variant).toMatch(/^      continueOnError: false$/m);
        // The operator sees what the hook says as it happens (azd otherwise shows a scrolling preview it clears).
        expect(variant).toMatch(/^      interactive: true$/m);
      }
      expect(script).toMatch(new RegExp(`^  ${hook}: async \\(\\) => \\(await import\\('\\./${hook}\\.mjs'\\)\\)\\.${hook},$`, 'm'));
      expect(existsSync(join(root, 'infra', 'hooks', `${hook}.mjs`))).toBe(true);
    }
  });
});

describe('operations: data retention, runtime, deployer, ordering, connection budget', () => {
  const storage = readBicep('infra/bicep/modules/storage.bicep');
  const postgres = readBicep('infra/bicep/modules/postgres.bicep');
  const mainParams = params(main);
  const defaultOf = (name: string) => mainParams.find((p) => p.name === name)?.defaultValue;

  it('deletes whatever is left in uploads/ after uploadsRetentionDays (default 7) with a lifecycle policy', () => {
    expect(defaultOf('uploadsRetentionDays')).toBe('7');
    expect(moduleBlock(main, 'modules/storage.bicep')).toMatch(/^\s+uploadsRetentionDays: uploadsRetentionDays$/m);
    const policy = resources(storage).find((r) => r.type === 'Microsoft.Storage/storageAccounts/managementPolicies')!;
    expect(policy).toBeDefined();
    expect(property(policy.body, 'parent')).toBe('uploadsStorage');
    expect(literal(property(policy.body, 'name'))).toBe('default');
    expect(property(policy.body, 'enabled')).toBe('true');
    expect(policy.body).toMatch(/prefixMatch: \['\$\{uploadsContainerName\}\/'\]/);
    expect(policy.body).toMatch(/baseBlob: \{ delete: \{ daysAfterModificationGreaterThan: uploadsRetentionDays \} \}/);
    // Dead letters do not stay for good either.
    expect(policy.body).toMatch(/prefixMatch: \['\$\{deadLetterContainerName\}\/'\]/);
    expect(policy.body).toMatch(/baseBlob: \{ delete: \{ daysAfterModificationGreaterThan: deadLetterRetentionDays \} \}/);
  });

  it('runs Node 22 on Azure by default and offers no runtime past its support', () => {
    expect(defaultOf('nodeVersion')).toBe("'22'");
    expect(main).toMatch(/@allowed\(\['22'\]\)\nparam nodeVersion string/);
    expect(functionApp).toMatch(/runtime: \{ name: 'node', version: nodeVersion \}/);
  });

  it('accepts a maximum of 1 instance per scaling group', () => {
    expect(main).toMatch(/@minValue\(1\)\n@maxValue\(1000\)\nparam maximumInstanceCount int = 40/);
    expect(functionApp).toMatch(/@minValue\(1\)\n@maxValue\(1000\)\nparam maximumInstanceCount int/);
  });

  it('takes the deployer from azd (which resolves AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE itself), never hard-coded', () => {
    const file = JSON.parse(read('infra/bicep/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(file.parameters.principalId?.value).toBe('${AZURE_PRINCIPAL_ID}');
    expect(file.parameters.principalType?.value).toBe('${AZURE_PRINCIPAL_TYPE}');
    expect(moduleBlock(main, 'modules/storage.bicep')).toMatch(/deployerPrincipalType: principalType$/m);
    for (const file of bicepFiles()) {
      for (const r of resources(readBicep(file)).filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')) {
        const principal = property(r.body, 'principalId');
        const type = property(r.body, 'principalType');
        if (principal === 'deployerPrincipalId') expect(type, `${file} ${r.symbol}`).toBe('deployerPrincipalType');
        // The Durable Task Scheduler's readers: the operators' Entra group (durableTaskReaderGroupId).
        else if (principal === 'readerId') expect(type, `${file} ${r.symbol}`).toBe("'Group'");
        else expect(type, `${file} ${r.symbol}`).toBe("'ServicePrincipal'");
      }
    }
  });

  it('creates the PostgreSQL server\'s children one after another, the administrator first (the server takes one change at a time)', () => {
    const children = resources(postgres).filter((r) => r.type.startsWith('Microsoft.DBforPostgreSQL/flexibleServers/'));
    expect(children.map((r) => r.symbol)).toEqual(['administrator', 'allowAzureServices', 'extensions']);
    const dependsOn = (symbol: string) => property(children.find((r) => r.symbol === symbol)!.body, 'dependsOn');
    expect(dependsOn('administrator')).toBeUndefined();
    expect(dependsOn('allowAzureServices')).toBe('[administrator]');
    expect(dependsOn('extensions')).toBe('[administrator, allowAzureServices]');
  });

  describe('connection budget', () => {
    /** Evaluates main.bicep's integer arithmetic (identifiers, + - *, min) for the given parameter values. */
    function evaluate(name: string, values: Record<string, number>): number {
      let expression = variable(main, name)!;
      expect(expression, name).toMatch(/^[\w\s+\-*(),]+$/);
      for (let depth = 0; /[a-zA-Z]/.test(expression.replace(/\bmin\(/g, '')); depth += 1) {
        if (depth > 5) throw new Error(`cannot resolve ${expression}`);
        expression = expression.replace(/\b(?!min\()([a-zA-Z]\w*)\b(?!\()/g, (identifier) => {
          if (identifier in values) return String(values[identifier]);
          const nested = variable(main, identifier);
          if (nested === undefined) throw new Error(`unknown identifier ${identifier}`);
          return `(${nested})`;
        });
      }
      return Function(`"use strict"; const min = Math.min; return (${expression});`)() as number;
    }
    const defaults = {
      maximumInstanceCount: Number(defaultOf('maximumInstanceCount')),
      dbPoolMax: Number(defaultOf('dbPoolMax')),
      eventHubPartitionCount: Number(defaultOf('eventHubPartitionCount')),
      postgresReservedConnections: Number(defaultOf('postgresReservedConnections')),
      // postgresMaxConnections 0 = the SKU's default; D2ds_v5 is 859.
      postgresMaxConnectionsEffective: 859,
    };

    it('counts pool size x instances per scaling group x the groups that connect, against max_connections minus a reserve', () => {
      // durable + http reach the maximum, the durable group's always-ready instance on top, matchAnalysis one
      // instance per partition, the two timers one each.
      expect(evaluate('dbConnectionsWorstCase', defaults)).toBe(8 * (2 * 40 + 1 + 4 + 2));
      expect(evaluate('dbConnectionHeadroom', defaults)).toBe(859 - 25 - 696);
      expect(evaluate('dbConnectionsWorstCase', { ...defaults, eventHubPartitionCount: 32, maximumInstanceCount: 10 })).toBe(8 * (20 + 1 + 10 + 2));
    });

    it('derives max_connections from the SKU unless it is given (postgresMaxConnections.json, read by main.bicep and the hook)', () => {
      expect(defaultOf('postgresMaxConnections')).toBe('0');
      expect(variable(main, 'postgresDefaultMaxConnections')).toBe("loadJsonContent('postgresMaxConnections.json')");
      expect(variable(main, 'postgresMaxConnectionsEffective')).toBe(
        'postgresMaxConnections > 0 ? postgresMaxConnections : (postgresDefaultMaxConnections[?postgresSkuName] ?? 0)',
      );
      const table = JSON.parse(read('infra/bicep/postgresMaxConnections.json')) as Record<string, number>;
      expect(table[literal(defaultOf('postgresSkuName'))!]).toBe(859);
      expect([table.Standard_B1ms, table.Standard_B2s, table.Standard_D4ds_v5, table.Standard_E2ds_v5, table.Standard_D16ds_v5]).toEqual([50, 429, 1718, 1718, 5000]);
    });

    it('refuses a combination that breaks it: the headroom goes to a @minValue(0) parameter of the function app', () => {
      expect(evaluate('dbConnectionHeadroom', { ...defaults, maximumInstanceCount: 100 })).toBeLessThan(0);
      expect(evaluate('dbConnectionHeadroom', { ...defaults, postgresMaxConnectionsEffective: 429 })).toBeLessThan(0);
      expect(evaluate('dbConnectionHeadroom', { ...defaults, dbPoolMax: 4, postgresMaxConnectionsEffective: 429 })).toBeGreaterThanOrEqual(0);
      expect(moduleBlock(main, 'modules/functionApp.bicep')).toMatch(/^\s+dbConnectionHeadroom: dbConnectionHeadroom$/m);
      expect(functionApp).toMatch(/@minValue\(0\)\nparam dbConnectionHeadroom int/);
      expect(bicepAppSettings.find((s) => s.name === 'DB_POOL_MAX')?.value).toBe('string(dbPoolMax)');
    });

    it('is computed the same way by the preprovision hook, before anything is deployed', async () => {
      const hook = pathToFileURL(join(root, 'infra', 'hooks', 'connectionBudget.mjs')).href;
      const { connectionBudget, durableAlwaysReady } = (await import(hook)) as {
        connectionBudget: (p: Record<string, number | string>) => { headroom: number };
        durableAlwaysReady: number;
      };
      expect(String(durableAlwaysReady)).toBe(variable(main, 'durableAlwaysReady'));
      const table = JSON.parse(read('infra/bicep/postgresMaxConnections.json')) as Record<string, number>;
      for (const combination of [
        {},
        { maximumInstanceCount: 100 },
        { maximumInstanceCount: 10, eventHubPartitionCount: 32 },
        { dbPoolMax: 4, postgresSkuName: 'Standard_B2s' },
        { postgresSkuName: 'Standard_D4ds_v5' },
        { postgresMaxConnections: 3000, maximumInstanceCount: 150 },
      ] as Array<Partial<{ maximumInstanceCount: number; dbPoolMax: number; eventHubPartitionCount: number; postgresSkuName: string; postgresMaxConnections: number }>>) {
        const p = {
          maximumInstanceCount: defaults.maximumInstanceCount,
          dbPoolMax: defaults.dbPoolMax,
          eventHubPartitionCount: defaults.eventHubPartitionCount,
          postgresReservedConnections: defaults.postgresReservedConnections,
          postgresSkuName: 'Standard_D2ds_v5',
          postgresMaxConnections: 0,
          ...combination,
        };
        const effective = p.postgresMaxConnections > 0 ? p.postgresMaxConnections : table[p.postgresSkuName]!;
        const { postgresSkuName: _sku, ...numbers } = p;
        const bicep = evaluate('dbConnectionHeadroom', { ...numbers, postgresMaxConnectionsEffective: effective });
        expect(connectionBudget(p).headroom, JSON.stringify(combination)).toBe(bicep);
      }
    });

    it('counts every kind of trigger the app registers (a new kind must be added to the budget)', async () => {
      const { functions } = await loadApp(root);
      const kinds = functions.map((fn) => {
        const client = Object.values(fn.metadata.bindings).some((binding) => binding.type === 'durableClient');
        return `${fn.trigger.type}${client ? ' with durable client' : ''} ${fn.name}`;
      });
      const durable = kinds.filter((k) => /^(activity|orchestration|entity)Trigger /.test(k));
      const http = kinds.filter((k) => /^httpTrigger /.test(k));
      const rest = kinds.filter((k) => !durable.includes(k) && !http.includes(k)).sort();
      // Budgeted: durable and http groups at the maximum, the Event Hub trigger per partition, two timers; the
      // Event Grid starter never opens a connection.
      expect(durable.length + http.length).toBeGreaterThan(0);
      expect(rest).toEqual([
        'eventGridTrigger with durable client blobCreatedStarter',
        'eventHubTrigger matchAnalysis',
        'timerTrigger outboxSweeper',
        'timerTrigger with durable client housekeeping',
      ]);
      expect(read('src/functions/blobCreatedStarter.ts')).not.toMatch(/\bdb\(\)|runtime\.js/);
    });
  });
});
