import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One scripted answer: stdout and exit code 0, or stderr and a non-zero code. */
export interface Answer {
  stdout?: string;
  stderr?: string;
  code?: number;
}

/** Calls whose arguments (joined by spaces) match `match` get `answers` in turn; the last one repeats. */
export interface Rule {
  match: string;
  answers: Answer[];
}

export interface FakeCli {
  /** PATH with the fake `az` and `azd` first. */
  path: string;
  /** Every call so far: the program and its arguments. */
  calls(): Promise<Array<{ program: string; args: string[] }>>;
  remove(): Promise<void>;
}

/**
 * Stand-ins for the Azure CLI and azd on PATH (nothing local can answer for Azure Resource Manager): real
 * executables that log their arguments and answer by rule, so the hook is run exactly as azd runs it.
 */
export async function fakeCli(rules: Rule[]): Promise<FakeCli> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-az-'));
  const log = join(dir, 'calls.jsonl');
  const state = join(dir, 'state.json');
  await writeFile(join(dir, 'rules.json'), JSON.stringify(rules));
  await writeFile(state, '{}');
  const script = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const dir = ${JSON.stringify(dir)};
const program = path.basename(process.argv[1]);
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ program, args }) + '\\n');
const rules = JSON.parse(fs.readFileSync(path.join(dir, 'rules.json'), 'utf8'));
const state = JSON.parse(fs.readFileSync(${JSON.stringify(state)}, 'utf8'));
const line = program + ' ' + args.join(' ');
const index = rules.findIndex((rule) => new RegExp(rule.match).test(line));
if (index < 0) { process.stderr.write('fake: no rule for: ' + line + '\\n'); process.exit(90); }
const seen = state[index] ?? 0;
state[index] = seen + 1;
fs.writeFileSync(${JSON.stringify(state)}, JSON.stringify(state));
const answers = rules[index].answers;
const answer = answers[Math.min(seen, answers.length - 1)];
if (answer.stdout) process.stdout.write(answer.stdout);
if (answer.stderr) process.stderr.write(answer.stderr);
process.exit(answer.code ?? 0);
`;
  for (const program of ['az', 'azd']) {
    await writeFile(join(dir, program), script);
    await chmod(join(dir, program), 0o755);
  }
  return {
    path: `${dir}:${process.env.PATH ?? ''}`,
    async calls() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((entry) => JSON.parse(entry) as { program: string; args: string[] });
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface HookRun {
  child: ChildProcess;
  /** Everything the hook printed so far. */
  output(): { stdout: string; stderr: string };
  /** Its exit code (null when a signal ended it), output and every fake CLI call; removes the fakes. */
  result: Promise<{ code: number | null; stdout: string; stderr: string; calls: Array<{ program: string; args: string[] }> }>;
}

/**
 * Runs `node infra/hooks/azd.mjs <name>` as azd runs a hook: a child process whose environment is the azd
 * environment's values (and nothing azd keeps to itself, such as AZURE_PRINCIPAL_ID), with the fakes first on PATH.
 */
export async function startHook(hook: string, name: string, env: Record<string, string>, rules: Rule[]): Promise<HookRun> {
  const cli = await fakeCli(rules);
  const child = spawn(process.execPath, [hook, name], { env: { PATH: cli.path, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const result = (async () => {
    const code = await new Promise<number | null>((done) => child.on('close', done));
    const calls = await cli.calls();
    await cli.remove();
    return { code, stdout, stderr, calls };
  })();
  return { child, output: () => ({ stdout, stderr }), result };
}
