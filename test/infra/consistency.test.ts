import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingDefinitions, type SettingDefinition } from '../../src/adapters/settings.js';
import { functionNames, triggerContracts } from '../../src/functionNames.js';
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

  it('connects to PostgreSQL as the app identity, which is the server Entra principal', () => {
    const value = (name: string) => bicepAppSettings.find((s) => s.name === name)?.value;
    expect(value('PGUSER')).toBe('identityName');
    expect(value('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(value('PGSSLMODE')).toBe("'verify-full'");
    expect(moduleBlock(main, 'modules/functionApp.bicep')).toMatch(/identityName: identity\.outputs\.name/);
    const postgresModule = moduleBlock(main, 'modules/postgres.bicep');
    expect(postgresModule).toMatch(/appIdentityName: identity\.outputs\.name/);
    expect(postgresModule).toMatch(/appPrincipalId: identity\.outputs\.principalId/);
    const postgres = readBicep('infra/bicep/modules/postgres.bicep');
    expect(property(postgres, 'passwordAuth')).toBe("'Disabled'");
    expect(property(postgres, 'activeDirectoryAuth')).toBe("'Enabled'");
    // Every extension a migration creates is allow-listed on the server (Flexible Server refuses others).
    const created = readdirSync(join(root, 'migrations')).flatMap((file) =>
      [...read(`migrations/${file}`).matchAll(/CREATE EXTENSION IF NOT EXISTS (\w+)/gi)].map((match) => match[1]!.toUpperCase()));
    expect(created).toContain('PGCRYPTO');
    const allowList = resources(postgres).find((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/configurations' && property(r.body, 'name') === "'azure.extensions'");
    expect(literal(property(allowList!.body, 'value'))!.split(',')).toEqual(expect.arrayContaining(created));
    const admin = resources(postgres).find((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/administrators');
    expect(property(admin!.body, 'name')).toBe('appPrincipalId');
    expect(property(admin!.body, 'principalName')).toBe('appIdentityName');
  });

  it('ships a local settings example that satisfies every required setting with local stand-ins', () => {
    const local = JSON.parse(read('local.settings.example.json')) as { Values: Record<string, string> };
    const present = new Set(Object.keys(local.Values));
    expect(settingDefinitions.filter((d) => d.requirement === 'required' && !satisfied(d, present)).map((d) => d.name)).toEqual([]);
    expect(local.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(local.Values.DATABASE_URL).toBe('');
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
    expect(read('infra/hooks/postdeploy.sh')).toMatch(new RegExp(`^starter=${functionNames.blobCreatedStarter}$`, 'm'));
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
    expect(functionApp).toMatch(/alwaysReady: \[\{ name: 'durable', instanceCount: 1 \}\]/);
  });

  it('declares each function name once, as its own value', () => {
    expect(Object.entries(functionNames).every(([key, value]) => key === value)).toBe(true);
  });

  it.skipIf(!existsSync(join(root, 'src', 'app.ts')))('registers every function under its name from src/functionNames.ts', () => {
    const unregistered = Object.keys(functionNames).filter((name) => !appSource.includes(`functionNames.${name}`));
    expect(unregistered).toEqual([]);
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
          role: /roles\.(\w+)/.exec(property(r.body, 'roleDefinitionId') ?? '')?.[1] ?? '(not from roles.json)',
          scopeType: declared.find((d) => d.symbol === scope)?.type ?? `(not a resource: ${scope})`,
        };
      });
  });

  // Who holds which role where, and why: anything broader or extra fails the test.
  const account = 'Microsoft.Storage/storageAccounts';
  const expected: Record<string, Array<[role: string, scopeType: string]>> = {
    // host storage + Flex package (blob owner), Durable queues and tables, events out and in, telemetry via Entra.
    'modules/storage.bicep appPrincipalId': [
      ['storageBlobDataOwner', account],
      ['storageQueueDataContributor', account],
      ['storageTableDataContributor', account],
    ],
    'modules/eventHubs.bicep appPrincipalId': [
      ['eventHubsDataSender', 'Microsoft.EventHub/namespaces/eventhubs'],
      ['eventHubsDataReceiver', 'Microsoft.EventHub/namespaces/eventhubs'],
    ],
    'modules/monitoring.bicep appPrincipalId': [['monitoringMetricsPublisher', 'Microsoft.Insights/components']],
    // The deploying user uploads CSVs and browses the task hub; no owner rights on data.
    'modules/storage.bicep deployerPrincipalId': [
      ['storageBlobDataContributor', account],
      ['storageQueueDataContributor', account],
      ['storageTableDataContributor', account],
    ],
    // Event Grid only writes dead letters, into one container.
    'modules/eventGridTopic.bicep topic.identity.principalId': [
      ['storageBlobDataContributor', 'Microsoft.Storage/storageAccounts/blobServices/containers'],
    ],
    // The monitor reads and manages the task hub in the account it also runs its host on.
    'modules/dfmon.bicep identity.properties.principalId': [
      ['storageBlobDataOwner', account],
      ['storageQueueDataContributor', account],
      ['storageTableDataContributor', account],
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
    expect(moduleBlock(main, 'modules/storage.bicep')).toMatch(/deployerPrincipalId: principalId$/m);
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

  it('points azure.yaml at infra/bicep and an existing postdeploy hook', () => {
    const azureYaml = read('azure.yaml');
    expect(azureYaml).toMatch(/^\s+path: infra\/bicep$/m);
    expect(azureYaml).toMatch(/^\s+host: function$/m);
    const hook = /postdeploy:[\s\S]*?run: (\S+)/.exec(azureYaml)?.[1];
    expect(hook).toBeDefined();
    expect(existsSync(join(root, hook!))).toBe(true);
    expect(statSync(join(root, hook!)).mode & 0o111).not.toBe(0);
  });
});
