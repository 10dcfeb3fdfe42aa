import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { functionNames } from '../../src/functionNames.js';
import { root } from './bicepText.js';
import { fakeCli, type FakeCli, type Rule } from './fakeCli.js';

const hook = join(root, 'infra', 'hooks', 'azd.mjs');
const subscription = '11111111-2222-3333-4444-555555555555';

const deployed = {
  AZURE_SUBSCRIPTION_ID: subscription,
  AZURE_TENANT_ID: '99999999-2222-3333-4444-555555555555',
  AZURE_ENV_NAME: 'dev',
  RESOURCE_GROUP: 'rg-dev',
  AZURE_FUNCTION_APP_NAME: 'func-abc',
  AZURE_STORAGE_ACCOUNT_NAME: 'stabc',
  AZURE_EVENTGRID_SYSTEM_TOPIC: 'evgt-abc',
  HOOK_RETRY_DELAY_SECONDS: '0',
};

let cli: FakeCli | undefined;
afterEach(async () => {
  await cli?.remove();
  cli = undefined;
});

async function runHook(name: string, env: Record<string, string>, rules: Rule[]) {
  cli = await fakeCli(rules);
  const child = spawn(process.execPath, [hook, name], { env: { PATH: cli.path, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  return { code, stdout, stderr, calls: await cli.calls() };
}

const functionShow = 'functionapp function show';
const subscriptionDeployment = 'deployment group create';
const validationFailure =
  'ERROR: {"code": "InvalidRequest", "message": "Webhook validation handshake failed for https://func-abc.azurewebsites.net/runtime/webhooks/EventGrid. Http POST request retuned 2XX response with response body . When a validation request is accepted without validation code in the response body, Http GET is expected on the validation url included in the validation event (within 10 minutes)."}';

describe('postdeploy hook (Event Grid subscription), with a fake az on PATH', () => {
  it('waits for the starter, retries the subscription while Event Grid cannot validate it, and scopes every call to the azd subscription', async () => {
    const result = await runHook('postdeploy', deployed, [
      { match: functionShow, answers: [{ stderr: 'ERROR: (ResourceNotFound) Function blobCreatedStarter not found.', code: 3 }, { stderr: 'ERROR: Not Found', code: 3 }, { stdout: 'blobCreatedStarter' }] },
      { match: subscriptionDeployment, answers: [{ stderr: validationFailure, code: 1 }, { stderr: validationFailure, code: 1 }, { stdout: '' }] },
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const az = result.calls.filter((call) => call.program === 'az');
    expect(az.map((call) => call.args.slice(0, 3).join(' '))).toEqual([
      functionShow, functionShow, functionShow, subscriptionDeployment, subscriptionDeployment, subscriptionDeployment,
    ]);
    for (const call of az) {
      expect(call.args[call.args.indexOf('--subscription') + 1], call.args.join(' ')).toBe(subscription);
    }
    const show = az[0]!.args;
    expect(show[show.indexOf('--function-name') + 1]).toBe(functionNames.blobCreatedStarter);
    const create = az.at(-1)!.args;
    expect(create[create.indexOf('--template-file') + 1]).toBe(join(root, 'infra', 'bicep', 'modules', 'eventGridSubscription.bicep'));
    expect(create).toEqual(expect.arrayContaining(['systemTopicName=evgt-abc', 'functionAppName=func-abc', 'storageAccountName=stabc', 'deadLetterContainerName=eventgrid-deadletter']));
    expect(result.stdout).toMatch(/evgt-abc delivers new uploads/);
  });

  it('stops at the first az failure that waiting cannot fix, and shows the CLI\'s own error', async () => {
    const denied =
      "ERROR: (AuthorizationFailed) The client 'ops@contoso.com' with object id 'abc' does not have authorization to perform action 'Microsoft.Web/sites/functions/read' over scope '/subscriptions/x/resourceGroups/rg-dev'";
    const result = await runHook('postdeploy', deployed, [{ match: functionShow, answers: [{ stderr: denied, code: 1 }] }]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('AuthorizationFailed');
    expect(result.stderr).toContain("does not have authorization to perform action 'Microsoft.Web/sites/functions/read'");
    expect(result.calls.filter((call) => call.program === 'az')).toHaveLength(1);
  });

  it('gives up after its attempts with the last validation error, not a generic timeout', async () => {
    const result = await runHook('postdeploy', deployed, [
      { match: functionShow, answers: [{ stdout: 'blobCreatedStarter' }] },
      { match: subscriptionDeployment, answers: [{ stderr: validationFailure, code: 1 }] },
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Webhook validation handshake failed');
    expect(result.calls.filter((call) => call.args.join(' ').startsWith(subscriptionDeployment))).toHaveLength(10);
  });

  it('refuses to run outside azd, naming what is missing', async () => {
    const { AZURE_SUBSCRIPTION_ID: _, ...withoutSubscription } = deployed;
    const result = await runHook('postdeploy', withoutSubscription, []);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/AZURE_SUBSCRIPTION_ID not set: run this through azd/);
    expect(result.calls).toEqual([]);
  });

  it('says so when az is not installed', async () => {
    cli = await fakeCli([]);
    const child = spawn(process.execPath, [hook, 'postdeploy'], { env: { ...deployed, PATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code).toBe(1);
    expect(stderr).toMatch(/az is not on PATH/);
  });
});

describe('preprovision hook (who runs azd), with fake az and azd on PATH', () => {
  const base = { AZURE_SUBSCRIPTION_ID: subscription, AZURE_ENV_NAME: 'ci' };

  it('records a service principal as ServicePrincipal with its display name', async () => {
    const result = await runHook('preprovision', { ...base, AZURE_PRINCIPAL_ID: 'sp-object-id' }, [
      { match: '^az account show', answers: [{ stdout: JSON.stringify({ user: { name: 'app-client-id', type: 'servicePrincipal' } }) }] },
      { match: '^az ad sp show --id app-client-id', answers: [{ stdout: JSON.stringify({ id: 'sp-object-id', displayName: 'bulkflow-ci' }) }] },
      { match: '^azd env set', answers: [{}] },
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const sets = result.calls.filter((call) => call.program === 'azd').map((call) => call.args);
    expect(sets).toEqual([
      ['env', 'set', 'AZURE_PRINCIPAL_TYPE', 'ServicePrincipal', '--environment', 'ci'],
      ['env', 'set', 'AZURE_PRINCIPAL_NAME', 'bulkflow-ci', '--environment', 'ci'],
    ]);
    const account = result.calls.find((call) => call.args[0] === 'account')!.args;
    expect(account[account.indexOf('--subscription') + 1]).toBe(subscription);
  });

  it('records a signed-in user as User with the user principal name', async () => {
    const result = await runHook('preprovision', { ...base, AZURE_PRINCIPAL_ID: 'user-object-id' }, [
      { match: '^az account show', answers: [{ stdout: JSON.stringify({ user: { name: 'ops@contoso.com', type: 'user' } }) }] },
      { match: '^az ad signed-in-user show', answers: [{ stdout: JSON.stringify({ id: 'user-object-id', userPrincipalName: 'ops@contoso.com' }) }] },
      { match: '^azd env set', answers: [{}] },
    ]);
    expect(result.code).toBe(0);
    expect(result.calls.filter((call) => call.program === 'azd').map((call) => call.args.slice(2, 4))).toEqual([
      ['AZURE_PRINCIPAL_TYPE', 'User'],
      ['AZURE_PRINCIPAL_NAME', 'ops@contoso.com'],
    ]);
  });

  it('refuses when azd and az are signed in as different principals', async () => {
    const result = await runHook('preprovision', { ...base, AZURE_PRINCIPAL_ID: 'someone-else' }, [
      { match: '^az account show', answers: [{ stdout: JSON.stringify({ user: { name: 'ops@contoso.com', type: 'user' } }) }] },
      { match: '^az ad signed-in-user show', answers: [{ stdout: JSON.stringify({ id: 'user-object-id', userPrincipalName: 'ops@contoso.com' }) }] },
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/azd runs as someone-else but az is signed in as ops@contoso.com \(user-object-id\)/);
    expect(result.calls.filter((call) => call.program === 'azd')).toEqual([]);
  });

  it('keeps values the operator set and calls nothing', async () => {
    const result = await runHook('preprovision', { ...base, AZURE_PRINCIPAL_TYPE: 'ServicePrincipal', AZURE_PRINCIPAL_NAME: 'x' }, []);
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([]);
  });
});

describe('predeploy hook (migrations), with a fake az on PATH', () => {
  it('shows the CLI\'s error when no PostgreSQL token can be had, before touching the database', async () => {
    const result = await runHook(
      'predeploy',
      {
        ...deployed,
        AZURE_POSTGRES_HOST: 'psql-abc.postgres.database.azure.com',
        AZURE_POSTGRES_SERVER_NAME: 'psql-abc',
        AZURE_POSTGRES_DATABASE: 'bulkflow',
        AZURE_POSTGRES_ADMIN_NAME: 'ops@contoso.com',
        AZURE_APP_IDENTITY_NAME: 'id-abc',
        AZURE_APP_IDENTITY_PRINCIPAL_ID: 'mi-object-id',
      },
      [{ match: 'account get-access-token', answers: [{ stderr: "ERROR: AADSTS70043: The refresh token has expired. Run 'az login'.", code: 1 }] }],
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('AADSTS70043');
    const token = result.calls[0]!.args;
    expect(token[token.indexOf('--tenant') + 1]).toBe(deployed.AZURE_TENANT_ID);
    expect(token[token.indexOf('--resource-type') + 1]).toBe('oss-rdbms');
  });
});
