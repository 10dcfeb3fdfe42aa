import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionNames } from '../../src/functionNames.js';
import { root } from './bicepText.js';
import { startHook, type Rule } from './fakeCli.js';

const hook = join(root, 'infra', 'hooks', 'azd.mjs');
const subscription = '11111111-2222-3333-4444-555555555555';

const deployed = {
  AZURE_SUBSCRIPTION_ID: subscription,
  AZURE_TENANT_ID: '99999999-2222-3333-4444-555555555555',
  AZURE_ENV_NAME: 'dev',
  RESOURCE_GROUP: 'rg-dev',
  AZURE_FUNCTION_APP_NAME: 'func-abc',
  AZURE_UPLOADS_STORAGE_ACCOUNT_NAME: 'stuabc',
  AZURE_EVENTGRID_SYSTEM_TOPIC: 'evgt-abc',
  HOOK_RETRY_DELAY_SECONDS: '0',
};

async function runHook(name: string, env: Record<string, string>, rules: Rule[]) {
  return (await startHook(hook, name, env, rules)).result;
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
    expect(create).toEqual(expect.arrayContaining(['systemTopicName=evgt-abc', 'functionAppName=func-abc', 'storageAccountName=stuabc', 'deadLetterContainerName=eventgrid-deadletter']));
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
    const child = spawn(process.execPath, [hook, 'postdeploy'], { env: { ...deployed, PATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code).toBe(1);
    expect(stderr).toMatch(/az is not on PATH/);
  });
});

describe('preprovision hook, run as azd runs it: no AZURE_PRINCIPAL_ID in its environment', () => {
  // azd passes the environment's values and the template outputs; it resolves AZURE_PRINCIPAL_ID and
  // AZURE_PRINCIPAL_TYPE only for the template's parameters (Azure/azure-dev, bicep_provider.go evalParamEnvSubst),
  // so the hook asks azd itself who it is signed in as.
  const base = { AZURE_SUBSCRIPTION_ID: subscription, AZURE_ENV_NAME: 'ci' };
  const azdStatus = (status: object) => ({ match: '^azd auth status --output json$', answers: [{ stdout: JSON.stringify(status) }] });
  const azAccount = (user: object) => ({ match: '^az account show', answers: [{ stdout: JSON.stringify({ user }) }] });

  it('passes a user signed in to both as the same account, checking the connection budget first', async () => {
    const result = await runHook('preprovision', base, [
      azdStatus({ status: 'authenticated', type: 'user', email: 'Ops@Contoso.com' }),
      azAccount({ name: 'ops@contoso.com', type: 'user' }),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deploying as user Ops@Contoso\.com; worst case 696 PostgreSQL connections, headroom 138/);
    const account = result.calls.find((call) => call.args[0] === 'account')!.args;
    expect(account[account.indexOf('--subscription') + 1]).toBe(subscription);
    // Nothing is written to the azd environment: azd itself fills the principal parameters.
    expect(result.calls.filter((call) => call.program === 'azd').map((call) => call.args.join(' '))).toEqual(['auth status --output json']);
  });

  it('passes a second deployer (a teammate or CI after a laptop deploy) with the first one\'s outputs in the environment', async () => {
    const afterFirstDeploy = { ...base, AZURE_POSTGRES_ADMIN_NAME: 'bulkflow admins (ci)', POSTGRES_ADMIN_GROUP_OBJECT_ID: 'group-id', AZURE_API_CLIENT_ID: 'api-client' };
    const result = await runHook('preprovision', afterFirstDeploy, [
      azdStatus({ status: 'authenticated', type: 'servicePrincipal', clientId: 'ci-client-id' }),
      azAccount({ name: 'ci-client-id', type: 'servicePrincipal' }),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deploying as servicePrincipal ci-client-id/);
  });

  it('knows a managed identity az signed in with by its client id', async () => {
    const result = await runHook('preprovision', base, [
      azdStatus({ status: 'authenticated', type: 'servicePrincipal', clientId: 'mi-client-id' }),
      azAccount({ name: 'userAssignedIdentity', type: 'servicePrincipal', assignedIdentityInfo: 'MSIClient-mi-client-id' }),
    ]);
    expect(result.code).toBe(0);
  });

  it('refuses when azd and az are signed in as different principals, naming both', async () => {
    const result = await runHook('preprovision', base, [
      azdStatus({ status: 'authenticated', type: 'user', email: 'ana@contoso.com' }),
      azAccount({ name: 'ops@contoso.com', type: 'user' }),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/azd is signed in as user ana@contoso\.com but az as user ops@contoso\.com/);
  });

  it('refuses when azd is not signed in, and says what an azd without `auth status` needs', async () => {
    const signedOut = await runHook('preprovision', base, [azdStatus({ status: 'unauthenticated' }), azAccount({ name: 'ops@contoso.com', type: 'user' })]);
    expect(signedOut.code).toBe(1);
    expect(signedOut.stderr).toMatch(/azd is not signed in: run azd auth login/);
    const old = await runHook('preprovision', base, [
      { match: '^azd auth status', answers: [{ stderr: 'Error: unknown command "status" for "azd auth"', code: 1 }] },
      azAccount({ name: 'ops@contoso.com', type: 'user' }),
    ]);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/update azd/);
  });

  it('refuses a connection budget the server cannot take before anything is deployed or asked', async () => {
    const tooMany = await runHook('preprovision', { ...base, MAXIMUM_INSTANCE_COUNT: '100' }, []);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/connection budget exceeded: 8 connections x 207 instances = 1656, but Standard_D2ds_v5 allows 859 - 25 reserved = 834/);
    expect(tooMany.calls).toEqual([]);
    const smallServer = await runHook('preprovision', { ...base, POSTGRES_SKU_NAME: 'Standard_B2s' }, []);
    expect(smallServer.stderr).toMatch(/Standard_B2s allows 429/);
    const unknown = await runHook('preprovision', { ...base, POSTGRES_SKU_NAME: 'Standard_X9' }, []);
    expect(unknown.stderr).toMatch(/no known max_connections for PostgreSQL SKU Standard_X9: set POSTGRES_MAX_CONNECTIONS/);
    // A server whose max_connections was raised: the operator says so.
    const raised = await runHook('preprovision', { ...base, POSTGRES_SKU_NAME: 'Standard_B2s', POSTGRES_MAX_CONNECTIONS: '1000' }, [
      azdStatus({ status: 'authenticated', type: 'user', email: 'ops@contoso.com' }),
      azAccount({ name: 'ops@contoso.com', type: 'user' }),
    ]);
    expect(raised.code).toBe(0);
  });

  it('refuses an existing admin group given by id without its name (members sign in as the name)', async () => {
    const result = await runHook('preprovision', { ...base, AZURE_POSTGRES_ADMIN_GROUP_ID: 'g' }, []);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/AZURE_POSTGRES_ADMIN_GROUP_NAME/);
  });
});

describe('postdown hook (Entra objects azd down leaves behind), with a fake az on PATH', () => {
  const base = { AZURE_SUBSCRIPTION_ID: subscription, AZURE_ENV_NAME: 'dev', AZURE_API_CLIENT_ID: 'api-client' };
  const rules: Rule[] = [
    { match: '^az cloud show', answers: [{ stdout: 'https://graph.microsoft.com/' }] },
    { match: '^az ad app show --id api-client', answers: [{ stdout: 'app-object-id' }] },
    { match: '^az ad group show --group group-id', answers: [{ stdout: 'group-id' }] },
    { match: '^az (ad app delete|ad group delete|rest)', answers: [{}] },
  ];

  it('deletes and purges the app registration and the admin group it created, so their unique names are free again', async () => {
    const result = await runHook('postdown', { ...base, POSTGRES_ADMIN_GROUP_CREATED: 'true', POSTGRES_ADMIN_GROUP_OBJECT_ID: 'group-id' }, rules);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const az = result.calls.map((call) => call.args.filter((arg) => arg !== '--only-show-errors').join(' '));
    expect(az).toEqual(expect.arrayContaining([
      'ad app delete --id api-client',
      'rest --method DELETE --uri https://graph.microsoft.com/v1.0/directory/deletedItems/app-object-id',
      'ad group delete --group group-id',
      'rest --method DELETE --uri https://graph.microsoft.com/v1.0/directory/deletedItems/group-id',
    ]));
  });

  it('leaves a group the operator brought, and everything when asked to keep them', async () => {
    const brought = await runHook('postdown', { ...base, POSTGRES_ADMIN_GROUP_CREATED: 'false', POSTGRES_ADMIN_GROUP_OBJECT_ID: 'group-id' }, rules);
    expect(brought.code).toBe(0);
    expect(brought.calls.some((call) => call.args.includes('group'))).toBe(false);
    const kept = await runHook('postdown', { ...base, KEEP_ENTRA_OBJECTS: 'true' }, rules);
    expect(kept.code).toBe(0);
    expect(kept.calls).toEqual([]);
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
