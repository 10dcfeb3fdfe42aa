import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bicepDir, root } from './bicepText.js';

/**
 * Every .bicep file against Azure's published resource type definitions, with the offline checker the project keeps
 * beside its clone (../shared/tools/bicep-check; BICEP_CHECK_DIR elsewhere). It is copied out first (shared/ is
 * read-only in CI) and given the type files for API versions it lacks (test/infra/bicep-types, same naming).
 * Outside CI a machine without the checker skips this file; in CI its absence fails it.
 */
const checkerSource = process.env.BICEP_CHECK_DIR ?? join(root, '..', 'shared', 'tools', 'bicep-check');
const available = existsSync(join(checkerSource, 'check.cjs'));
const extraTypes = join(root, 'test', 'infra', 'bicep-types');

if (!available && process.env.CI) {
  throw new Error(`the bicep type checker is not at ${checkerSource}: CI must run it (set BICEP_CHECK_DIR)`);
}

let checker = '';
const scratch: string[] = [];

function bicepFilesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.bicep'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Runs the checker over every .bicep file under `directory`; its summary and findings. */
function check(directory: string) {
  const files = bicepFilesUnder(directory);
  const result = spawnSync(process.execPath, [join(checker, 'check.cjs'), ...files], { cwd: directory, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  const lines = result.stdout.split('\n');
  const findings = lines.filter((line) => /^(ERROR|WARNING|INFO)\s/.test(line));
  const checked = /^checked (\d+) files, (\d+) resource bodies/m.exec(result.stdout);
  expect(checked, result.stdout).not.toBeNull();
  return { files: Number(checked![1]), bodies: Number(checked![2]), findings, summary: lines.find((line) => /error\(s\)/.test(line)), output: result.stdout };
}

describe.skipIf(!available)('bicep type check (Azure resource type definitions)', () => {
  beforeAll(() => {
    checker = mkdtempSync(join(tmpdir(), 'bicep-check-'));
    scratch.push(checker);
    cpSync(checkerSource, checker, { recursive: true, filter: (path) => !path.includes('node_modules') });
    for (const file of readdirSync(extraTypes).filter((name) => name.endsWith('.json'))) {
      cpSync(join(extraTypes, file), join(checker, 'types', file));
    }
    // The grammar ships as WebAssembly; the native build its install script makes is not used.
    const install = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: checker, encoding: 'utf8', shell: process.platform === 'win32' });
    expect(install.status, install.stderr).toBe(0);
  }, 300_000);

  afterAll(() => {
    for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
  });

  it('finds nothing in infra/bicep: every resource type and API version is known, every body fits its type', () => {
    const result = check(bicepDir);
    expect(result.findings).toEqual([]);
    expect(result.summary).toBe('0 error(s), 0 warning(s), 0 info');
    expect(result.files).toBe(bicepFilesUnder(bicepDir).length);
    expect(result.bodies).toBeGreaterThan(40);
  });

  it('has a type file for every resource type@version the templates declare', () => {
    const known = new Set<string>();
    for (const directory of [join(checker, 'types')]) {
      for (const file of readdirSync(directory).filter((name) => name.endsWith('.json'))) {
        for (const type of JSON.parse(readFileSync(join(directory, file), 'utf8')) as Array<{ $type: string; name?: string }>) {
          if (type.$type === 'ResourceType' && type.name) known.add(type.name.toLowerCase());
        }
      }
    }
    const declared = bicepFilesUnder(bicepDir).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/^resource \w+ '([^']+)'/gm)].map((match) => `${relative(root, file)} ${match[1]!}`));
    expect(declared.length).toBeGreaterThan(40);
    expect(declared.filter((entry) => !known.has(entry.split(' ')[1]!.toLowerCase()))).toEqual([]);
  });

  // The checker cannot evaluate `vnetEnabled`: it checks every resource body whatever its condition, and both
  // branches of a conditional expression. A fault planted on either side of the switch must be found, so a clean
  // run covers the private-network deployment and the public one alike.
  it('checks both sides of the VNET_ENABLED switch: a fault planted in either is found', () => {
    const copy = mkdtempSync(join(tmpdir(), 'bicep-mutant-'));
    scratch.push(copy);
    cpSync(bicepDir, copy, { recursive: true });
    const plant = (file: string, from: string, to: string) => {
      const path = join(copy, file);
      const text = readFileSync(path, 'utf8');
      expect(text, `${file} contains ${from}`).toContain(from);
      writeFileSync(path, text.replace(from, to));
    };
    // The private side: a resource that exists only when vnetEnabled, and the true branch of a switch.
    plant('modules/network.bicep', "privateEndpointNetworkPolicies: 'Disabled'", "privateEndpointNetworkPolicie: 'Disabled'");
    plant('modules/storageAccount.bicep', "publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'", "publicNetworkAccess: vnetEnabled ? 'Closed' : 'Enabled'");
    // The public side: the false branch of a switch.
    plant('modules/eventHubs.bicep', "publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'", "publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Open'");
    const result = check(copy);
    const at = (file: string, text: string) => result.findings.filter((finding) => finding.includes(`modules/${file}`) && finding.includes(text));
    expect(at('network.bicep', 'privateEndpointNetworkPolicie:'), result.output).toHaveLength(1);
    expect(at('storageAccount.bicep', "'Closed'"), result.output).toHaveLength(1);
    expect(at('eventHubs.bicep', "'Open'"), result.output).toHaveLength(1);
  });
});
