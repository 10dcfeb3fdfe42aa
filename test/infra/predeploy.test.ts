import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../local/src/embeddedPostgres.js';
import { root } from './bicepText.js';
import { startHook, type Rule } from './fakeCli.js';

/**
 * The predeploy hook against a real PostgreSQL server of its own, set up as Azure's is for this deployment: TLS
 * (the hook verifies the certificate: a CA of the test's own through NODE_EXTRA_CA_CERTS), no superuser for the
 * deployers, an administrator role named after the Entra group with CREATEDB and CREATEROLE, and pg_hba admitting
 * only that role from this address (anyone else is refused as Azure's firewall refuses an unknown address). What
 * only Entra can do is stood in for: a member's token is the group role's password (a non-member's token is not),
 * and pgaadauth_create_principal_with_oid creates a login role. The hook runs as azd runs it, with fake az/azd.
 */
const hook = join(root, 'infra', 'hooks', 'azd.mjs');
const group = 'bulkflow admins (ci)';
const memberToken = 'token-of-a-group-member';
const dist = join(root, 'dist', 'src', 'engine', 'index.js');

let server: RunningPostgres;
let superuser: pg.Pool;
let scratch: string;
let port: string;

function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'predeploy-'));
  server = await startEmbeddedPostgres({ dataDir: join(scratch, 'pg'), persistent: false });
  port = new URL(server.url).port;
  // A certificate for 127.0.0.1, which the hook process trusts and verifies like Azure's.
  const cert = join(server.dataDir!, 'server.crt');
  const key = join(server.dataDir!, 'server.key');
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  const owner = serverUser();
  if (owner) for (const file of [cert, key]) chownSync(file, owner.uid, owner.gid);
  writeFileSync(join(scratch, 'ca.crt'), pems.cert);
  writeFileSync(
    join(server.dataDir!, 'pg_hba.conf'),
    [`host all postgres 127.0.0.1/32 scram-sha-256`, `hostssl all "${group}" 127.0.0.1/32 scram-sha-256`, ''].join('\n'),
  );
  if (owner) chownSync(join(server.dataDir!, 'pg_hba.conf'), owner.uid, owner.gid);
  superuser = new pg.Pool({ connectionString: server.url, max: 1 });
  await superuser.query(`ALTER SYSTEM SET ssl = on`);
  await superuser.query(`ALTER SYSTEM SET ssl_cert_file = '${cert}'`);
  await superuser.query(`ALTER SYSTEM SET ssl_key_file = '${key}'`);
  await superuser.query('SELECT pg_reload_conf()');
  await superuser.query(`CREATE ROLE "${group}" LOGIN NOSUPERUSER CREATEDB CREATEROLE PASSWORD '${memberToken}'`);
  await superuser.query(`
    CREATE FUNCTION pgaadauth_create_principal_with_oid(name text, oid text, kind text, admin boolean, mfa boolean) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN EXECUTE format('CREATE ROLE %I LOGIN', name); RETURN 'Created role for ' || name; END $$`);
}, 120_000);

afterAll(async () => {
  await superuser?.end();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
    AZURE_TENANT_ID: '99999999-2222-3333-4444-555555555555',
    AZURE_ENV_NAME: 'ci',
    RESOURCE_GROUP: 'rg-ci',
    AZURE_POSTGRES_HOST: '127.0.0.1',
    AZURE_POSTGRES_SERVER_NAME: 'psql-abc',
    AZURE_POSTGRES_DATABASE: 'bulkflow',
    AZURE_POSTGRES_ADMIN_NAME: group,
    AZURE_APP_IDENTITY_NAME: 'id-abc',
    AZURE_APP_IDENTITY_PRINCIPAL_ID: 'mi-object-id',
    PGPORT: port,
    NODE_EXTRA_CA_CERTS: join(scratch, 'ca.crt'),
    // dist/ is built by the test command; the hook would otherwise rebuild it under the other test files' feet.
    PREDEPLOY_SKIP_BUILD: 'true',
    HOOK_RETRY_DELAY_SECONDS: '1',
    ...extra,
  };
}

const token = (value: string): Rule => ({ match: 'account get-access-token', answers: [{ stdout: value }] });

describe.skipIf(!existsSync(dist))('predeploy hook against PostgreSQL, as a first and a second deployer', () => {
  it('creates the database as the admin group, migrates, and lets the app login act as bulkflow_app', async () => {
    const first = await (await startHook(hook, 'predeploy', env(), [token(memberToken)])).result;
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/database bulkflow created, owned by bulkflow admins \(ci\)/);
    const owner = await superuser.query<{ owner: string }>(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'bulkflow'`);
    expect(owner.rows[0]?.owner).toBe(group);
    const grant = await superuser.query<{ admin: boolean; inherit: boolean; set: boolean }>(
      `SELECT admin_option AS admin, inherit_option AS inherit, set_option AS set FROM pg_auth_members
       WHERE roleid = 'bulkflow_app'::regrole AND member = 'id-abc'::regrole`,
    );
    expect(grant.rows).toEqual([{ admin: false, inherit: false, set: true }]);
    // The group created bulkflow_app, so it holds the ADMIN OPTION PostgreSQL 16+ requires to grant it.
    const creator = await superuser.query(
      `SELECT 1 FROM pg_auth_members WHERE roleid = 'bulkflow_app'::regrole AND admin_option AND member = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
      [group],
    );
    expect(creator.rowCount).toBe(1);
  });

  it('runs again for a second deployer (a teammate, or CI after a laptop): another member, the same role', async () => {
    // Another member's own token; Entra maps both to the group. Nothing is created twice, the grant is repeated.
    const second = await (await startHook(hook, 'predeploy', env({ AZURE_ENV_NAME: 'ci-teammate' }), [token(memberToken)])).result;
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).not.toMatch(/created/);
    expect(second.stdout).toMatch(/bulkflow migrated; id-abc may act as bulkflow_app/);
    // What a second personal administrator would meet instead (the model before the group): on PostgreSQL 16+ an
    // administrator that did not create bulkflow_app may not grant it.
    const client = await superuser.connect();
    try {
      await client.query(`CREATE ROLE "bob@contoso.com" LOGIN NOSUPERUSER CREATEDB CREATEROLE`);
      await client.query(`SET ROLE "bob@contoso.com"`);
      await expect(client.query('GRANT bulkflow_app TO "id-abc" WITH INHERIT FALSE, SET TRUE')).rejects.toThrow(/permission denied to grant role "bulkflow_app"/);
    } finally {
      await client.query('RESET ROLE');
      client.release();
    }
  });

  it('tells a deployer outside the group how to be added, instead of a bare sign-in failure', async () => {
    const outsider = await (await startHook(hook, 'predeploy', env(), [token('token-of-someone-else')])).result;
    expect(outsider.code).toBe(1);
    expect(outsider.stderr).toMatch(/password authentication failed for user "bulkflow admins \(ci\)"/);
    expect(outsider.stderr).toMatch(/must be a member of the Entra group "bulkflow admins \(ci\)".*az ad group member add/s);
  });

  it('removes the firewall rule it made for this address when interrupted (Ctrl-C)', async () => {
    // A name pg_hba does not admit from this address: refused as Azure's firewall refuses an unlisted one.
    const run = await startHook(hook, 'predeploy', env({ AZURE_POSTGRES_ADMIN_NAME: 'firewalled', HOOK_RETRY_DELAY_SECONDS: '5' }), [
      token(memberToken),
      { match: 'firewall-rule (create|delete)', answers: [{ stdout: '' }] },
    ]);
    const deadline = Date.now() + 30_000;
    while (!/allowing it until the migrations are done/.test(run.output().stdout)) {
      if (Date.now() > deadline) throw new Error(`the hook never asked for a rule:\n${JSON.stringify(run.output())}`);
      await new Promise((done) => setTimeout(done, 100));
    }
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code).toBe(130);
    const rules = result.calls.filter((call) => call.args.includes('firewall-rule')).map((call) => [call.args[3], call.args[call.args.indexOf('--rule-name') + 1]]);
    expect(rules).toEqual([
      ['create', 'azd-deploy-127-0-0-1'],
      ['delete', 'azd-deploy-127-0-0-1'],
    ]);
    const create = result.calls.find((call) => call.args[3] === 'create')!.args;
    expect(create[create.indexOf('--start-ip-address') + 1]).toBe('127.0.0.1');
  });
});
