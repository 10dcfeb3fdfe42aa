import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../src/host/host.js';
import { appEntries } from '../../src/host/registry.js';
import { writeStockApp } from '../fixtures/stockApp.js';

let scratch: string;
let host: RunningHost;
const logs: string[] = [];

beforeAll(async () => {
  await mkdir(join(process.cwd(), '.data'), { recursive: true });
  scratch = await mkdtemp(join(process.cwd(), '.data', 'stock-apps-'));
  await writeStockApp(join(scratch, 'app'));
  host = await startHost({ appDir: join(scratch, 'app'), port: 0, log: (line) => logs.push(line) });
});

afterAll(async () => {
  await host?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('an app as `func init` writes it (main: dist/src/{index.js,functions/*.js})', () => {
  it('loads every file the glob matches, index.js first, as the Node worker does', async () => {
    const response = await fetch(`${host.url}/api/hello`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ loadOrder: ['index', 'echo', 'hello', 'notify', 'slow'] });
  });

  it('a function bound to an unset app setting is reported and left out; the others run', async () => {
    const notify = host.functions.find((fn) => fn.name === 'notify');
    expect(notify?.disabled).toBe('binding expression %TwilioPhoneNumber% refers to app setting "TwilioPhoneNumber", which is not set');
    expect(host.functions.find((fn) => fn.name === 'hello')).toMatchObject({ trigger: 'httpTrigger', methods: ['GET'] });
    expect(logs.some((line) => line.includes('function disabled function=notify') && line.includes('TwilioPhoneNumber'))).toBe(true);
  });

  it('invoking the disabled function answers 500 with the reason', async () => {
    const response = await fetch(`${host.url}/api/notify`, { method: 'POST' });
    expect(response.status).toBe(500);
    expect(await response.text()).toBe(
      'function "notify" is disabled: binding expression %TwilioPhoneNumber% refers to app setting "TwilioPhoneNumber", which is not set',
    );
  });
});

describe('HTTP streams (app.setup({ enableHttpStream: true }), as func init writes it)', () => {
  it('the request body reaches the function as a stream and its streamed response comes back, with params, headers and status', async () => {
    const payload = 'x'.repeat(300_000);
    const response = await fetch(`${host.url}/api/echo/big?q=1`, { method: 'POST', headers: { 'x-caller': 'test' }, body: payload });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-kind')).toBe('big');
    expect(response.headers.get('x-caller')).toBe('test');
    expect(await response.text()).toBe(payload);
  });

  it('a function that throws answers 500; one that returns nothing answers 204', async () => {
    expect((await fetch(`${host.url}/api/echo/a?fail=1`, { method: 'POST', body: 'x' })).status).toBe(500);
    expect((await fetch(`${host.url}/api/echo/a?empty=1`, { method: 'POST', body: 'x' })).status).toBe(204);
    // and the host still answers afterwards (nothing left waiting on the library's server)
    expect((await fetch(`${host.url}/api/hello`)).status).toBe(200);
  });
});

describe('package.json main that finds nothing', () => {
  const app = async (name: string, main: string, folders: string[] = []) => {
    const dir = join(scratch, name);
    for (const folder of folders) await mkdir(join(dir, folder), { recursive: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ main }));
    return dir;
  };

  it('asks "was the app built?" only when the build output folder is missing', async () => {
    const unbuilt = await app('unbuilt', 'dist/src/{index.js,functions/*.js}');
    expect(() => appEntries(unbuilt)).toThrow(`package.json "main" matches no file (${join(unbuilt, 'dist', 'src')} does not exist: was the app built?)`);
    const unbuiltFile = await app('unbuilt-file', 'dist/src/app.js');
    expect(() => appEntries(unbuiltFile)).toThrow('was the app built?');
  });

  it('says the pattern matches nothing, without the build question, when the folder is there', async () => {
    const empty = await app('empty', 'dist/src/functions/*.js', ['dist/src/functions']);
    let message = '';
    try {
      appEntries(empty);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(`could not load the Functions app from ${join(empty, 'dist/src/functions/*.js')}: package.json "main" matches no file`);
    const missingFile = await app('missing-file', 'dist/app.js', ['dist']);
    expect(() => appEntries(missingFile)).toThrow(/the file named by package.json "main" does not exist$/);
  });
});
